// Modules: every installed module, whether it is on for the tenant, what it
// needs; an admin switches them and edits their settings in a form drawn from
// the module's own description of each setting (Module.settingFields).
import { register, t } from '../i18n.js';
import { h, showErrors } from '../ui.js';
import { settingsForm } from '../widgets/admin-settings.js';

register({
  zh: {
    'modules.title': '功能模块', 'modules.on': '已启用', 'modules.off': '未启用', 'modules.switch': '启用此模块',
    'modules.needs': '依赖：{list}', 'modules.settings': '设置', 'modules.saved': '设置已保存。',
    'modules.intro': '为本租户启用或停用功能模块。停用不会删除数据，重新启用后数据仍在。',
    'modules.introReadOnly': '本租户已安装的功能模块。只有管理员可以启用、停用或修改设置。',
    'modules.enabled': '已启用 {title}，菜单已更新。', 'modules.disabled': '已停用 {title}，数据已保留。',
    'modules.noSettings': '这个模块没有可设置的项目。', 'modules.count': '已启用 {on} / {all} 个模块',
    // The API describes modules in English; the built-in ones in Chinese here (others keep the API's text).
    'modules.about.rfm': '按最近一次消费、消费频次和消费金额为客户打分，并划分为命名的客户分群。',
    'modules.about.clv': '用 BG/NBD、Pareto/NBD、Gamma-Gamma 等模型预测客户未来的购买、存活概率和终身价值。',
    'modules.about.loyalty': '会员等级、带有效期的积分账户和奖励兑换。',
    'modules.about.complaints': '六步投诉与服务处理流程，含 SLA 时限和升级。',
    'modules.about.lifecycle': '根据本租户自己的回购间隔划分客户生命周期阶段，记录流失原因，生成召回名单。',
    'modules.about.satisfaction': '通过链接或电话做满意度调查，计算满意度指数及其驱动因素，低分自动转入投诉处理。',
    'modules.about.campaigns': '保存的客户分群、带对照组的营销活动、触发式消息和提升效果测量。',
    'modules.about.webhooks': '把业务事件推送到租户自己的系统：事务性发件箱和带签名的 Webhook。',
    'modules.about.birthdays': '在客户同意的渠道上排队生日祝福，由员工发送。',
  },
  en: {
    'modules.title': 'Modules', 'modules.on': 'On', 'modules.off': 'Off', 'modules.switch': 'Enabled',
    'modules.needs': 'Needs: {list}', 'modules.settings': 'Settings', 'modules.saved': 'Settings saved.',
    'modules.intro': 'Switch modules on or off for this tenant. Switching one off keeps its data: it is there again when switched back on.',
    'modules.introReadOnly': 'The modules installed for this tenant. Only an admin can switch them or change their settings.',
    'modules.enabled': '{title} is on; the menu is updated.', 'modules.disabled': '{title} is off; its data is kept.',
    'modules.noSettings': 'This module has no settings.', 'modules.count': '{on} of {all} modules on',
  },
});

const FIELDS = `path type nullable default description choices itemType minimum maximum exclusiveMinimum exclusiveMaximum`;
const LIST = `query AdminModules($lang: Lang!, $admin: Boolean!) {
  modules { name title(lang: $lang) description dependsOn enabled settings @include(if: $admin) settingFields { ${FIELDS} } } }`;
const MODULE = `name title(lang: $lang) description dependsOn enabled settings settingFields { ${FIELDS} }`;
const SWITCH = {
  on: `mutation EnableModule($name: String!, $lang: Lang!) { enableModule(input: {name: $name}) { module { ${MODULE} } errors { field message code } } }`,
  off: `mutation DisableModule($name: String!, $lang: Lang!) { disableModule(input: {name: $name}) { module { ${MODULE} } errors { field message code } } }`,
};
const CONFIGURE = `mutation ConfigureModule($name: String!, $settings: JSON!, $lang: Lang!) {
  configureModule(input: {name: $name, settings: $settings}) { module { ${MODULE} } errors { field message code } } }`;

// What the shell shows after it reloads (the menu changed): a message that survives the re-render.
let flash = null;

function moduleCard(module, titles, ctx) {
  const admin = ctx.can('ADMIN');
  const problems = h('div.form-error', { role: 'alert', 'data-testid': `module-error-${module.name}` });
  const state = h(`span.badge.${module.enabled ? 'good' : ''}`, { 'data-testid': `module-state-${module.name}` },
    module.enabled ? t('modules.on') : t('modules.off'));
  let control = null;
  if (admin) {
    const box = h('input', {
      type: 'checkbox', role: 'switch', checked: module.enabled, 'data-testid': `module-switch-${module.name}`, 'data-write': true,
      'aria-label': `${module.title}: ${t('modules.switch')}`,
      onchange: async () => {
        box.disabled = true;
        problems.textContent = '';
        const want = box.checked;
        let payload;
        try {
          const data = await ctx.gql(want ? SWITCH.on : SWITCH.off, { name: module.name, lang: ctx.apiLang });
          payload = want ? data.enableModule : data.disableModule;
        } catch (error) {
          payload = { errors: error.errors || [{ message: String(error.message || error) }] };
        }
        box.disabled = false;
        if (payload.errors.length) {
          box.checked = !want;
          problems.textContent = payload.errors.map((e) => e.message).join('; ');
          return;
        }
        flash = t(want ? 'modules.enabled' : 'modules.disabled', { title: module.title });
        await ctx.reloadShell();  // the menu shows the module's pages (or no longer does)
      },
    });
    control = h('label.switch', {}, box, h('span', {}, t('modules.switch')));
  }
  const needs = module.dependsOn.length
    ? h('p.hint', { 'data-testid': `module-needs-${module.name}` }, t('modules.needs', { list: module.dependsOn.map((n) => titles[n] || n).join('、') }))
    : null;
  let settings = null;
  if (admin) {
    const notice = h('p.notice', { role: 'status', 'data-testid': `module-saved-${module.name}` });
    const form = settingsForm(module.settingFields, module.settings, {
      testid: `module-settings-${module.name}`,
      empty: t('modules.noSettings'),
      onsave: async (values, formNode) => {
        notice.textContent = '';
        const data = await ctx.gql(CONFIGURE, { name: module.name, settings: values, lang: ctx.apiLang });
        const payload = data.configureModule;
        if (showErrors(formNode, payload.errors)) return null;
        notice.textContent = t('modules.saved');
        return payload.module.settings;
      },
    });
    settings = h('details.module-settings', {}, h('summary', {}, t('modules.settings')), form, notice);
  }
  return h('section.card.module', { 'data-testid': `module-${module.name}`, 'data-enabled': String(module.enabled) },
    h('div.module-head', {},
      h('h2', {}, module.title, ' ', h('code.module-name', {}, module.name)),
      state, control),
    h('p', {}, ctx.lang === 'zh' && t(`modules.about.${module.name}`) !== `modules.about.${module.name}` ? t(`modules.about.${module.name}`) : module.description),
    needs, problems, settings);
}

export default {
  route: 'modules', title: 'modules.title', module: null,
  async render(view, ctx) {
    const { modules } = await ctx.gql(LIST, { lang: ctx.apiLang, admin: ctx.can('ADMIN') });
    const titles = Object.fromEntries(modules.map((m) => [m.name, m.title]));
    const on = modules.filter((m) => m.enabled).length;
    const status = h('p.notice', { role: 'status', 'data-testid': 'modules-flash' }, flash || '');
    flash = null;
    view.append(
      h('p.hint', {}, ctx.can('ADMIN') ? t('modules.intro') : t('modules.introReadOnly')),
      h('p', { 'data-testid': 'modules-count' }, t('modules.count', { on, all: modules.length })),
      status,
      h('div.modules', {}, modules.map((m) => moduleCard(m, titles, ctx))));
  },
};
