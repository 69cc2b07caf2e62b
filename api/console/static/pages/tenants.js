// The platform key's page: every tenant, and a form to create one (its first
// admin key is shown once, here, and never again).
import { register, t } from '../i18n.js';
import { h, card, table, field, showErrors, clear } from '../ui.js';
import { dateTime } from '../format.js';

register({
  zh: { 'tenants.title': '租户', 'tenants.slug': '代码', 'tenants.name': '名称', 'tenants.currency': '币种',
        'tenants.timezone': '时区', 'tenants.locale': '语言', 'tenants.created': '创建时间', 'tenants.create': '新建租户',
        'tenants.created.key': '租户已创建。管理员密钥只显示这一次，请立即保存：' },
  en: { 'tenants.title': 'Tenants', 'tenants.slug': 'Slug', 'tenants.name': 'Name', 'tenants.currency': 'Currency',
        'tenants.timezone': 'Time zone', 'tenants.locale': 'Locale', 'tenants.created': 'Created', 'tenants.create': 'Create a tenant',
        'tenants.created.key': 'Tenant created. Its admin key is shown this once only; keep it now:' },
});

const columns = () => [
  { label: t('tenants.slug'), value: (r) => r.slug },
  { label: t('tenants.name'), value: (r) => r.name },
  { label: t('tenants.currency'), value: (r) => r.currency },
  { label: t('tenants.timezone'), value: (r) => r.timezone },
  { label: t('tenants.locale'), value: (r) => r.locale },
  { label: t('tenants.created'), value: (r) => dateTime(r.createdAt) },
];

const LIST = `{ tenants { slug name currency timezone locale createdAt } }`;
const CREATE = `mutation CreateTenant($input: CreateTenantInput!) {
  createTenant(input: $input) { tenant { slug } adminKey errors { field message code } } }`;

export default {
  route: 'tenants', title: 'tenants.title', platform: true, home: true,
  async render(view, ctx) {
    const { tenants } = await ctx.gql(LIST);
    const list = h('div', {}, table(columns(), tenants, { testid: 'tenants' }));
    const inputs = {
      slug: h('input', { name: 'slug', required: true }),
      name: h('input', { name: 'name', required: true }),
      currency: h('input', { name: 'currency', value: 'CNY' }),
      timezone: h('input', { name: 'timezone', value: 'Asia/Shanghai' }),
      locale: h('input', { name: 'locale', value: 'zh-CN' }),
    };
    const done = h('div.notice');
    const form = h('form.form', {
      'data-testid': 'create-tenant',
      onsubmit: async (event) => {
        event.preventDefault();
        const input = Object.fromEntries(Object.entries(inputs).map(([k, node]) => [k, node.value.trim()]));
        const { createTenant } = await ctx.gql(CREATE, { input });
        if (showErrors(form, createTenant.errors)) return;
        clear(done, t('tenants.created.key'), h('code.secret', { 'data-testid': 'new-admin-key' }, createTenant.adminKey));
        for (const node of Object.values(inputs)) if (node.name === 'slug' || node.name === 'name') node.value = '';
        const again = await ctx.gql(LIST);
        clear(list, table(columns(), again.tenants, { testid: 'tenants' }));
      },
    },
    Object.entries(inputs).map(([name, input]) => field(t(`tenants.${name}`), input, name)),
    h('button', { type: 'submit' }, t('tenants.create')));
    view.append(card(null, list), card(t('tenants.create'), form, done));
  },
};
