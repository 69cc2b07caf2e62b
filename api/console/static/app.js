// The console's shell: sign-in, the menu (only the pages the key's role and
// the tenant's modules allow), the language switch and the router (#/route/param).
import { gql, session, setCsrf, SignedOut, resetCount, requestCount } from './gql.js';
import { t, register, getLang, setLang, apiLang } from './i18n.js';
import { setTenant } from './format.js';
import { h, clear, errorBox } from './ui.js';
import { disposeAll } from './charts.js';
import { PAGES } from './pages/registry.js';

const root = document.getElementById('app');
const state = window.__console;  // gql.js made it: requests, ready, route
let me = null;  // {role, tenant, modules: [{name, title, enabled}], platform}
let renders = 0;  // a newer navigation supersedes a render still waiting on the API

const RANK = { VIEWER: 0, ANALYST: 1, AGENT: 2, ADMIN: 3 };

function visible(page) {
  if (page.platform) return me.platform;
  if (me.platform) return false;
  if (page.module && !me.enabled.has(page.module)) return false;
  if (page.minRole && RANK[me.role] < RANK[page.minRole]) return false;
  return true;
}

// What every page gets: the API, who is signed in, what they may do.
function context(params) {
  return {
    gql, params, me, lang: getLang(), apiLang: apiLang(),
    role: me.role,
    can: (role) => !me.platform && RANK[me.role] >= RANK[role],  // hide controls the API would refuse anyway
    enabled: (module) => me.enabled.has(module),
    navigate: (hash) => { window.location.hash = hash; },
    reloadShell: () => boot(),  // after enabling a module: the menu changes
  };
}

async function loadMe() {
  const { payload } = await session('GET');
  if (!payload || !payload.signedIn) return null;
  setCsrf(payload.csrf);
  if (payload.role === 'PLATFORM') return { role: 'PLATFORM', platform: true, enabled: new Set(), tenant: null, modules: [] };
  const data = await gql(`query ConsoleShell($lang: Lang!) {
    me { tenant { slug name currency timezone locale } role { code label(lang: $lang) } enabledModules }
    modules { name title(lang: $lang) enabled }
  }`, { lang: apiLang() });
  setTenant(data.me.tenant);
  return { role: data.me.role.code, roleLabel: data.me.role.label, platform: false, tenant: data.me.tenant,
           enabled: new Set(data.me.enabledModules), modules: data.modules };
}

function signInForm(message) {
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, 'data-testid': 'signin-key' });
  const error = h('p.field-error', { role: 'alert', 'data-testid': 'signin-error' }, message || '');
  const form = h('form.signin', {
    onsubmit: async (event) => {
      event.preventDefault();
      const { response, payload } = await session('POST', { key: input.value });
      input.value = '';  // the key is not kept, not even in the page
      if (response.ok && payload && payload.signedIn) {
        setCsrf(payload.csrf);
        window.location.hash = '#/';
        boot();
      } else {
        error.textContent = (payload && payload.errors && payload.errors[0].extensions.code === 'UNAUTHENTICATED')
          ? t('signin.failed') : (payload && payload.errors ? payload.errors[0].message : t('app.error'));
      }
    },
  },
  h('h1', {}, t('signin.title')),
  h('label.field', {}, h('span.field-label', {}, t('signin.key')), input),
  error,
  h('button', { type: 'submit', 'data-testid': 'signin-submit' }, t('signin.submit')),
  h('p.hint', {}, t('signin.hint')),
  langButton());
  clear(root, h('main.signin-page', {}, form));
  input.focus();
}

function langButton() {
  return h('button.link.lang', { type: 'button', 'data-testid': 'lang-switch', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); boot(); } }, t('app.lang'));
}

async function signOut() {
  await session('DELETE');
  setCsrf(null);
  me = null;
  window.location.hash = '#/';
  signInForm();
}

function shell() {
  const nav = h('nav.menu', { 'data-testid': 'menu' }, PAGES.filter((p) => p.nav !== false && visible(p)).map((p) =>
    h('a', { href: `#/${p.route}`, 'data-route': p.route }, t(p.title))));
  const who = me.platform ? t('app.platform') : `${me.tenant.name} · ${me.roleLabel}`;
  const header = h('header.top', {},
    h('span.brand', {}, t('app.title')),
    h('span.who', { 'data-testid': 'who' }, who),
    langButton(),
    h('button.link', { type: 'button', 'data-testid': 'sign-out', onclick: signOut }, t('app.signOut')));
  const view = h('main.view', { id: 'view' });
  clear(root, header, h('div.body', {}, nav, view));
  return view;
}

async function route() {
  const view = document.getElementById('view');
  if (!view || !me) return;
  const [name = '', ...params] = window.location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const home = PAGES.find((p) => p.home && visible(p)) || PAGES.find((p) => visible(p) && p.nav !== false);
  const page = name ? PAGES.find((p) => p.route === name) : home;
  for (const a of document.querySelectorAll('nav.menu a')) a.classList.toggle('active', a.dataset.route === (page && page.route));
  disposeAll();
  delete view.dataset.ready;
  state.route = page ? page.route : name;
  resetCount();
  if (!page || !visible(page)) {
    renders += 1;
    clear(view, h('p.empty', { 'data-testid': 'not-found' }, t('app.notFound')));
    view.dataset.ready = 'true';
    return;
  }
  // The page is in the document while it renders: ECharts measures its nodes.
  const loading = h('p.loading', {}, t('app.loading'));
  const body = h('div.page', { 'data-page': page.route });
  clear(view, h('h1', {}, t(page.title)), loading, body);
  const started = performance.now();
  const generation = ++renders;
  try {
    await page.render(body, context(params));
    if (generation !== renders) return;
    loading.remove();
    // Charts some pages queue for just after render (setTimeout): let them
    // draw, and a frame pass, before saying ready.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  } catch (error) {
    if (generation !== renders) return;
    if (error instanceof SignedOut) { me = null; signInForm(); return; }
    clear(view, h('h1', {}, t(page.title)), errorBox(error));
  }
  if (generation !== renders) return;
  state.lastPage = { route: page.route, requests: requestCount(), ms: performance.now() - started };
  view.dataset.ready = 'true';
}

async function boot() {
  document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
  try {
    me = await loadMe();
  } catch (error) {
    if (error instanceof SignedOut) { me = null; } else { clear(root, errorBox(error)); return; }
  }
  if (!me) { signInForm(); return; }
  shell();
  await route();
}

window.addEventListener('hashchange', route);
boot();
export { register };
