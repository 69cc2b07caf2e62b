// The home page: how the business is doing in a period against the period
// before it: customers, buyers, revenue and its trend, and (when those modules
// are on) retention, satisfaction and NPS, complaints and their SLA.
// Everything comes in one request (the core's `overview` plus the modules'
// fields, each aliased for the previous period); the period and store are in
// the route (#/overview/30d/<store>), so switching redraws the page.
import { register, t } from '../i18n.js';
import { h, card, stat, table } from '../ui.js';
import { change, money, number, percent } from '../format.js';
import { chart } from '../charts.js';
import { PERIODS, DEFAULT_PERIOD, periodOf } from '../widgets/overview-period.js';

register({
  zh: {
    'overview.title': '经营概览', 'overview.period.7d': '近7天', 'overview.period.30d': '近30天', 'overview.period.90d': '近90天',
    'overview.period.mtd': '本月', 'overview.period.lastmonth': '上月', 'overview.store': '门店', 'overview.allStores': '全部门店',
    'overview.range': '{from} 至 {to}，对比 {pfrom} 至 {pto}',
    'overview.customers': '客户总数', 'overview.active': '活跃客户（有购买）', 'overview.new': '新客户（首次购买）',
    'overview.purchases': '订单数', 'overview.revenue': '净销售额（扣除退款）', 'overview.aov': '客单价',
    'overview.refunds': '退款', 'overview.returning': '回头客',
    'overview.trend': '销售额趋势（净额）', 'overview.current': '本期', 'overview.previous': '上期',
    'overview.bucket.DAY': '按天', 'overview.bucket.WEEK': '按周（周一起）', 'overview.bucket.MONTH': '按月',
    'overview.byStore': '各门店', 'overview.byChannel': '各渠道', 'overview.key': '名称', 'overview.none': '（未填写）',
    'overview.share': '占比',
    'overview.service': '服务与口碑', 'overview.retention': '留存率（上期客户本期再购）', 'overview.repurchase': '复购率（本期购买 2 次及以上）',
    'overview.satisfaction': '满意度指数', 'overview.nps': 'NPS 净推荐值', 'overview.responses': '问卷回收',
    'overview.complaints': '投诉数', 'overview.sla': 'SLA 达成率', 'overview.firstResponse': '首次响应（中位）',
    'overview.minutes': '{n} 分钟', 'overview.hours': '{n} 小时', 'overview.pt': '{sign}{n} 个百分点', 'overview.points': '{sign}{n} 分',
  },
  en: {
    'overview.title': 'Overview', 'overview.period.7d': 'Last 7 days', 'overview.period.30d': 'Last 30 days',
    'overview.period.90d': 'Last 90 days', 'overview.period.mtd': 'This month', 'overview.period.lastmonth': 'Last month',
    'overview.store': 'Store', 'overview.allStores': 'All stores',
    'overview.range': '{from} to {to}, against {pfrom} to {pto}',
    'overview.customers': 'Customers', 'overview.active': 'Active customers (bought)', 'overview.new': 'New customers (first purchase)',
    'overview.purchases': 'Orders', 'overview.revenue': 'Net revenue (after refunds)', 'overview.aov': 'Average order value',
    'overview.refunds': 'Refunds', 'overview.returning': 'Returning customers',
    'overview.trend': 'Revenue trend (net)', 'overview.current': 'This period', 'overview.previous': 'Previous period',
    'overview.bucket.DAY': 'by day', 'overview.bucket.WEEK': 'by week (from Monday)', 'overview.bucket.MONTH': 'by month',
    'overview.byStore': 'By store', 'overview.byChannel': 'By channel', 'overview.key': 'Name', 'overview.none': '(none)',
    'overview.share': 'Share',
    'overview.service': 'Service and reputation', 'overview.retention': 'Retention (previous buyers who bought again)',
    'overview.repurchase': 'Repurchase (2+ orders in the period)',
    'overview.satisfaction': 'Satisfaction index', 'overview.nps': 'NPS', 'overview.responses': 'Survey responses',
    'overview.complaints': 'Complaints', 'overview.sla': 'SLA compliance', 'overview.firstResponse': 'First response (median)',
    'overview.minutes': '{n} min', 'overview.hours': '{n} h', 'overview.pt': '{sign}{n} pt', 'overview.points': '{sign}{n}',
  },
});

const FIGURES = `from to customers createdCustomers activeCustomers newCustomers returningCustomers purchases
  grossRevenue refundCount refunds netRevenue averageOrderValue trend { day purchases netRevenue }`;
const SLICE = 'key label(lang: $lang) purchases netRevenue';
const COMPLAINTS = `totals { count slaMet slaBreached slaCompliance firstResponse { medianMinutes } }
  groups { key count slaMet slaBreached slaCompliance firstResponse { medianMinutes } }`;
const SATISFACTION = 'responses index indexRespondents nps npsAnswers overallSatisfied';
const RATES = 'buyers previousBuyers retained retentionRate repurchaseRate';

// One request: the core's figures, and each enabled module's for both periods.
function buildQuery(ctx, store) {
  const args = ['$from: DateTime!', '$to: DateTime!', '$pfrom: DateTime!', '$pto: DateTime!', '$store: String', '$lang: Lang!'];
  const fields = [`overview(from: $from, to: $to, compareFrom: $pfrom, compareTo: $pto, store: $store) {
    bucket current { ${FIGURES} } previous { ${FIGURES} }
    byStore { ${SLICE} } byChannel { ${SLICE} } }`];
  if (ctx.enabled('lifecycle')) {
    fields.push(`lifeNow: lifecycleOverview(from: $from, to: $to, store: $store) { ${RATES} }`,
                `lifeBefore: lifecycleOverview(from: $pfrom, to: $pto, store: $store) { ${RATES} }`);
  }
  if (ctx.enabled('satisfaction')) {
    fields.push(`satNow: satisfactionOverview(from: $from, to: $to, store: $store) { ${SATISFACTION} }`,
                `satBefore: satisfactionOverview(from: $pfrom, to: $pto, store: $store) { ${SATISFACTION} }`);
  }
  if (ctx.enabled('complaints')) {
    const group = store ? ', groupBy: STORE' : '';
    fields.push(`compNow: complaintStats(from: $from, to: $to${group}) { ${COMPLAINTS} }`,
                `compBefore: complaintStats(from: $pfrom, to: $pto${group}) { ${COMPLAINTS} }`);
  }
  return `query Overview(${args.join(', ')}) {\n${fields.join('\n')}\n}`;
}

function shortDay(ymd, bucket) {
  return bucket === 'MONTH' ? ymd.slice(0, 7) : ymd.slice(5);
}

// A rate's change in percentage points (a share: 0.8 -> 0.85 is +5.0 pt).
function pointChange(now, before, scale = 100, key = 'overview.pt') {
  if (now === null || now === undefined || before === null || before === undefined) return '';
  const d = (now - before) * scale;
  return ` (${t(key, { sign: d > 0 ? '+' : d < 0 ? '−' : '±', n: number(Math.abs(d), 1) })})`;
}

// A change shown without colour: for figures where more is worse (refunds, complaints).
function plainChange(now, before) {
  const d = change(now, before);
  return d === null ? '' : ` (${d > 0 ? '+' : ''}${percent(d)})`;
}

function duration(minutes) {
  if (minutes === null || minutes === undefined) return '—';
  return minutes < 120 ? t('overview.minutes', { n: number(minutes) }) : t('overview.hours', { n: number(minutes / 60, 1) });
}

function toolbar(ctx, periodName, store, stores) {
  const href = (p, s) => `#/overview/${p}${s ? `/${encodeURIComponent(s)}` : ''}`;
  const buttons = PERIODS.map((p) => h(`a.button${p === periodName ? '.active' : ''}`, {
    href: href(p, store), 'data-testid': `overview-period-${p}`, 'aria-current': p === periodName ? 'true' : null,
  }, t(`overview.period.${p}`)));
  const options = [h('option', { value: '' }, t('overview.allStores')),
    ...stores.map((s) => h('option', { value: s, selected: s === store }, s))];
  const select = h('select', {
    'data-testid': 'overview-store', 'aria-label': t('overview.store'),
    onchange: (event) => ctx.navigate(href(periodName, event.target.value)),
  }, options);
  return h('div.toolbar.overview-toolbar', {}, h('div.overview-periods', { role: 'group' }, buttons),
    h('label.overview-store', {}, h('span.field-label', {}, t('overview.store')), select));
}

function coreTiles(now, before) {
  const tile = (key, fmt, field, testid) => stat(t(key), fmt(now[field]), {
    previous: fmt(before[field]), now: now[field], before: before[field], testid });
  const worseWhenUp = (key, fmt, field, testid) => stat(t(key), fmt(now[field]), {
    previous: `${fmt(before[field])}${plainChange(now[field], before[field])}`, testid });
  return h('div.stats', { 'data-testid': 'overview-tiles' },
    tile('overview.revenue', (v) => money(v), 'netRevenue', 'overview-revenue'),
    tile('overview.purchases', (v) => number(v), 'purchases', 'overview-purchases'),
    tile('overview.aov', (v) => money(v, 2), 'averageOrderValue', 'overview-aov'),
    tile('overview.active', (v) => number(v), 'activeCustomers', 'overview-active'),
    tile('overview.new', (v) => number(v), 'newCustomers', 'overview-new'),
    tile('overview.returning', (v) => number(v), 'returningCustomers', 'overview-returning'),
    tile('overview.customers', (v) => number(v), 'customers', 'overview-customers'),
    worseWhenUp('overview.refunds', (v) => money(v), 'refunds', 'overview-refunds'));
}

// The net revenue per bucket, the previous period's drawn under it point by point.
function trendChart(data, period) {
  const { bucket, current, previous } = data.overview;
  const node = h('div.chart', { 'data-testid': 'overview-trend' });
  const range = ([a, b]) => `${a.slice(5)} – ${b.slice(5)}`;
  const names = [`${t('overview.current')} ${range(period.days)}`, `${t('overview.previous')} ${range(period.compareDays)}`];
  const draw = () => chart(node, {
    tooltip: { trigger: 'axis', valueFormatter: (v) => money(v) },
    legend: { data: names, top: 0, itemGap: 28 },
    grid: { left: 64, right: 16, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: current.trend.map((p) => shortDay(p.day, bucket)), boundaryGap: false },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => money(v) } },
    series: [
      { name: names[0], type: 'line', data: current.trend.map((p) => Number(p.netRevenue)), showSymbol: current.trend.length < 40, lineStyle: { width: 2.5 }, color: '#c2185b', areaStyle: { opacity: 0.08 } },
      { name: names[1], type: 'line', data: previous.trend.slice(0, current.trend.length).map((p) => Number(p.netRevenue)), showSymbol: false, lineStyle: { type: 'dashed', width: 1.5 }, color: '#9aa5b1' },
    ],
  });
  return { node, draw, title: `${t('overview.trend')} · ${t(`overview.bucket.${bucket}`)}` };
}

// Each row's share of the list's own total (with a store chosen, byStore still lists every store).
function sliceTable(rows, testid) {
  const total = rows.reduce((sum, r) => sum + Number(r.netRevenue), 0);
  return table([
    { label: t('overview.key'), value: (r) => r.label ?? t('overview.none') },
    { label: t('overview.revenue'), value: (r) => money(r.netRevenue), className: 'num' },
    { label: t('overview.share'), value: (r) => (total > 0 ? percent(Number(r.netRevenue) / total) : '—'), className: 'num' },
    { label: t('overview.purchases'), value: (r) => number(r.purchases), className: 'num' },
  ], rows, { testid });
}

function complaintsOf(stats, store) {
  if (!stats) return null;
  if (!store) return stats.totals;
  return stats.groups.find((g) => g.key === store)
    || { count: 0, slaMet: 0, slaBreached: 0, slaCompliance: null, firstResponse: { medianMinutes: null } };
}

function serviceTiles(data, store) {
  const tiles = [];
  if (data.lifeNow) {
    const [a, b] = [data.lifeNow, data.lifeBefore];
    tiles.push(stat(t('overview.retention'), percent(a.retentionRate), {
      previous: `${percent(b.retentionRate)}${pointChange(a.retentionRate, b.retentionRate)}`, testid: 'overview-retention' }));
    tiles.push(stat(t('overview.repurchase'), percent(a.repurchaseRate), {
      previous: `${percent(b.repurchaseRate)}${pointChange(a.repurchaseRate, b.repurchaseRate)}`, testid: 'overview-repurchase' }));
  }
  if (data.satNow) {
    const [a, b] = [data.satNow, data.satBefore];
    tiles.push(stat(t('overview.satisfaction'), a.index === null ? '—' : number(a.index, 1), {
      previous: `${b.index === null ? '—' : number(b.index, 1)}${pointChange(a.index, b.index, 1, 'overview.points')}`,
      testid: 'overview-satisfaction' }));
    tiles.push(stat(t('overview.nps'), a.nps === null ? '—' : number(a.nps, 1), {
      previous: `${b.nps === null ? '—' : number(b.nps, 1)}${pointChange(a.nps, b.nps, 1, 'overview.points')}`,
      testid: 'overview-nps' }));
    tiles.push(stat(t('overview.responses'), number(a.responses), {
      previous: number(b.responses), now: a.responses, before: b.responses, testid: 'overview-responses' }));
  }
  const [c, cb] = [complaintsOf(data.compNow, store), complaintsOf(data.compBefore, store)];
  if (c) {
    tiles.push(stat(t('overview.complaints'), number(c.count), {
      previous: `${number(cb.count)}${plainChange(c.count, cb.count)}`, testid: 'overview-complaints' }));
    tiles.push(stat(t('overview.sla'), percent(c.slaCompliance), {
      previous: `${percent(cb.slaCompliance)}${pointChange(c.slaCompliance, cb.slaCompliance)}`, testid: 'overview-sla' }));
    tiles.push(stat(t('overview.firstResponse'), duration(c.firstResponse.medianMinutes), {
      previous: duration(cb.firstResponse.medianMinutes), testid: 'overview-first-response' }));
  }
  return tiles.length ? card(t('overview.service'), h('div.stats', { 'data-testid': 'overview-service' }, tiles)) : null;
}

// ECharts measures its container: draw once the shell has put the page in the
// document (app.js attaches it after render returns).
function whenAttached(node, draw, frames = 120) {
  if (node.isConnected) draw();
  else if (frames > 0) requestAnimationFrame(() => whenAttached(node, draw, frames - 1));
}

export default {
  route: 'overview', title: 'overview.title', module: null, home: true,
  async render(view, ctx) {
    const periodName = PERIODS.includes(ctx.params[0]) ? ctx.params[0] : DEFAULT_PERIOD;
    const store = ctx.params[1] || null;
    const period = periodOf(periodName);
    const variables = { from: period.from, to: period.to, pfrom: period.compareFrom, pto: period.compareTo, store, lang: ctx.apiLang };
    const data = await ctx.gql(buildQuery(ctx, store), variables);
    const { current, previous, byStore, byChannel } = data.overview;

    const stores = byStore.map((s) => s.key).filter((k) => k !== null);
    if (store && !stores.includes(store)) stores.push(store);
    const trend = trendChart(data, period);
    view.append(
      toolbar(ctx, periodName, store, stores.sort()),
      h('p.hint', { 'data-testid': 'overview-range' }, t('overview.range', {
        from: period.days[0], to: period.days[1], pfrom: period.compareDays[0], pto: period.compareDays[1] })),
      coreTiles(current, previous),
      card(trend.title, trend.node),
      serviceTiles(data, store),
      h('div.grid.overview-slices', {},
        card(t('overview.byStore'), sliceTable(byStore, 'overview-by-store')),
        card(t('overview.byChannel'), sliceTable(byChannel, 'overview-by-channel'))),
    );
    whenAttached(trend.node, trend.draw);
  },
};
