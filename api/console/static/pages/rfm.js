// PLACEHOLDER: not built yet (being built; must not stay a stub).
import { register } from '../i18n.js';

register({ zh: { 'rfm.title': 'rfm' }, en: { 'rfm.title': 'rfm' } });

export default {
  route: 'rfm', title: 'rfm.title', module: 'rfm',
  async render(view) { view.textContent = 'rfm'; },
};
