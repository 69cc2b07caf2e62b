// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'clv.title': 'clv' }, en: { 'clv.title': 'clv' } });

export default {
  route: 'clv', title: 'clv.title', module: 'clv',
  async render(view) { view.textContent = 'clv'; },
};
