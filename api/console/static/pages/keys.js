// API keys (admins): every key of the tenant (never a secret), a form to
// create one (its secret shown once, here), and revoking with a confirmation.
import { register, t } from '../i18n.js';
import { h, card, clear, table, field, showErrors } from '../ui.js';
import { dateTime } from '../format.js';

register({
  zh: {
    'keys.title': 'API 密钥', 'keys.name': '用途', 'keys.prefix': '前缀', 'keys.role': '角色', 'keys.created': '创建时间',
    'keys.createdBy': '创建人', 'keys.lastUsed': '最近使用', 'keys.status': '状态', 'keys.active': '有效', 'keys.revoked': '已吊销 {when}',
    'keys.revoke': '吊销', 'keys.confirm': '确认吊销“{name}”？使用它的系统会立即失去访问权限。', 'keys.yes': '确认吊销', 'keys.no': '取消',
    'keys.create': '新建密钥', 'keys.namePlaceholder': '例如：门店平板、数据分析', 'keys.secret': '新密钥只显示这一次，关闭或离开本页后无法再查看。请立即复制并妥善保存：',
    'keys.copy': '复制', 'keys.copied': '已复制', 'keys.done': '已吊销 {name}。', 'keys.unnamed': '（未命名）',
    'keys.hint': '每个密钥代表一个使用者或系统。角色决定它能做什么：管理员（全部）、客服专员（客户、互动、投诉）、分析员（查看、评分、导出）、只读（查看）。',
    'keys.self': '注意：吊销当前登录所用的密钥会立即退出控制台。', 'keys.never': '从未',
    'keys.role.ADMIN': '管理员', 'keys.role.AGENT': '客服专员', 'keys.role.ANALYST': '分析员', 'keys.role.VIEWER': '只读',
  },
  en: {
    'keys.title': 'API keys', 'keys.name': 'Name', 'keys.prefix': 'Prefix', 'keys.role': 'Role', 'keys.created': 'Created',
    'keys.createdBy': 'Created by', 'keys.lastUsed': 'Last used', 'keys.status': 'Status', 'keys.active': 'Active', 'keys.revoked': 'Revoked {when}',
    'keys.revoke': 'Revoke', 'keys.confirm': 'Revoke "{name}"? Whatever uses it loses access at once.', 'keys.yes': 'Revoke', 'keys.no': 'Cancel',
    'keys.create': 'Create a key', 'keys.namePlaceholder': 'e.g. store tablet, analytics', 'keys.secret': 'The new key is shown this once only: it cannot be seen again after you leave this page. Copy it and keep it safe now:',
    'keys.copy': 'Copy', 'keys.copied': 'Copied', 'keys.done': '{name} is revoked.', 'keys.unnamed': '(unnamed)',
    'keys.hint': 'One key per person or system. Its role decides what it can do: admin (everything), agent (customers, interactions, complaints), analyst (read, score, export), viewer (read).',
    'keys.self': 'Revoking the key you signed in with signs you out at once.', 'keys.never': 'never',
    'keys.role.ADMIN': 'Admin', 'keys.role.AGENT': 'Agent', 'keys.role.ANALYST': 'Analyst', 'keys.role.VIEWER': 'Viewer',
  },
});

const KEY = `id name prefix role { code label(lang: $lang) } createdAt createdBy lastUsedAt revokedAt`;
const LIST = `query AdminKeys($lang: Lang!) { apiKeys { ${KEY} } }`;
const CREATE = `mutation CreateApiKey($input: CreateApiKeyInput!, $lang: Lang!) {
  createApiKey(input: $input) { apiKey { ${KEY} } secret errors { field message code } } }`;
const REVOKE = `mutation RevokeApiKey($id: ID!, $lang: Lang!) { revokeApiKey(input: {id: $id}) { apiKey { ${KEY} } errors { field message code } } }`;
const ROLES = ['VIEWER', 'ANALYST', 'AGENT', 'ADMIN'];

function sorted(keys) {  // working keys first, newest first
  return [...keys].sort((a, b) => (a.revokedAt ? 1 : 0) - (b.revokedAt ? 1 : 0) || (b.createdAt > a.createdAt ? 1 : -1));
}

export default {
  route: 'keys', title: 'keys.title', module: null, minRole: 'ADMIN',
  async render(view, ctx) {
    const { apiKeys } = await ctx.gql(LIST, { lang: ctx.apiLang });
    const list = h('div');
    const notice = h('p.notice', { role: 'status', 'data-testid': 'keys-notice' });
    const problems = h('div.form-error', { role: 'alert', 'data-testid': 'keys-error' });

    async function reload() {
      const again = await ctx.gql(LIST, { lang: ctx.apiLang });
      draw(again.apiKeys);
    }

    function actions(key) {
      if (key.revokedAt) return '';
      const cell = h('span.key-actions');
      const ask = () => clear(cell,
        h('span.confirm', { 'data-testid': `key-confirm-text-${key.prefix}` }, t('keys.confirm', { name: key.name || key.prefix })), ' ',
        h('button.danger', { type: 'button', 'data-testid': `key-confirm-${key.prefix}`, 'data-write': true, onclick: async (event) => {
          event.target.disabled = true;
          problems.textContent = '';
          try {
            const { revokeApiKey } = await ctx.gql(REVOKE, { id: key.id, lang: ctx.apiLang });
            if (revokeApiKey.errors.length) { problems.textContent = revokeApiKey.errors.map((e) => e.message).join('; '); return; }
            notice.textContent = t('keys.done', { name: key.name || key.prefix });
            await reload();
          } catch (error) {
            problems.textContent = String(error.message || error);
          }
        } }, t('keys.yes')), ' ',
        h('button.secondary', { type: 'button', onclick: () => clear(cell, revoke) }, t('keys.no')));
      const revoke = h('button.danger', { type: 'button', 'data-testid': `key-revoke-${key.prefix}`, 'data-write': true, onclick: ask }, t('keys.revoke'));
      return clear(cell, revoke);
    }

    function draw(keys) {
      const rows = sorted(keys);
      const node = table([
        { label: t('keys.name'), value: (k) => k.name || t('keys.unnamed') },
        { label: t('keys.prefix'), value: (k) => h('code', {}, k.prefix) },
        { label: t('keys.role'), value: (k) => k.role.label },
        { label: t('keys.created'), value: (k) => dateTime(k.createdAt) },
        { label: t('keys.createdBy'), value: (k) => k.createdBy || '—' },
        { label: t('keys.lastUsed'), value: (k) => (k.lastUsedAt ? dateTime(k.lastUsedAt) : t('keys.never')) },
        { label: t('keys.status'), value: (k) => (k.revokedAt ? h('span.badge.bad', {}, t('keys.revoked', { when: dateTime(k.revokedAt) }))
          : h('span.badge.good', {}, t('keys.active'))) },
        { label: '', value: actions },
      ], rows, { testid: 'keys' });
      for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) {
        tr.dataset.prefix = rows[index].prefix;
        tr.dataset.revoked = String(Boolean(rows[index].revokedAt));
      }
      clear(list, node);
    }

    const name = h('input', { name: 'name', maxlength: 200, placeholder: t('keys.namePlaceholder'), 'data-testid': 'key-name' });
    const role = h('select', { name: 'role', 'data-testid': 'key-role' },
      ROLES.map((code) => h('option', { value: code, selected: code === 'VIEWER' }, t(`keys.role.${code}`))));
    const secret = h('div.notice', { 'data-testid': 'key-created' });
    const form = h('form.form', {
      'data-testid': 'create-key', 'data-write': true,
      onsubmit: async (event) => {
        event.preventDefault();
        clear(secret);
        const { createApiKey } = await ctx.gql(CREATE, { input: { name: name.value.trim(), role: role.value }, lang: ctx.apiLang });
        if (showErrors(form, createApiKey.errors)) return;
        const code = h('code.secret', { 'data-testid': 'new-key' }, createApiKey.secret);
        const copy = h('button.secondary', { type: 'button', onclick: async () => {
          try { await navigator.clipboard.writeText(createApiKey.secret); copy.textContent = t('keys.copied'); } catch { /* no clipboard over plain http: select it by hand */ }
        } }, t('keys.copy'));
        clear(secret, h('div.warning', { role: 'alert' }, t('keys.secret')), code, navigator.clipboard ? copy : null);
        name.value = '';
        await reload();
      },
    },
    field(t('keys.name'), name, 'name'),
    field(t('keys.role'), role, 'role'),
    h('button', { type: 'submit', 'data-testid': 'key-create' }, t('keys.create')));

    draw(apiKeys);
    view.append(
      h('p.hint', {}, t('keys.hint')),
      notice, problems,
      card(null, list, h('p.hint', {}, t('keys.self'))),
      card(t('keys.create'), form, secret));
  },
};
