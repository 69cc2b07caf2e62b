// Complaints (投诉处理): the period's figures (opened, resolved, SLA compliance,
// breaches, escalations, response and resolution times, root causes, by
// category and by store) above a board of the cases still owed work, one
// column per workflow status, most urgent first. Agents and admins move a
// case a step from its card (route, reply, wait, resume, resolve, follow up,
// close); the API checks every step. One request per render.
import { register, t } from '../i18n.js';
import { h, card, stat, table, field, showErrors, clear, errorBox } from '../ui.js';
import { number, percent, dateTime } from '../format.js';
import { chart } from '../charts.js';

const STATUSES = ['RECEIVED', 'ROUTED', 'IN_PROGRESS', 'WAITING_ON_CUSTOMER', 'RESOLVED', 'FOLLOW_UP'];
const ALIAS = { RECEIVED: 'received', ROUTED: 'routed', IN_PROGRESS: 'inProgress', WAITING_ON_CUSTOMER: 'waiting',
                RESOLVED: 'resolved', FOLLOW_UP: 'followUp' };
const PERIODS = [7, 30, 90];
const PER_COLUMN = 50;

register({
  zh: {
    'complaints.title': '投诉处理', 'complaints.period': '统计周期', 'complaints.days': '近 {days} 天',
    'complaints.opened': '新增投诉', 'complaints.resolved': '已解决', 'complaints.sla': 'SLA 达标率',
    'complaints.sla.hint': '按时解决 ÷（按时解决 + 超时）', 'complaints.breaches': 'SLA 超时',
    'complaints.escalations': '升级', 'complaints.escalations.company': '其中公司级 {n}',
    'complaints.firstResponse': '首次响应（中位数）', 'complaints.resolution': '解决用时（中位数）',
    'complaints.p90': '90% 在 {value} 内', 'complaints.satisfaction': '回访满意度', 'complaints.reopen': '重开率',
    'complaints.rootCauses': '主要根因', 'complaints.byCategory': '按类别', 'complaints.byStore': '按门店',
    'complaints.cause': '根因', 'complaints.category': '类别', 'complaints.store': '门店', 'complaints.count': '件数',
    'complaints.noStore': '（未指定门店）',
    'complaints.board': '待处理投诉', 'complaints.board.hint': '仍需处理或回访的投诉，按 SLA 到期时间排序；每列最多显示 {n} 件。',
    'complaints.more': '另有 {n} 件未显示', 'complaints.none': '无',
    'status.RECEIVED': '已接收', 'status.ROUTED': '已分派', 'status.IN_PROGRESS': '处理中',
    'status.WAITING_ON_CUSTOMER': '等待客户', 'status.RESOLVED': '已解决（待回访）', 'status.FOLLOW_UP': '跟进回访',
    'complaints.customer': '客户', 'complaints.erased': '（已删除的客户）', 'complaints.openedAt': '接收于 {at}',
    'complaints.due.first': '首次响应截止 {at}', 'complaints.due.resolution': '解决截止 {at}',
    'complaints.paused': '已暂停计时（等待客户）', 'complaints.noSla': '无 SLA',
    'complaints.breached': 'SLA 超时', 'complaints.breached.first': '首次响应超时', 'complaints.breached.resolution': '解决超时',
    'complaints.level.1': '已升级：部门主管', 'complaints.level.2': '已升级：公司级',
    'complaints.assignee': '处理人 {who}', 'complaints.department': '部门 {name}',
    'priority.LOW': '低', 'priority.NORMAL': '普通', 'priority.HIGH': '高', 'priority.URGENT': '紧急',
    'complaints.act.route': '分派', 'complaints.act.update': '回复客户', 'complaints.act.wait': '等待客户',
    'complaints.act.resume': '恢复处理', 'complaints.act.resolve': '解决', 'complaints.act.followUp': '记录回访',
    'complaints.act.close': '结案', 'complaints.act.submit': '提交', 'complaints.act.cancel': '取消',
    'complaints.f.department': '部门', 'complaints.f.assignee': '处理人', 'complaints.f.note': '备注',
    'complaints.f.reply': '告知客户的内容', 'complaints.f.resolution': '解决方案', 'complaints.f.rootCause': '根因',
    'complaints.f.satisfaction': '满意度（1–5）', 'complaints.moved': '已更新',
    'complaints.min': '{n} 分钟', 'complaints.hours': '{h} 小时 {m} 分', 'complaints.daysHours': '{d} 天 {h} 小时',
  },
  en: {
    'complaints.title': 'Complaints', 'complaints.period': 'Period', 'complaints.days': 'Last {days} days',
    'complaints.opened': 'Cases opened', 'complaints.resolved': 'Resolved', 'complaints.sla': 'SLA compliance',
    'complaints.sla.hint': 'Resolved within SLA ÷ (that + breached)', 'complaints.breaches': 'SLA breaches',
    'complaints.escalations': 'Escalated', 'complaints.escalations.company': '{n} to company level',
    'complaints.firstResponse': 'First response (median)', 'complaints.resolution': 'Resolution time (median)',
    'complaints.p90': '90% within {value}', 'complaints.satisfaction': 'Follow-up satisfaction', 'complaints.reopen': 'Reopen rate',
    'complaints.rootCauses': 'Top root causes', 'complaints.byCategory': 'By category', 'complaints.byStore': 'By store',
    'complaints.cause': 'Root cause', 'complaints.category': 'Category', 'complaints.store': 'Store', 'complaints.count': 'Cases',
    'complaints.noStore': '(no store)',
    'complaints.board': 'Open cases', 'complaints.board.hint': 'Cases still owed work or a follow-up, soonest SLA due first; up to {n} per column.',
    'complaints.more': '{n} more not shown', 'complaints.none': 'None',
    'status.RECEIVED': 'Received', 'status.ROUTED': 'Routed', 'status.IN_PROGRESS': 'In progress',
    'status.WAITING_ON_CUSTOMER': 'Waiting on customer', 'status.RESOLVED': 'Resolved (to follow up)', 'status.FOLLOW_UP': 'Follow-up',
    'complaints.customer': 'Customer', 'complaints.erased': '(erased customer)', 'complaints.openedAt': 'Received {at}',
    'complaints.due.first': 'First response due {at}', 'complaints.due.resolution': 'Resolution due {at}',
    'complaints.paused': 'Clock paused (waiting on the customer)', 'complaints.noSla': 'No SLA',
    'complaints.breached': 'SLA breached', 'complaints.breached.first': 'First response late', 'complaints.breached.resolution': 'Resolution late',
    'complaints.level.1': 'Escalated: department head', 'complaints.level.2': 'Escalated: company level',
    'complaints.assignee': 'Handled by {who}', 'complaints.department': 'Department {name}',
    'priority.LOW': 'Low', 'priority.NORMAL': 'Normal', 'priority.HIGH': 'High', 'priority.URGENT': 'Urgent',
    'complaints.act.route': 'Route', 'complaints.act.update': 'Reply', 'complaints.act.wait': 'Wait on customer',
    'complaints.act.resume': 'Resume', 'complaints.act.resolve': 'Resolve', 'complaints.act.followUp': 'Record follow-up',
    'complaints.act.close': 'Close', 'complaints.act.submit': 'Submit', 'complaints.act.cancel': 'Cancel',
    'complaints.f.department': 'Department', 'complaints.f.assignee': 'Agent', 'complaints.f.note': 'Note',
    'complaints.f.reply': 'What the customer was told', 'complaints.f.resolution': 'Resolution', 'complaints.f.rootCause': 'Root cause',
    'complaints.f.satisfaction': 'Satisfaction (1–5)', 'complaints.moved': 'Updated',
    'complaints.min': '{n} min', 'complaints.hours': '{h} h {m} min', 'complaints.daysHours': '{d} d {h} h',
  },
});

const CASE_FIELDS = `id customerId customer { id name code } category priority status store department assignee
  description openedAt firstResponseAt firstResponseDue resolutionDue pausedSince
  firstResponseBreached resolutionBreached escalationLevel slaPolicy`;

const columnsQuery = STATUSES.map((s) => `${ALIAS[s]}: complaints(last: ${PER_COLUMN}, where: { status: [${s}] }) {
    totalCount edges { node { ${CASE_FIELDS} } } }`).join('\n  ');

const QUERY = `query ComplaintsPage($lang: Lang!, $from: DateTime!, $to: DateTime!) {
  complaintCategories { code label(lang: $lang) }
  ${columnsQuery}
  complaintStats(from: $from, to: $to) {
    totals { count resolvedEver slaMet slaBreached slaCompliance satisfactionAverage satisfactionCount reopenRate
             firstResponse { count medianMinutes p90Minutes } resolution { count medianMinutes p90Minutes } }
    escalations { escalated companyLevel }
    byCategory { key count } byStore { key count } topRootCauses { key count }
  }
}`;

// Each step a card offers, by status: the mutation, its input fields (named as the API's payload errors name them).
const STEPS = {
  route: { mutation: 'routeComplaint', input: 'RouteComplaintInput', fields: ['department', 'assignee', 'note'] },
  update: { mutation: 'addComplaintUpdate', input: 'AddComplaintUpdateInput', fields: ['note'], required: ['note'] },
  wait: { mutation: 'waitOnComplaintCustomer', input: 'ComplaintStepInput', fields: ['note'] },
  resume: { mutation: 'resumeComplaint', input: 'ComplaintStepInput', fields: ['note'] },
  resolve: { mutation: 'resolveComplaint', input: 'ResolveComplaintInput', fields: ['resolution', 'rootCause', 'note'] },
  followUp: { mutation: 'recordFollowUp', input: 'RecordFollowUpInput', fields: ['satisfaction', 'note'] },
  close: { mutation: 'closeComplaint', input: 'ComplaintStepInput', fields: ['note'] },
};
const ACTIONS = {
  RECEIVED: ['route', 'resolve'], ROUTED: ['update', 'route'], IN_PROGRESS: ['update', 'wait', 'resolve'],
  WAITING_ON_CUSTOMER: ['resume', 'resolve'], RESOLVED: ['followUp'], FOLLOW_UP: ['close'],
};

function minutes(value) {
  if (value === null || value === undefined) return '—';
  const m = Math.round(Number(value));
  if (m < 60) return t('complaints.min', { n: number(m) });
  if (m < 48 * 60) return t('complaints.hours', { h: Math.floor(m / 60), m: m % 60 });
  return t('complaints.daysHours', { d: Math.floor(m / 1440), h: Math.floor((m % 1440) / 60) });
}

function counts(rows, label, testid, keyLabel) {
  return table([
    { label: keyLabel, value: (r) => label(r.key) },
    { label: t('complaints.count'), value: (r) => number(r.count), className: 'num' },
  ], rows, { testid });
}

function figures(stats) {
  const s = stats.totals;
  const esc = stats.escalations;
  const escalated = stat(t('complaints.escalations'), number(esc.escalated), { testid: 'complaints-escalations' });
  escalated.append(h('div.stat-compare', {}, t('complaints.escalations.company', { n: number(esc.companyLevel) })));
  const first = stat(t('complaints.firstResponse'), minutes(s.firstResponse.medianMinutes), { testid: 'complaints-first-response' });
  if (s.firstResponse.count) first.append(h('div.stat-compare', {}, t('complaints.p90', { value: minutes(s.firstResponse.p90Minutes) })));
  const resolution = stat(t('complaints.resolution'), minutes(s.resolution.medianMinutes), { testid: 'complaints-resolution' });
  if (s.resolution.count) resolution.append(h('div.stat-compare', {}, t('complaints.p90', { value: minutes(s.resolution.p90Minutes) })));
  const sla = stat(t('complaints.sla'), percent(s.slaCompliance), { testid: 'complaints-sla' });
  sla.title = t('complaints.sla.hint');
  return h('div.stats', {},
    stat(t('complaints.opened'), number(s.count), { testid: 'complaints-opened' }),
    stat(t('complaints.resolved'), number(s.resolvedEver), { testid: 'complaints-resolved' }),
    sla,
    stat(t('complaints.breaches'), number(s.slaBreached), { testid: 'complaints-breaches' }),
    escalated, first, resolution,
    stat(t('complaints.satisfaction'), s.satisfactionCount ? `${number(s.satisfactionAverage, 1)} / 5` : '—', { testid: 'complaints-satisfaction' }),
    stat(t('complaints.reopen'), percent(s.reopenRate), { testid: 'complaints-reopen' }));
}

// The SLA clock that matters now: the first response until there is one, then the resolution.
function due(c) {
  if (!c.slaPolicy) return { text: t('complaints.noSla'), at: null };
  if (!c.firstResponseAt && c.firstResponseDue) return { text: t('complaints.due.first', { at: dateTime(c.firstResponseDue) }), at: c.firstResponseDue };
  if (c.pausedSince) return { text: t('complaints.paused'), at: null };
  if (c.resolutionDue) return { text: t('complaints.due.resolution', { at: dateTime(c.resolutionDue) }), at: c.resolutionDue };
  return { text: '', at: null };
}

function caseCard(c, categoryLabel, actions) {
  const breached = c.firstResponseBreached || c.resolutionBreached;
  const clock = due(c);
  const who = c.customer ? (c.customer.name || c.customer.code || c.customerId) : t('complaints.erased');
  const badges = h('div.cx-badges', {},
    h(`span.badge.${c.priority === 'URGENT' || c.priority === 'HIGH' ? 'warn' : 'plain'}`, { 'data-testid': 'case-priority' }, t(`priority.${c.priority}`)),
    breached ? h('span.badge.bad', {
      'data-testid': 'breach-badge',
      title: [c.firstResponseBreached && t('complaints.breached.first'), c.resolutionBreached && t('complaints.breached.resolution')].filter(Boolean).join(' · '),
    }, t('complaints.breached')) : null,
    c.escalationLevel > 0 ? h(`span.badge.${c.escalationLevel >= 2 ? 'bad' : 'warn'}`, { 'data-testid': 'escalation-badge' },
      t(`complaints.level.${Math.min(2, c.escalationLevel)}`)) : null);
  const description = c.description && c.description.length > 80 ? `${c.description.slice(0, 80)}…` : c.description;
  return h('article.cx-card', { 'data-testid': 'case-card', 'data-case': c.id, 'data-status': c.status, 'data-breached': breached ? 'true' : 'false' },
    h('div.cx-head', {},
      h('a', { href: `#/customer/${encodeURIComponent(c.customerId)}`, 'data-testid': 'case-customer' }, who),
      h('span.cx-category', {}, categoryLabel(c.category))),
    badges,
    description ? h('p.cx-text', {}, description) : null,
    h('div.cx-meta', {}, t('complaints.openedAt', { at: dateTime(c.openedAt) })),
    clock.text ? h(`div.cx-meta${breached ? '.late' : ''}`, { 'data-testid': 'case-due' }, clock.text) : null,
    c.store ? h('div.cx-meta', {}, `${t('complaints.store')}: ${c.store}`) : null,
    c.assignee ? h('div.cx-meta', {}, t('complaints.assignee', { who: c.assignee })) : null,
    c.department && !c.assignee ? h('div.cx-meta', {}, t('complaints.department', { name: c.department })) : null,
    actions);
}

function input(name) {
  if (name === 'satisfaction') return h('input', { name, type: 'number', min: 1, max: 5, step: 1 });
  if (name === 'resolution' || (name === 'note')) return h('textarea', { name, rows: 2 });
  return h('input', { name });
}

// The buttons of a card and the small form each opens (shown only to agents and admins).
function actionBar(c, ctx, reload) {
  const slot = h('div.cx-form');
  const open = (step) => {
    const spec = STEPS[step];
    const inputs = Object.fromEntries(spec.fields.map((name) => [name, input(name)]));
    const form = h('form.form.cx-step', {
      'data-testid': `form-${step}`,
      onsubmit: async (event) => {
        event.preventDefault();
        const values = { id: c.id };
        for (const [name, node] of Object.entries(inputs)) {
          const value = node.value.trim();
          if (value === '') continue;
          values[name] = name === 'satisfaction' ? Number(value) : value;
        }
        if (step === 'resolve') { values.resolution = values.resolution || ''; values.rootCause = values.rootCause || ''; }
        if (step === 'update') values.note = values.note || '';
        if (step === 'followUp' && values.satisfaction === undefined) values.satisfaction = 0;
        const submit = form.querySelector('button[type=submit]');
        submit.disabled = true;
        try {
          const data = await ctx.gql(`mutation Step($input: ${spec.input}!) { ${spec.mutation}(input: $input) {
            complaint { id status } errors { field message code } } }`, { input: values });
          if (showErrors(form, data[spec.mutation].errors)) return;
          await reload();
        } catch (error) {
          clear(slot, errorBox(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('div.form-error', { role: 'alert' }),
    spec.fields.map((name) => field(t(name === 'note' && step === 'update' ? 'complaints.f.reply' : `complaints.f.${name}`), inputs[name], name)),
    h('div.toolbar', {},
      h('button', { type: 'submit', 'data-testid': 'step-submit' }, t('complaints.act.submit')),
      h('button.secondary', { type: 'button', onclick: () => clear(slot) }, t('complaints.act.cancel'))));
    clear(slot, form);
    const first = form.querySelector('input, textarea');
    if (first) first.focus();
  };
  return h('div.cx-actions', { 'data-write': true },
    h('div.toolbar', {}, ACTIONS[c.status].map((step) =>
      h('button.secondary', { type: 'button', 'data-testid': `action-${step}`, onclick: () => open(step) }, t(`complaints.act.${step}`)))),
    slot);
}

function board(data, categoryLabel, ctx, reload) {
  const dueAt = (c) => { const at = due(c).at; return at ? Date.parse(at) : Infinity; };
  return h('div.cx-board', { 'data-testid': 'complaints-board' }, STATUSES.map((status) => {
    const column = data[ALIAS[status]];
    const cases = column.edges.map((e) => e.node).sort((a, b) => dueAt(a) - dueAt(b) || Date.parse(a.openedAt) - Date.parse(b.openedAt));
    const hidden = column.totalCount - cases.length;
    return h('section.cx-column', { 'data-testid': 'board-column', 'data-status': status },
      h('h3', {}, t(`status.${status}`), ' ', h('span.badge', { 'data-testid': 'column-count' }, number(column.totalCount))),
      cases.length ? cases.map((c) => caseCard(c, categoryLabel, ctx.can('AGENT') ? actionBar(c, ctx, reload) : null))
        : h('p.empty', {}, t('complaints.none')),
      hidden > 0 ? h('p.hint', {}, t('complaints.more', { n: number(hidden) })) : null);
  }));
}

export default {
  route: 'complaints', title: 'complaints.title', module: 'complaints',
  async render(view, ctx) {
    const days = PERIODS.includes(Number(ctx.params[0])) ? Number(ctx.params[0]) : 30;
    const to = new Date();
    const from = new Date(to.getTime() - days * 86400000);
    const variables = { lang: ctx.apiLang, from: from.toISOString(), to: to.toISOString() };

    const period = h('select', {
      'data-testid': 'complaints-period',
      onchange: (event) => ctx.navigate(`#/complaints/${event.target.value}`),
    }, PERIODS.map((d) => h('option', { value: d, selected: d === days }, t('complaints.days', { days: d }))));
    const top = h('div');
    const boardSlot = h('div');

    const draw = (data) => {
      const labels = new Map(data.complaintCategories.map((c) => [c.code, c.label]));
      const categoryLabel = (code) => labels.get(code) || code;
      const stats = data.complaintStats;
      const causes = h('div.chart', { 'data-testid': 'complaints-causes-chart' });
      clear(top,
        figures(stats),
        h('div.grid', {},
          card(t('complaints.rootCauses'), stats.topRootCauses.length ? causes : null,
            counts(stats.topRootCauses, (k) => k, 'complaints-root-causes', t('complaints.cause'))),
          card(t('complaints.byCategory'), counts(stats.byCategory, categoryLabel, 'complaints-by-category', t('complaints.category'))),
          card(t('complaints.byStore'), counts(stats.byStore, (k) => k || t('complaints.noStore'), 'complaints-by-store', t('complaints.store')))));
      clear(boardSlot, board(data, categoryLabel, ctx, reload));
      if (stats.topRootCauses.length) {
        const rows = [...stats.topRootCauses].reverse();
        chart(causes, {
          grid: { left: 8, right: 30, top: 10, bottom: 30, containLabel: true },  // room for the names as drawn
          // The cause (free text, cut on the axis) as a DOM node: never parsed as HTML.
          tooltip: { trigger: 'axis', confine: true, formatter: (items) => h('div', {}, `${items[0].name}: ${number(items[0].value)}`) },
          xAxis: { type: 'value', minInterval: 1 },
          yAxis: { type: 'category', data: rows.map((r) => r.key), axisLabel: { width: 110, overflow: 'truncate' } },
          series: [{ type: 'bar', data: rows.map((r) => r.count), itemStyle: { color: '#c2185b' } }],
        });
      }
    };
    async function reload() {
      draw(await ctx.gql(QUERY, variables));
    }

    // In the page before drawing: a chart measures its container when it is made.
    view.append(
      h('div.toolbar', {}, h('label', {}, `${t('complaints.period')} `, period)),
      top,
      card(t('complaints.board'), h('p.hint', {}, t('complaints.board.hint', { n: PER_COLUMN })), boardSlot));
    draw(await ctx.gql(QUERY, variables));
  },
};
