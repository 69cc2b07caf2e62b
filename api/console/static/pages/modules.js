// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'modules.title': 'modules' }, en: { 'modules.title': 'modules' } });

export default {
  route: 'modules', title: 'modules.title', module: null,
  async render(view) { view.textContent = 'modules'; },
};
