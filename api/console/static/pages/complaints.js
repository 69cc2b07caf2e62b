// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'complaints.title': 'complaints' }, en: { 'complaints.title': 'complaints' } });

export default {
  route: 'complaints', title: 'complaints.title', module: 'complaints',
  async render(view) { view.textContent = 'complaints'; },
};
