// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'keys.title': 'keys' }, en: { 'keys.title': 'keys' } });

export default {
  route: 'keys', title: 'keys.title', module: null,
  async render(view) { view.textContent = 'keys'; },
};
