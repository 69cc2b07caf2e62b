// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'overview.title': 'overview' }, en: { 'overview.title': 'overview' } });

export default {
  route: 'overview', title: 'overview.title', module: null, home: true,
  async render(view) { view.textContent = 'overview'; },
};
