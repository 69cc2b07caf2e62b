// Chinese and English strings. Each page registers its own keys (prefixed
// with its route) beside its code; t(key, vars) looks one up in the current
// language, falling back to the other, then to the key itself.

const strings = { zh: {}, en: {} };
let lang = localStorage.getItem('guanxi.console.lang') || (navigator.language || 'zh').slice(0, 2);
if (!(lang in strings)) lang = 'zh';

export function register(dict) {
  for (const l of Object.keys(strings)) Object.assign(strings[l], dict[l] || {});
}

export function t(key, vars = {}) {
  const s = strings[lang][key] ?? strings[lang === 'zh' ? 'en' : 'zh'][key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? vars[name] : `{${name}}`));
}

export function getLang() { return lang; }
// The API's label(lang:) argument for the current language.
export function apiLang() { return lang === 'zh' ? 'ZH' : 'EN'; }

export function setLang(next) {
  lang = next in strings ? next : 'zh';
  localStorage.setItem('guanxi.console.lang', lang); // a preference, not a secret
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

register({
  zh: {
    'app.title': '关系 Guanxi 控制台', 'app.loading': '加载中…', 'app.signOut': '退出', 'app.lang': 'English',
    'app.error': '出错了', 'app.retry': '重试', 'app.notFound': '没有这个页面', 'app.empty': '暂无数据',
    'app.save': '保存', 'app.cancel': '取消', 'app.search': '搜索', 'app.previous': '上期', 'app.change': '环比',
    'app.readOnly': '只读', 'app.platform': '平台',
    'signin.title': '登录控制台', 'signin.key': 'API 密钥', 'signin.submit': '登录',
    'signin.hint': '密钥只用于登录，不会保存在浏览器中。', 'signin.failed': '密钥无效或已被吊销',
  },
  en: {
    'app.title': 'Guanxi Console', 'app.loading': 'Loading…', 'app.signOut': 'Sign out', 'app.lang': '中文',
    'app.error': 'Something went wrong', 'app.retry': 'Retry', 'app.notFound': 'No such page', 'app.empty': 'No data yet',
    'app.save': 'Save', 'app.cancel': 'Cancel', 'app.search': 'Search', 'app.previous': 'Previous', 'app.change': 'Change',
    'app.readOnly': 'Read only', 'app.platform': 'Platform',
    'signin.title': 'Sign in to the console', 'signin.key': 'API key', 'signin.submit': 'Sign in',
    'signin.hint': 'The key is used to sign in only; it is not kept in the browser.', 'signin.failed': 'Invalid or revoked key',
  },
});
