// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'customer.title': 'customer' }, en: { 'customer.title': 'customer' } });

export default {
  route: 'customer', title: 'customer.title', module: null, nav: false,
  async render(view) { view.textContent = 'customer'; },
};
