// Lifecycle and churn (生命周期): customers per retention stage from the last
// stage run, the moves between stages over the last 30 or 90 days, why
// customers left (churn reasons recorded in the window), who to call today
// (the work list ranked by value at risk) and the win-back lists with their
// outcome. One request draws the page; the heavy reports (cohorts, monthly
// rates, the risk validation and the monthly transition matrix read the whole
// history) wait for their "compute" button, one request each.
import { register, t } from '../i18n.js';
import { h, card, stat, table, field, showErrors, clear } from '../ui.js';
import { money, number, percent, date, dateTime, localDay, timezone } from '../format.js';
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
    'lifecycle.reports': '分析报表', 'lifecycle.reports.hint': '以下报表读取全部购买历史，点击“计算”后才查询（每个报表一次请求）。',
    'lifecycle.report.idle': '尚未计算', 'lifecycle.report.compute': '计算', 'lifecycle.report.computing': '计算中…',
    'lifecycle.report.took': '用时 {s} 秒', 'lifecycle.report.months': '月数', 'lifecycle.report.monthsN': '近 {n} 个月',
    'lifecycle.report.by': '分组', 'lifecycle.by.ALL': '全部客户', 'lifecycle.by.STORE': '按门店', 'lifecycle.by.CHANNEL': '按首购渠道',
    'lifecycle.by.TIER': '按会员等级', 'lifecycle.by.ACQUISITION_SOURCE': '按获客来源', 'lifecycle.by.none': '（未填写）',
    'lifecycle.cohorts': '同期群留存', 'lifecycle.cohorts.hint': '按首次购买月份分组，之后每个月仍在购买的客户占比（第 0 个月为首购当月）。',
    'lifecycle.cohort.month': '首购月份', 'lifecycle.cohort.k': '+{k} 月', 'lifecycle.cohort.show': '显示',
    'lifecycle.cohort.show.retention': '留存率', 'lifecycle.cohort.show.active': '购买客户数', 'lifecycle.cohort.show.revenue': '消费金额',
    'lifecycle.rates': '月度比率', 'lifecycle.rates.hint': '每月的留存率（上月购买客户本月仍购买的比例）、流失率、复购率（本月购买两次及以上）和老客回购比例。',
    'lifecycle.rates.sliced': '分组时图中为各组的留存率；各项数字见下表。', 'lifecycle.rates.table': '以表格查看每月数字',
    'lifecycle.rate.month': '月份', 'lifecycle.rate.buyers': '购买客户', 'lifecycle.rate.new': '新客', 'lifecycle.rate.returning': '老客',
    'lifecycle.rate.retained': '留存 / 上月购买', 'lifecycle.rate.retentionRate': '留存率', 'lifecycle.rate.churnRate': '流失率',
    'lifecycle.rate.repurchaseRate': '复购率', 'lifecycle.rate.returningShare': '老客回购比例',
    'lifecycle.validation': '流失风险检验', 'lifecycle.validation.hint': '在分割日按当时的购买记录打分，再看之后的观察期内谁回来购买：风险分是否比“距上次购买天数”更能区分流失客户。',
    'lifecycle.val.horizon': '观察期（天）', 'lifecycle.val.horizon.hint': '留空：按设置', 'lifecycle.val.split': '分割日',
    'lifecycle.val.customers': '检验客户数', 'lifecycle.val.cameBack': '观察期内回购', 'lifecycle.val.auc': 'AUC',
    'lifecycle.val.baselineAuc': 'AUC（仅看最近购买）', 'lifecycle.val.lift': '前 10% 提升度', 'lifecycle.val.baselineLift': '前 10% 提升度（仅看最近购买）',
    'lifecycle.val.summary': '分割日 {split}，观察期 {days} 天，模型：{source}；{share} 的客户未回购。',
    'lifecycle.val.hint': 'AUC：未回购客户的风险分高于回购客户的概率（0.5 等于随机）；提升度：风险最高 10% 客户中未回购的比例与整体之比。',
    'lifecycle.val.calibration': '校准：按风险分成十组', 'lifecycle.val.band': '组（1 风险最低）', 'lifecycle.val.meanRisk': '平均预测风险',
    'lifecycle.val.observed': '实际未回购比例', 'lifecycle.val.source.CLV': 'CLV 模型', 'lifecycle.val.source.RECENCY_FREQUENCY': '最近购买 / 频次模型',
    'lifecycle.monthly': '每月阶段变化', 'lifecycle.monthly.hint': '每个月从一个阶段转到另一个阶段的次数（按租户时区的自然月）。',
    'lifecycle.monthly.first': '（首次分阶段）', 'lifecycle.monthly.includeFirst': '包括首次分阶段', 'lifecycle.monthly.month': '月份',
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
    'lifecycle.reports': 'Reports', 'lifecycle.reports.hint': 'These reports read the whole purchase history: each is asked for when you press Compute (one request each).',
    'lifecycle.report.idle': 'Not computed yet', 'lifecycle.report.compute': 'Compute', 'lifecycle.report.computing': 'Computing…',
    'lifecycle.report.took': 'Took {s} s', 'lifecycle.report.months': 'Months', 'lifecycle.report.monthsN': 'Last {n} months',
    'lifecycle.report.by': 'Split', 'lifecycle.by.ALL': 'All customers', 'lifecycle.by.STORE': 'By store', 'lifecycle.by.CHANNEL': 'By first channel',
    'lifecycle.by.TIER': 'By loyalty tier', 'lifecycle.by.ACQUISITION_SOURCE': 'By acquisition source', 'lifecycle.by.none': '(none)',
    'lifecycle.cohorts': 'Cohort retention', 'lifecycle.cohorts.hint': 'Customers grouped by the month of their first purchase: the share still buying each month after (month 0 is the first purchase\'s).',
    'lifecycle.cohort.month': 'First purchase', 'lifecycle.cohort.k': '+{k} mo', 'lifecycle.cohort.show': 'Show',
    'lifecycle.cohort.show.retention': 'Share still buying', 'lifecycle.cohort.show.active': 'Customers buying', 'lifecycle.cohort.show.revenue': 'Revenue',
    'lifecycle.rates': 'Monthly rates', 'lifecycle.rates.hint': "Each month's retention (last month's buyers buying again), churn, repurchase (two purchases or more in the month) and the share of earlier customers who bought.",
    'lifecycle.rates.sliced': "Split: the chart shows each group's retention rate; every figure is in the table.", 'lifecycle.rates.table': 'View the months as a table',
    'lifecycle.rate.month': 'Month', 'lifecycle.rate.buyers': 'Buyers', 'lifecycle.rate.new': 'New', 'lifecycle.rate.returning': 'Returning',
    'lifecycle.rate.retained': 'Retained / last month', 'lifecycle.rate.retentionRate': 'Retention', 'lifecycle.rate.churnRate': 'Churn',
    'lifecycle.rate.repurchaseRate': 'Repurchase', 'lifecycle.rate.returningShare': 'Earlier customers buying',
    'lifecycle.validation': 'Churn risk validation', 'lifecycle.validation.hint': 'Score customers as of a split date with only what they had bought by then, then see who bought again within the horizon: does the risk tell leavers apart better than days since the last purchase?',
    'lifecycle.val.horizon': 'Horizon (days)', 'lifecycle.val.horizon.hint': 'Empty: the setting', 'lifecycle.val.split': 'Split date',
    'lifecycle.val.customers': 'Customers checked', 'lifecycle.val.cameBack': 'Came back', 'lifecycle.val.auc': 'AUC',
    'lifecycle.val.baselineAuc': 'AUC, recency alone', 'lifecycle.val.lift': 'Top-decile lift', 'lifecycle.val.baselineLift': 'Top-decile lift, recency alone',
    'lifecycle.val.summary': 'Split {split}, horizon {days} days, model: {source}; {share} did not come back.',
    'lifecycle.val.hint': "AUC: the chance a customer who did not come back has a higher risk than one who did (0.5 is a coin); lift: the share not coming back among the riskiest 10%, over the share among all.",
    'lifecycle.val.calibration': 'Calibration: ten bands by risk', 'lifecycle.val.band': 'Band (1 lowest risk)', 'lifecycle.val.meanRisk': 'Mean predicted risk',
    'lifecycle.val.observed': 'Did not come back', 'lifecycle.val.source.CLV': 'the CLV model', 'lifecycle.val.source.RECENCY_FREQUENCY': 'recency/frequency',
    'lifecycle.monthly': 'Stage changes by month', 'lifecycle.monthly.hint': "Each month's moves from one stage to another (calendar months in the tenant's time zone).",
    'lifecycle.monthly.first': '(first stage)', 'lifecycle.monthly.includeFirst': 'Include first stages', 'lifecycle.monthly.month': 'Month',
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

// -- On-demand reports ------------------------------------------------------------
// Each reads the whole purchase history, so none is asked for on load: a
// "compute" button makes the report's one request and draws what comes back.

const REPORT_MONTHS = ['6', '12', '24', '36'];
const SLICES = ['STORE', 'CHANNEL', 'TIER', 'ACQUISITION_SOURCE'];
const COHORT_SHOWS = ['retention', 'active', 'revenue'];

const COHORTS = `query LifecycleCohorts($months: Int!, $by: LifecycleSlice) {
  lifecycleCohorts(months: $months, by: $by) { label cohorts { month customers active retention revenue } }
}`;
const RATES = `query LifecycleRates($months: Int!, $by: LifecycleSlice) {
  lifecycleRates(months: $months, by: $by) { label months {
    month buyers new returning existing repeatBuyers previousBuyers retained retentionRate churnRate repurchaseRate returningShare } }
}`;
const VALIDATION = `query LifecycleValidation($split: DateTime, $horizonDays: Int) {
  lifecycleValidation(split: $split, horizonDays: $horizonDays) {
    split horizonDays source customers cameBack auc topDecileLift baselineAuc baselineTopDecileLift
    calibration { band customers meanRisk observedNoPurchase } warnings }
}`;
const MONTHLY = `query LifecycleMonthlyTransitions($from: DateTime, $first: Boolean!, $lang: Lang!) {
  lifecycleTransitions(from: $from, includeFirstStages: $first) {
    month flows { fromStage { code label(lang: $lang) } toStage { code label(lang: $lang) } customers } }
}`;

// The instant the tenant's local day `day` (YYYY-MM-DD) begins, as ISO.
function tenantMidnight(day) {
  const [y, m, d] = day.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: timezone(), hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric',
  }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute));
  return new Date(guess - (wall - guess)).toISOString();
}

// The first day of the tenant's month `back` months before this one.
function monthStart(back) {
  const [y, m] = localDay().split('-').map(Number);
  const first = new Date(Date.UTC(y, m - 1 - back, 1));
  return tenantMidnight(first.toISOString().slice(0, 10));
}

// A report query's INVALID errors say "field: message"; as payload-like errors
// they go next to the form's fields (ui.showErrors), the rest at its top.
function fieldErrors(error) {
  const errors = error && error.errors ? error.errors : [{ message: String(error && error.message || error) }];
  return errors.flatMap((e) => String(e.message).split('; ').map((part) => {
    const match = /^(\w+): (.+)$/.exec(part);
    return match ? { field: match[1], message: match[2] } : { field: '', message: part };
  }));
}

function choice(name, values, selected, labelOf, testid) {
  return h('select', { name, 'data-testid': testid }, values.map((v) => h('option', { value: v, selected: v === selected }, labelOf(v))));
}

// A card with its parameters, a compute button, how long it took and the result.
// run(form) makes the one request and returns the nodes to show.
function reportCard({ key, title, hint, controls, run }) {
  const result = h('div.lifecycle-report-result', { 'data-testid': `lifecycle-${key}-result` });
  const status = h('span.hint', { role: 'status', 'data-testid': `lifecycle-${key}-status` }, t('lifecycle.report.idle'));
  const button = h('button', { type: 'submit', 'data-testid': `lifecycle-${key}-compute` }, t('lifecycle.report.compute'));
  const form = h('form.lifecycle-report-form', {
    novalidate: true, 'data-testid': `lifecycle-${key}-form`,
    onsubmit: async (event) => {
      event.preventDefault();
      showErrors(form, []);
      button.disabled = true;
      result.setAttribute('aria-busy', 'true');
      status.textContent = t('lifecycle.report.computing');
      const started = performance.now();
      try {
        const nodes = await run(form);
        clear(result, nodes);
        status.textContent = t('lifecycle.report.took', { s: number((performance.now() - started) / 1000, 1) });
        result.dataset.computed = 'true';
      } catch (error) {
        showErrors(form, fieldErrors(error));
        status.textContent = '';
      } finally {
        button.disabled = false;
        result.removeAttribute('aria-busy');
      }
    },
  }, h('div.form-error', { role: 'alert' }), h('div.lifecycle-report-controls', {}, controls, button, status));
  return h('section.card.lifecycle-report', { 'data-testid': `lifecycle-${key}` },
    h('h2', {}, title), h('p.hint', {}, hint), form, result);
}

function monthsAndSlice(ctx, key) {
  const slices = SLICES.filter((s) => s !== 'TIER' || ctx.enabled('loyalty'));  // tiers need the loyalty module
  return [
    field(t('lifecycle.report.months'), choice('months', REPORT_MONTHS, '12', (m) => t('lifecycle.report.monthsN', { n: m }), `lifecycle-${key}-months`), 'months'),
    field(t('lifecycle.report.by'), choice('by', ['', ...slices], '', (s) => t(`lifecycle.by.${s || 'ALL'}`), `lifecycle-${key}-by`), 'by'),
  ];
}

const sliceTitle = (s) => (s.label === null ? t('lifecycle.by.none') : s.label);
const readSlice = (form) => ({ months: Number(form.months.value), by: form.by.value || null });

// Cohort retention as a heat-map table: a row per first-purchase month, a column per month since.
function cohortTable(slice, show) {
  const width = Math.max(0, ...slice.cohorts.map((c) => c.active.length));
  const maxRevenue = Math.max(0, ...slice.cohorts.flatMap((c) => c.revenue.map(Number)));
  const cell = (c, k) => {
    if (k >= c.active.length) return h('td.lifecycle-cohort-none', {}, '');
    if (!c.customers) return h('td.num.lifecycle-cohort-none', { 'data-k': k }, '—');  // nobody first bought that month
    const strength = show === 'revenue' ? (maxRevenue ? Number(c.revenue[k]) / maxRevenue : 0) : c.retention[k];
    const text = show === 'revenue' ? money(c.revenue[k]) : show === 'active' ? number(c.active[k]) : percent(c.retention[k], 0);
    const title = `${c.month} +${k}: ${number(c.active[k])} / ${number(c.customers)} · ${percent(c.retention[k])} · ${money(c.revenue[k])}`;
    return h('td.num.lifecycle-cohort-cell', {
      'data-k': k, title,
      style: `background: rgba(67, 160, 71, ${(0.08 + 0.85 * strength).toFixed(3)}); color: ${strength > 0.55 ? '#fff' : 'inherit'}`,
    }, text);
  };
  if (!slice.cohorts.length) return h('p.empty', {}, t('app.empty'));
  return h('div.lifecycle-scroll', {}, h('table.data.lifecycle-cohorts', { 'data-testid': 'lifecycle-cohort-table', 'data-slice': slice.label ?? '' },
    h('thead', {}, h('tr', {}, h('th', {}, t('lifecycle.cohort.month')), h('th.num', {}, t('lifecycle.customers')),
      Array.from({ length: width }, (_, k) => h('th.num', {}, t('lifecycle.cohort.k', { k }))))),
    h('tbody', {}, slice.cohorts.map((c) => h('tr', { 'data-month': c.month },
      h('th', {}, c.month), h('td.num', { 'data-testid': 'cohort-customers' }, number(c.customers)),
      Array.from({ length: width }, (_, k) => cell(c, k)))))));
}

function cohortsReport(ctx) {
  let slices = [];
  const show = choice('show', COHORT_SHOWS, 'retention', (s) => t(`lifecycle.cohort.show.${s}`), 'lifecycle-cohorts-show');
  const body = h('div');
  const draw = () => clear(body, slices.map((s) => h('div', {}, slices.length > 1 ? h('h3', {}, sliceTitle(s)) : null, cohortTable(s, show.value))));
  show.addEventListener('change', draw);  // the same figures, another view: no request
  return reportCard({
    key: 'cohorts', title: t('lifecycle.cohorts'), hint: t('lifecycle.cohorts.hint'),
    controls: [...monthsAndSlice(ctx, 'cohorts'), field(t('lifecycle.cohort.show'), show, 'show')],
    run: async (form) => {
      slices = (await ctx.gql(COHORTS, readSlice(form))).lifecycleCohorts;
      draw();
      return body;
    },
  });
}

const RATE_FIELDS = ['retentionRate', 'churnRate', 'repurchaseRate', 'returningShare'];
const RATE_COLORS = { retentionRate: '#43a047', churnRate: '#c62828', repurchaseRate: '#1e88e5', returningShare: '#8e24aa' };

function ratesOption(slices) {
  const months = slices.length ? slices[0].months.map((m) => m.month) : [];
  // All customers: the four rates; sliced: the retention rate of each group.
  const series = slices.length === 1
    ? RATE_FIELDS.map((f) => ({ name: t(`lifecycle.rate.${f}`), type: 'line', data: slices[0].months.map((m) => m[f]), itemStyle: { color: RATE_COLORS[f] }, connectNulls: false }))
    : slices.map((s) => ({ name: sliceTitle(s), type: 'line', data: s.months.map((m) => m.retentionRate) }));
  return {
    tooltip: { trigger: 'axis', confine: true, valueFormatter: (v) => percent(v) },
    legend: { type: 'scroll', top: 0 },
    grid: { left: 56, right: 24, top: 40, bottom: 32 },
    xAxis: { type: 'category', data: months },
    yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v) => percent(v, 0) } },
    series,
  };
}

function ratesTable(slice) {
  return table([
    { label: t('lifecycle.rate.month'), value: (m) => m.month },
    { label: t('lifecycle.rate.buyers'), value: (m) => number(m.buyers), className: 'num' },
    { label: t('lifecycle.rate.new'), value: (m) => number(m.new), className: 'num' },
    { label: t('lifecycle.rate.returning'), value: (m) => number(m.returning), className: 'num' },
    { label: t('lifecycle.rate.retained'), value: (m) => `${number(m.retained)} / ${number(m.previousBuyers)}`, className: 'num' },
    ...RATE_FIELDS.map((f) => ({ label: t(`lifecycle.rate.${f}`), value: (m) => percent(m[f]), className: 'num' })),
  ], slice.months, { testid: 'lifecycle-rates-table' });
}

function ratesReport(ctx) {
  return reportCard({
    key: 'rates', title: t('lifecycle.rates'), hint: t('lifecycle.rates.hint'),
    controls: monthsAndSlice(ctx, 'rates'),
    run: async (form) => {
      const slices = (await ctx.gql(RATES, readSlice(form))).lifecycleRates;
      const chartNode = h('div.chart', { 'data-testid': 'lifecycle-rates-chart', role: 'img', 'aria-label': t('lifecycle.rates') });
      const tables = slices.map((s) => h('div.lifecycle-scroll', { 'data-slice': s.label ?? '' }, slices.length > 1 ? h('h3', {}, sliceTitle(s)) : null, ratesTable(s)));
      setTimeout(() => {  // ECharts measures its node: draw once it is in the document
        if (!chartNode.isConnected) return;
        chart(chartNode, ratesOption(slices));
        chartNode.dataset.drawn = 'true';
      }, 0);
      return [chartNode, slices.length > 1 ? h('p.hint', {}, t('lifecycle.rates.sliced')) : null,
        h('details', {}, h('summary', { 'data-testid': 'lifecycle-rates-toggle' }, t('lifecycle.rates.table')), tables)];
    },
  });
}

const ratio = (value) => (value === null || value === undefined ? '—' : number(value, 2));

function validationFigures(r) {
  const noReturn = r.customers ? (r.customers - r.cameBack) / r.customers : null;
  return [
    h('div.stats', {},
      stat(t('lifecycle.val.customers'), number(r.customers), { testid: 'lifecycle-val-customers' }),
      stat(t('lifecycle.val.cameBack'), `${number(r.cameBack)} (${percent(r.customers ? r.cameBack / r.customers : null)})`, { testid: 'lifecycle-val-came-back' }),
      stat(t('lifecycle.val.auc'), ratio(r.auc), { testid: 'lifecycle-val-auc' }),
      stat(t('lifecycle.val.baselineAuc'), ratio(r.baselineAuc), { testid: 'lifecycle-val-baseline-auc' }),
      stat(t('lifecycle.val.lift'), ratio(r.topDecileLift), { testid: 'lifecycle-val-lift' }),
      stat(t('lifecycle.val.baselineLift'), ratio(r.baselineTopDecileLift), { testid: 'lifecycle-val-baseline-lift' })),
    h('p', { 'data-testid': 'lifecycle-val-summary' }, t('lifecycle.val.summary', {
      split: dateTime(r.split), days: number(r.horizonDays), source: t(`lifecycle.val.source.${r.source}`), share: percent(noReturn),
    })),
    h('p.hint', {}, t('lifecycle.val.hint')),
    h('h3', {}, t('lifecycle.val.calibration')),
    table([
      { label: t('lifecycle.val.band'), value: (b) => number(b.band), className: 'num' },
      { label: t('lifecycle.customers'), value: (b) => number(b.customers), className: 'num' },
      { label: t('lifecycle.val.meanRisk'), value: (b) => percent(b.meanRisk), className: 'num' },
      { label: t('lifecycle.val.observed'), value: (b) => percent(b.observedNoPurchase), className: 'num' },
    ], r.calibration, { testid: 'lifecycle-val-calibration' }),
    r.warnings.length ? h('ul.lifecycle-report-warnings', { 'data-testid': 'lifecycle-val-warnings' }, r.warnings.map((w) => h('li', {}, w))) : null,
  ];
}

function validationReport(ctx) {
  const horizon = h('input', { name: 'horizonDays', type: 'number', step: 1, placeholder: t('lifecycle.val.horizon.hint'), 'data-testid': 'lifecycle-validation-horizon' });
  const split = h('input', { name: 'split', type: 'date', 'data-testid': 'lifecycle-validation-split' });
  return reportCard({
    key: 'validation', title: t('lifecycle.validation'), hint: t('lifecycle.validation.hint'),
    controls: [field(t('lifecycle.val.horizon'), horizon, 'horizonDays'), field(t('lifecycle.val.split'), split, 'split')],
    run: async () => {
      const variables = {
        horizonDays: horizon.value.trim() === '' ? null : Number(horizon.value),
        split: split.value ? tenantMidnight(split.value) : null,  // the day's start in the tenant's time zone
      };
      return validationFigures((await ctx.gql(VALIDATION, variables)).lifecycleValidation);
    },
  });
}

// One month's from × to matrix; "first stage" rows when first stages are counted.
function monthMatrix(month) {
  const labels = new Map([['NONE', t('lifecycle.monthly.first')]]);
  const moves = new Map();
  for (const f of month.flows) {
    const from = f.fromStage ? f.fromStage.code : 'NONE';
    if (f.fromStage) labels.set(from, f.fromStage.label);
    labels.set(f.toStage.code, f.toStage.label);
    moves.set(`${from}>${f.toStage.code}`, f.customers);
  }
  const order = ['NONE', ...Object.keys(STAGE_COLORS)];
  const froms = order.filter((c) => month.flows.some((f) => (f.fromStage ? f.fromStage.code : 'NONE') === c));
  const tos = order.filter((c) => month.flows.some((f) => f.toStage.code === c));
  return h('table.data.lifecycle-matrix', { 'data-testid': 'lifecycle-monthly-matrix', 'data-month': month.month },
    h('thead', {}, h('tr', {}, h('th', {}, t('lifecycle.from')), tos.map((c) => h('th.num', {}, labels.get(c))))),
    h('tbody', {}, froms.map((from) => h('tr', { 'data-from': from }, h('th', {}, labels.get(from)),
      tos.map((to) => {
        const n = moves.get(`${from}>${to}`) || 0;
        return h('td.num', { 'data-to': to, class: n ? 'num lifecycle-moved' : 'num lifecycle-zero' }, n ? number(n) : '·');
      })))));
}

function monthlyReport(ctx) {
  const first = h('input', { name: 'first', type: 'checkbox', 'data-testid': 'lifecycle-monthly-first' });
  const months = choice('months', REPORT_MONTHS, '12', (m) => t('lifecycle.report.monthsN', { n: m }), 'lifecycle-monthly-months');
  return reportCard({
    key: 'monthly', title: t('lifecycle.monthly'), hint: t('lifecycle.monthly.hint'),
    controls: [field(t('lifecycle.report.months'), months, 'from'),
      h('label.lifecycle-report-check', {}, first, ' ', t('lifecycle.monthly.includeFirst'))],
    run: async () => {
      const data = await ctx.gql(MONTHLY, { from: monthStart(Number(months.value) - 1), first: first.checked, lang: ctx.apiLang });
      const found = data.lifecycleTransitions;
      if (!found.length) return h('p.empty', { 'data-testid': 'lifecycle-monthly-matrix' }, t('lifecycle.noMoves'));
      const slot = h('div.lifecycle-scroll');
      const total = (m) => m.flows.reduce((sum, f) => sum + f.customers, 0);
      const pick = choice('month', found.map((m) => m.month), found[found.length - 1].month,
        (m) => `${m} · ${number(total(found.find((x) => x.month === m)))} ${t('lifecycle.moves')}`, 'lifecycle-monthly-month');
      const show = () => clear(slot, monthMatrix(found.find((m) => m.month === pick.value)));
      pick.addEventListener('change', show);
      show();
      return [h('label.field.lifecycle-report-pick', {}, h('span.field-label', {}, t('lifecycle.monthly.month')), pick), slot];
    },
  });
}

function reports(ctx) {
  return h('div.lifecycle-reports', { 'data-testid': 'lifecycle-reports' },
    h('h2.lifecycle-reports-title', {}, t('lifecycle.reports')), h('p.hint', {}, t('lifecycle.reports.hint')),
    cohortsReport(ctx), ratesReport(ctx), validationReport(ctx), monthlyReport(ctx));
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

    // The reports the CLI has, each on its own request when asked for.
    view.append(reports(ctx));
  },
};
