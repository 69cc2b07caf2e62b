// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'data.title': 'data' }, en: { 'data.title': 'data' } });

export default {
  route: 'data', title: 'data.title', module: null,
  async render(view) { view.textContent = 'data'; },
};
