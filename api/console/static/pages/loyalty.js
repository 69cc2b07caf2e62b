// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'loyalty.title': 'loyalty' }, en: { 'loyalty.title': 'loyalty' } });

export default {
  route: 'loyalty', title: 'loyalty.title', module: 'loyalty',
  async render(view) { view.textContent = 'loyalty'; },
};
