// Lifecycle and churn (生命周期): customers per retention stage from the last
// stage run, the moves between stages over the last 30 or 90 days, why
// customers left (churn reasons recorded in the window), who to call today
// (the work list ranked by value at risk) and the win-back lists with their
// outcome. One request; the heavy analytics (cohorts, rates, validation read
// the whole purchase history) are left to the CLI and the API.
import { register, t } from '../i18n.js';
import { h, card, stat, table, field, showErrors, clear } from '../ui.js';
import { money, number, percent, date, dateTime } from '../format.js';
import { chart } from '../charts.js';

register({
  zh: {
    'lifecycle.title': '生命周期', 'lifecycle.window': '时间范围', 'lifecycle.window.30': '近 30 天', 'lifecycle.window.90': '近 90 天',
    'lifecycle.none': '还没有生命周期阶段：阶段任务运行后即可看到（定时任务，或 guanxi lifecycle stages）。',
    'lifecycle.staged': '已分阶段客户', 'lifecycle.asOf': '数据截至', 'lifecycle.medianGap': '回购间隔中位数', 'lifecycle.days': '{n} 天',
    'lifecycle.stages': '各阶段客户', 'lifecycle.stage': '阶段', 'lifecycle.customers': '客户数', 'lifecycle.share': '占比',
    'lifecycle.rules': '规则：{gaps} 个回购间隔推算；预期间隔的 {atRisk} 倍未购为有流失风险，{lapsed} 倍为沉睡，{churned} 倍为已流失；只买过一次的客户 {oAtRisk} / {oLapsed} / {oChurned} 天。',
    'lifecycle.transitions': '阶段变化（{window}）', 'lifecycle.from': '从 ↓ 到 →', 'lifecycle.moves': '次变化',
    'lifecycle.transitions.hint': '每格为从该行阶段转到该列阶段的次数（一位客户可能变化多次）；不含首次分阶段。',
    'lifecycle.noMoves': '这段时间没有阶段变化',
    'lifecycle.reasons': '流失原因（{window}）', 'lifecycle.reason': '原因', 'lifecycle.count': '记录数', 'lifecycle.recorded': '记录的原因',
    'lifecycle.side.COMPANY': '公司方', 'lifecycle.side.CUSTOMER': '客户方', 'lifecycle.side': '责任方',
    'lifecycle.byStore': '按门店', 'lifecycle.store': '门店', 'lifecycle.noStore': '（无门店）',
    'lifecycle.noReasons': '这段时间没有记录流失原因',
    'lifecycle.work': '待跟进客户', 'lifecycle.work.hint': '按风险价值排序的前 {n} 位客户（新客、活跃、有流失风险、沉睡、已挽回；已流失客户在召回名单中）。',
    'lifecycle.rank': '#', 'lifecycle.customer': '客户', 'lifecycle.risk': '流失风险', 'lifecycle.valueAtRisk': '风险价值',
    'lifecycle.owner': '专属服务', 'lifecycle.lastPurchase': '最近购买', 'lifecycle.unnamed': '（未命名）', 'lifecycle.deleted': '（已删除）',
    'lifecycle.noWork': '没有待跟进的客户',
    'lifecycle.winback': '召回名单', 'lifecycle.winback.hint': '名单生成时所有沉睡和已流失客户按净消费分为“召回”和“放弃”两组；放弃组是对照。',
    'lifecycle.list': '名单', 'lifecycle.created': '生成时间', 'lifecycle.threshold': '价值门槛', 'lifecycle.windowDays': '观察期',
    'lifecycle.status': '状态', 'lifecycle.complete': '已结束', 'lifecycle.open': '进行中',
    'lifecycle.seg.WIN_BACK': '召回组', 'lifecycle.seg.LET_GO': '放弃组', 'lifecycle.wonBack': '{won} / {all} 位回购',
    'lifecycle.revenue': '回购金额', 'lifecycle.noLists': '还没有召回名单',
    'lifecycle.create': '生成召回名单', 'lifecycle.name': '名称', 'lifecycle.threshold.hint': '留空：按设置或名单价值中位数',
    'lifecycle.windowDays.hint': '留空：按设置（默认 90 天）', 'lifecycle.created.ok': '已生成召回名单“{name}”',
  },
  en: {
    'lifecycle.title': 'Lifecycle', 'lifecycle.window': 'Window', 'lifecycle.window.30': 'Last 30 days', 'lifecycle.window.90': 'Last 90 days',
    'lifecycle.none': 'No lifecycle stages yet: they appear after the stage run (the periodic job, or guanxi lifecycle stages).',
    'lifecycle.staged': 'Customers staged', 'lifecycle.asOf': 'As of', 'lifecycle.medianGap': 'Median repurchase gap', 'lifecycle.days': '{n} days',
    'lifecycle.stages': 'Customers per stage', 'lifecycle.stage': 'Stage', 'lifecycle.customers': 'Customers', 'lifecycle.share': 'Share',
    'lifecycle.rules': 'Rules from {gaps} repurchase gaps: at risk after {atRisk}× the expected gap without a purchase, lapsed after {lapsed}×, churned after {churned}×; one-time buyers after {oAtRisk} / {oLapsed} / {oChurned} days.',
    'lifecycle.transitions': 'Stage changes ({window})', 'lifecycle.from': 'From ↓ to →', 'lifecycle.moves': 'changes',
    'lifecycle.transitions.hint': "Each cell counts moves from the row's stage to the column's (a customer may move more than once); first stages not included.",
    'lifecycle.noMoves': 'No stage changes in this window',
    'lifecycle.reasons': 'Churn reasons ({window})', 'lifecycle.reason': 'Reason', 'lifecycle.count': 'Recorded', 'lifecycle.recorded': 'Reasons recorded',
    'lifecycle.side.COMPANY': 'Company side', 'lifecycle.side.CUSTOMER': 'Customer side', 'lifecycle.side': 'Side',
    'lifecycle.byStore': 'By store', 'lifecycle.store': 'Store', 'lifecycle.noStore': '(no store)',
    'lifecycle.noReasons': 'No churn reasons recorded in this window',
    'lifecycle.work': 'Who to call', 'lifecycle.work.hint': 'The top {n} customers by value at risk (new, active, at risk, lapsed, won back; churned customers are on the win-back lists).',
    'lifecycle.rank': '#', 'lifecycle.customer': 'Customer', 'lifecycle.risk': 'Churn risk', 'lifecycle.valueAtRisk': 'Value at risk',
    'lifecycle.owner': 'Served by', 'lifecycle.lastPurchase': 'Last purchase', 'lifecycle.unnamed': '(no name)', 'lifecycle.deleted': '(deleted)',
    'lifecycle.noWork': 'No customers to call',
    'lifecycle.winback': 'Win-back lists', 'lifecycle.winback.hint': 'Every lapsed and churned customer when the list was made, split by net spend into win back and let go; the let-go half is the comparison.',
    'lifecycle.list': 'List', 'lifecycle.created': 'Made', 'lifecycle.threshold': 'Value threshold', 'lifecycle.windowDays': 'Window',
    'lifecycle.status': 'Status', 'lifecycle.complete': 'Complete', 'lifecycle.open': 'Open',
    'lifecycle.seg.WIN_BACK': 'Win back', 'lifecycle.seg.LET_GO': 'Let go', 'lifecycle.wonBack': '{won} of {all} came back',
    'lifecycle.revenue': 'Revenue since', 'lifecycle.noLists': 'No win-back lists yet',
    'lifecycle.create': 'Make a win-back list', 'lifecycle.name': 'Name', 'lifecycle.threshold.hint': "Empty: the setting, else the list's median value",
    'lifecycle.windowDays.hint': 'Empty: the setting (90 days by default)', 'lifecycle.created.ok': 'Win-back list “{name}” made',
  },
});

const WINDOWS = ['30', '90'];
const WORK = 20;
const STAGE_COLORS = {
  PROSPECT: '#b0bec5', NEW: '#64b5f6', ACTIVE: '#43a047', AT_RISK: '#ffa726', LAPSED: '#ef6c00', CHURNED: '#c62828', WON_BACK: '#8e24aa',
};

const LIST_FIELDS = `id name valueThreshold windowDays createdAt createdBy complete
  outcomeBySegment { segment customers value wonBack wonBackShare revenue }`;

const QUERY = `query LifecyclePage($from: DateTime!, $lang: Lang!) {
  lifecycleStages {
    asOf computedAt customers
    stages { stage { code label(lang: $lang) } customers share }
    thresholds { atRiskFactor lapsedFactor churnedFactor oneTimeBuyerAtRiskDays oneTimeBuyerLapsedDays oneTimeBuyerChurnedDays medianGapDays gaps }
  }
  lifecycleTransitions(from: $from) { month flows { fromStage { code } toStage { code } customers } }
  lifecycleChurnReasons { code label(lang: $lang) side }
  lifecycleChurnReport(from: $from) { total byReason { key count } bySide { key count } byStore { key count } }
  lifecycleWorkList(first: ${WORK}) {
    rank customerId stage risk valueAtRisk store owner lastPurchaseAt customer { id name code }
  }
  lifecycleWinbackLists(first: 10) { edges { node { ${LIST_FIELDS} } } }
}`;

const CREATE = `mutation CreateWinbackList($input: CreateLifecycleWinbackListInput!) {
  createLifecycleWinbackList(input: $input) { winbackList { ${LIST_FIELDS} } errors { field message code } }
}`;

function toolbar(windowDays) {
  return h('div.toolbar.lifecycle-toolbar', { role: 'group', 'aria-label': t('lifecycle.window') },
    WINDOWS.map((w) => h(`a.button${w === windowDays ? '.active' : ''}`, {
      href: `#/lifecycle/${w}`, 'data-testid': `lifecycle-window-${w}`, 'aria-current': w === windowDays ? 'true' : null,
    }, t(`lifecycle.window.${w}`))));
}

// Moves summed over the months of the window: Map "FROM>TO" -> count.
function sumFlows(months) {
  const moves = new Map();
  for (const month of months) {
    for (const f of month.flows) {
      if (!f.fromStage) continue;
      const key = `${f.fromStage.code}>${f.toStage.code}`;
      moves.set(key, (moves.get(key) || 0) + f.customers);
    }
  }
  return moves;
}

function transitionMatrix(stages, moves, label) {
  const codes = stages.map((s) => s.stage.code);
  const used = codes.filter((c) => codes.some((o) => moves.has(`${c}>${o}`) || moves.has(`${o}>${c}`)));
  if (!used.length) return h('p.empty', { 'data-testid': 'lifecycle-transitions' }, t('lifecycle.noMoves'));
  return h('div.lifecycle-scroll', {}, h('table.data.lifecycle-matrix', { 'data-testid': 'lifecycle-transitions' },
    h('thead', {}, h('tr', {}, h('th', {}, t('lifecycle.from')), used.map((c) => h('th.num', {}, label(c))))),
    h('tbody', {}, used.map((from) => h('tr', { 'data-from': from },
      h('th', {}, label(from)),
      used.map((to) => {
        const n = moves.get(`${from}>${to}`) || 0;
        return h('td.num', { 'data-to': to, class: n ? 'num lifecycle-moved' : 'num lifecycle-zero' }, n ? number(n) : '·');
      }))))));
}

function riskBadge(risk) {
  return h(`span.badge.${risk >= 0.5 ? 'bad' : risk >= 0.2 ? 'warn' : 'good'}`, {}, percent(risk));
}

function workList(items, label) {
  const node = table([
    { label: t('lifecycle.rank'), value: (w) => number(w.rank), className: 'num' },
    { label: t('lifecycle.customer'), value: (w) => (w.customer
      ? h('a', { href: `#/customer/${encodeURIComponent(w.customer.id)}`, 'data-testid': 'lifecycle-work-customer' },
        w.customer.name || w.customer.code || t('lifecycle.unnamed'))
      : t('lifecycle.deleted')) },
    { label: t('lifecycle.stage'), value: (w) => label(w.stage.toUpperCase()) },
    { label: t('lifecycle.risk'), value: (w) => riskBadge(w.risk), className: 'num' },
    { label: t('lifecycle.valueAtRisk'), value: (w) => money(w.valueAtRisk), className: 'num' },
    { label: t('lifecycle.store'), value: (w) => w.store || '—' },
    { label: t('lifecycle.owner'), value: (w) => w.owner || '—' },
    { label: t('lifecycle.lastPurchase'), value: (w) => date(w.lastPurchaseAt) },
  ], items, { testid: 'lifecycle-work', empty: t('lifecycle.noWork') });
  for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) tr.dataset.customer = items[index].customerId;
  return node;
}

function outcome(list, segment) {
  const o = list.outcomeBySegment.find((s) => s.segment === segment);
  if (!o) return '—';
  return h('span', {}, t('lifecycle.wonBack', { won: number(o.wonBack), all: number(o.customers) }),
    o.wonBackShare === null ? '' : h('strong', {}, ` ${percent(o.wonBackShare)}`),
    h('div.hint', {}, `${t('lifecycle.revenue')} ${money(o.revenue)}`));
}

function winbackTable(lists) {
  const node = table([
    { label: t('lifecycle.list'), value: (l) => h('span', {}, h('strong', {}, l.name), h('div.hint', {}, l.createdBy)) },
    { label: t('lifecycle.created'), value: (l) => dateTime(l.createdAt) },
    { label: t('lifecycle.threshold'), value: (l) => money(l.valueThreshold), className: 'num' },
    { label: t('lifecycle.windowDays'), value: (l) => t('lifecycle.days', { n: number(l.windowDays) }), className: 'num' },
    { label: t('lifecycle.status'), value: (l) => h(`span.badge${l.complete ? '' : '.warn'}`, {}, t(l.complete ? 'lifecycle.complete' : 'lifecycle.open')) },
    { label: t('lifecycle.seg.WIN_BACK'), value: (l) => outcome(l, 'WIN_BACK') },
    { label: t('lifecycle.seg.LET_GO'), value: (l) => outcome(l, 'LET_GO') },
  ], lists, { testid: 'lifecycle-winback', empty: t('lifecycle.noLists') });
  for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) tr.dataset.list = lists[index].id;
  return node;
}

function createForm(ctx, onCreated) {
  const name = h('input', { name: 'name', maxlength: 200, required: true, 'data-testid': 'lifecycle-winback-name' });
  const threshold = h('input', { name: 'valueThreshold', inputmode: 'decimal', placeholder: t('lifecycle.threshold.hint'), 'data-testid': 'lifecycle-winback-threshold' });
  const windowDays = h('input', { name: 'windowDays', type: 'number', min: 1, step: 1, placeholder: t('lifecycle.windowDays.hint'), 'data-testid': 'lifecycle-winback-window' });
  const notice = h('p.notice', { role: 'status', 'data-testid': 'lifecycle-winback-notice' });
  const form = h('form.form', {
    'data-testid': 'lifecycle-winback-create', 'data-write': true,
    onsubmit: async (event) => {
      event.preventDefault();
      notice.textContent = '';
      const input = { name: name.value.trim() };
      if (threshold.value.trim()) input.valueThreshold = threshold.value.trim();
      if (windowDays.value.trim()) input.windowDays = Number(windowDays.value);
      const { createLifecycleWinbackList: result } = await ctx.gql(CREATE, { input });
      if (showErrors(form, result.errors)) return;
      notice.textContent = t('lifecycle.created.ok', { name: result.winbackList.name });
      form.reset();
      onCreated(result.winbackList);
    },
  },
  h('div.form-error', { role: 'alert' }),
  field(t('lifecycle.name'), name, 'name'),
  field(t('lifecycle.threshold'), threshold, 'valueThreshold'),
  field(t('lifecycle.windowDays'), windowDays, 'windowDays'),
  h('button', { type: 'submit', 'data-testid': 'lifecycle-winback-submit' }, t('lifecycle.create')));
  return h('div', { 'data-write': true }, h('h2', {}, t('lifecycle.create')), form, notice);
}

export default {
  route: 'lifecycle', title: 'lifecycle.title', module: 'lifecycle',
  async render(view, ctx) {
    const windowDays = WINDOWS.includes(ctx.params[0]) ? ctx.params[0] : WINDOWS[0];
    const from = new Date(Date.now() - Number(windowDays) * 86400000).toISOString();
    const data = await ctx.gql(QUERY, { from, lang: ctx.apiLang });
    const staged = data.lifecycleStages;
    const windowLabel = t(`lifecycle.window.${windowDays}`);

    const labels = new Map((staged ? staged.stages : []).map((s) => [s.stage.code, s.stage.label]));
    const label = (code) => labels.get(code) || code;

    view.append(toolbar(windowDays));

    // Stages.
    if (!staged) {
      view.append(card(t('lifecycle.stages'), h('p.empty', { 'data-testid': 'lifecycle-none' }, t('lifecycle.none'))));
    } else {
      const th = staged.thresholds;
      const figures = h('div.stats', {},
        stat(t('lifecycle.staged'), number(staged.customers), { testid: 'lifecycle-staged' }),
        stat(t('lifecycle.asOf'), dateTime(staged.asOf), { testid: 'lifecycle-as-of' }),
        stat(t('lifecycle.medianGap'), t('lifecycle.days', { n: number(th.medianGapDays, 1) }), { testid: 'lifecycle-median-gap' }));
      const stageTable = h('table.data', { 'data-testid': 'lifecycle-stages' },
        h('thead', {}, h('tr', {}, h('th', {}, t('lifecycle.stage')), h('th.num', {}, t('lifecycle.customers')), h('th.num', {}, t('lifecycle.share')))),
        h('tbody', {}, staged.stages.map((s) => h('tr', { 'data-stage': s.stage.code },
          h('td', {}, h('span.lifecycle-swatch', { style: `background:${STAGE_COLORS[s.stage.code] || '#999'}` }), s.stage.label),
          h('td.num', { 'data-testid': 'stage-customers' }, number(s.customers)),
          h('td.num', { 'data-testid': 'stage-share' }, percent(s.share))))));
      const stageChart = h('div.chart', { 'data-testid': 'lifecycle-stage-chart' });
      view.append(figures, card(t('lifecycle.stages'),
        h('div.lifecycle-stages', {}, stageTable, stageChart),
        h('p.hint', {}, t('lifecycle.rules', {
          gaps: number(th.gaps), atRisk: number(th.atRiskFactor, 2), lapsed: number(th.lapsedFactor, 2), churned: number(th.churnedFactor, 2),
          oAtRisk: number(th.oneTimeBuyerAtRiskDays), oLapsed: number(th.oneTimeBuyerLapsedDays), oChurned: number(th.oneTimeBuyerChurnedDays),
        }))));
      const rows = staged.stages;
      chart(stageChart, {
        grid: { left: 96, right: 64, top: 8, bottom: 8, containLabel: false },
        tooltip: {
          trigger: 'item', confine: true,
          formatter: (p) => {
            const s = rows[p.dataIndex];
            return h('div', {}, h('b', {}, s.stage.label), h('div', {}, `${number(s.customers)} · ${percent(s.share)}`));
          },
        },
        xAxis: { type: 'value', axisLabel: { show: false }, splitLine: { show: false } },
        yAxis: { type: 'category', inverse: true, data: rows.map((s) => s.stage.label), axisTick: { show: false } },
        series: [{
          type: 'bar', barMaxWidth: 22,
          data: rows.map((s) => ({ value: s.customers, itemStyle: { color: STAGE_COLORS[s.stage.code] || '#999' } })),
          label: { show: true, position: 'right', formatter: (p) => percent(rows[p.dataIndex].share) },
        }],
      });
    }

    // Transitions.
    const moves = sumFlows(data.lifecycleTransitions);
    const total = [...moves.values()].reduce((a, b) => a + b, 0);
    view.append(card(t('lifecycle.transitions', { window: windowLabel }),
      h('p', { 'data-testid': 'lifecycle-moves' }, h('strong', {}, number(total)), ` ${t('lifecycle.moves')}`),
      transitionMatrix(staged ? staged.stages : [], moves, label),
      h('p.hint', {}, t('lifecycle.transitions.hint'))));

    // Churn reasons.
    const report = data.lifecycleChurnReport;
    const reasons = new Map(data.lifecycleChurnReasons.map((r) => [r.code, r]));
    const reasonName = (code) => (reasons.get(code) ? reasons.get(code).label : code);
    const reasonSlot = report.total ? h('div.lifecycle-reasons', {},
      table([
        { label: t('lifecycle.reason'), value: (r) => reasonName(r.key) },
        { label: t('lifecycle.side'), value: (r) => (reasons.get(r.key) ? t(`lifecycle.side.${reasons.get(r.key).side}`) : '—') },
        { label: t('lifecycle.count'), value: (r) => number(r.count), className: 'num' },
        { label: t('lifecycle.share'), value: (r) => percent(r.count / report.total), className: 'num' },
      ], report.byReason, { testid: 'lifecycle-reasons' }),
      h('div', {},
        table([
          { label: t('lifecycle.side'), value: (r) => t(`lifecycle.side.${r.key}`) },
          { label: t('lifecycle.count'), value: (r) => number(r.count), className: 'num' },
        ], report.bySide, { testid: 'lifecycle-sides' }),
        h('h3', {}, t('lifecycle.byStore')),
        table([
          { label: t('lifecycle.store'), value: (r) => r.key || t('lifecycle.noStore') },
          { label: t('lifecycle.count'), value: (r) => number(r.count), className: 'num' },
        ], report.byStore.slice(0, 10), { testid: 'lifecycle-reason-stores' })))
      : h('p.empty', { 'data-testid': 'lifecycle-reasons' }, t('lifecycle.noReasons'));
    view.append(card(t('lifecycle.reasons', { window: windowLabel }),
      h('div.stats', {}, stat(t('lifecycle.recorded'), number(report.total), { testid: 'lifecycle-reasons-total' })),
      reasonSlot));

    // Work list.
    view.append(card(t('lifecycle.work'), h('p.hint', {}, t('lifecycle.work.hint', { n: WORK })),
      h('div.lifecycle-scroll', {}, workList(data.lifecycleWorkList, label))));

    // Win-back lists.
    const lists = data.lifecycleWinbackLists.edges.map((e) => e.node);
    const listSlot = h('div.lifecycle-scroll', {}, winbackTable(lists));
    view.append(card(t('lifecycle.winback'), h('p.hint', {}, t('lifecycle.winback.hint')), listSlot,
      ctx.can('AGENT') ? createForm(ctx, (made) => { lists.unshift(made); clear(listSlot, winbackTable(lists)); }) : null));
  },
};
