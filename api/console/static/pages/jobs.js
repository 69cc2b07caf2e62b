// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'jobs.title': 'jobs' }, en: { 'jobs.title': 'jobs' } });

export default {
  route: 'jobs', title: 'jobs.title', module: null,
  async render(view) { view.textContent = 'jobs'; },
};
