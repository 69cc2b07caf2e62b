// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'customers.title': 'customers' }, en: { 'customers.title': 'customers' } });

export default {
  route: 'customers', title: 'customers.title', module: null,
  async render(view) { view.textContent = 'customers'; },
};
