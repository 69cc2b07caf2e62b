// Satisfaction (满意度): for one survey of the tenant's (the most recent
// active one unless the address names another), the satisfaction index
// (0–100) and NPS with their confidence intervals and counts, the index per
// dimension and the figures per indicator, the monthly trend with its
// significant peaks, troughs, rises and falls, and the drivers: the
// importance–performance matrix and what to fix first. Optionally for one
// store (the other stores' index and NPS side by side). Below, every survey
// with its status and responses.
//
// Routes: #/satisfaction, #/satisfaction/<survey code>, #/satisfaction/<code>/<store>.
// Two requests: the surveys, then the chosen survey's analytics in one query.
import { register, t, getLang } from '../i18n.js';
import { h, card, stat, table } from '../ui.js';
import { number, percent, date } from '../format.js';
import { chart } from '../charts.js';

register({
  zh: {
    'satisfaction.title': '满意度',
    'satisfaction.none': '还没有满意度调查问卷。管理员可以通过 API 或命令行（guanxi satisfaction create-survey）创建问卷。',
    'satisfaction.unknown': '没有这个问卷：{code}',
    'satisfaction.survey': '问卷', 'satisfaction.store': '门店', 'satisfaction.allStores': '全部门店',
    'satisfaction.noStore': '（无门店）',
    'satisfaction.index': '满意度指数', 'satisfaction.nps': 'NPS 净推荐值', 'satisfaction.overall': '总体满意度',
    'satisfaction.responses': '回收问卷', 'satisfaction.repurchase': '再购意愿',
    'satisfaction.ci': '{level} 置信区间 {low} – {high}', 'satisfaction.respondents': '{n} 位受访者',
    'satisfaction.npsCounts': '{n} 个回答 · 推荐 {p} · 中立 {m} · 贬损 {d}',
    'satisfaction.satisfiedShare': '满意率 {share}（{n} 个回答）',
    'satisfaction.noAnswers': '这个问卷还没有回答。',
    'satisfaction.dimensions': '各维度满意度指数', 'satisfaction.dimension': '维度', 'satisfaction.indicator': '指标',
    'satisfaction.mean': '均值（1–5）', 'satisfaction.satisfied': '满意率', 'satisfaction.count': '回答数',
    'satisfaction.weight': '权重', 'satisfaction.indexScale': '指数（0–100）',
    'satisfaction.indicators': '各指标', 'satisfaction.satisfiedFrom': '满意率：评分 ≥ {from} 的回答所占比例（满分 5）。',
    'satisfaction.trend': '月度趋势', 'satisfaction.month': '月份', 'satisfaction.change': '较上月',
    'satisfaction.flag': '显著变化', 'satisfaction.trend.hint': '峰值 / 谷值：该月指数与其余月份有显著差异；上升 / 下降：与上月相比有显著变化（Welch 检验，Holm 校正）。',
    'satisfaction.drivers': '驱动因素：重要性 – 表现矩阵', 'satisfaction.importance': '重要性', 'satisfaction.performance': '表现（0–100）',
    'satisfaction.quadrant': '象限', 'satisfaction.coefficient': '系数', 'satisfaction.target.OVERALL': '解释对象：总体满意度',
    'satisfaction.target.REPURCHASE': '解释对象：再购意愿', 'satisfaction.rSquared': 'R² {r} · {n} 位完整作答者',
    'satisfaction.fixFirst': '优先改进', 'satisfaction.fixFirst.none': '没有需要优先改进的维度。',
    'satisfaction.fixFirst.hint': '按 重要性 × (100 − 表现) 排序：提升空间乘以其价值。',
    'satisfaction.noDrivers': '无法计算驱动权重：{why}',
    'satisfaction.byStore': '各门店', 'satisfaction.surveys': '全部问卷', 'satisfaction.code': '代码',
    'satisfaction.surveyTitle': '标题', 'satisfaction.model': '指数模型', 'satisfaction.status': '状态',
    'satisfaction.status.ACTIVE': '进行中', 'satisfaction.status.ARCHIVED': '已归档', 'satisfaction.created': '创建日期',
    'satisfaction.sent': '已发邀请', 'satisfaction.responseRate': '回复率', 'satisfaction.current': '当前',
  },
  en: {
    'satisfaction.title': 'Satisfaction',
    'satisfaction.none': 'No satisfaction surveys yet. Admins create one through the API or the CLI (guanxi satisfaction create-survey).',
    'satisfaction.unknown': 'No such survey: {code}',
    'satisfaction.survey': 'Survey', 'satisfaction.store': 'Store', 'satisfaction.allStores': 'All stores',
    'satisfaction.noStore': '(no store)',
    'satisfaction.index': 'Satisfaction index', 'satisfaction.nps': 'NPS', 'satisfaction.overall': 'Overall satisfaction',
    'satisfaction.responses': 'Responses', 'satisfaction.repurchase': 'Repurchase intention',
    'satisfaction.ci': '{level} CI {low} – {high}', 'satisfaction.respondents': '{n} respondents',
    'satisfaction.npsCounts': '{n} answers · promoters {p} · passives {m} · detractors {d}',
    'satisfaction.satisfiedShare': '{share} satisfied ({n} answers)',
    'satisfaction.noAnswers': 'This survey has no answers yet.',
    'satisfaction.dimensions': 'Index per dimension', 'satisfaction.dimension': 'Dimension', 'satisfaction.indicator': 'Indicator',
    'satisfaction.mean': 'Mean (1–5)', 'satisfaction.satisfied': 'Satisfied', 'satisfaction.count': 'Answers',
    'satisfaction.weight': 'Weight', 'satisfaction.indexScale': 'Index (0–100)',
    'satisfaction.indicators': 'Indicators', 'satisfaction.satisfiedFrom': 'Satisfied: the share of answers of {from} or more out of 5.',
    'satisfaction.trend': 'Monthly trend', 'satisfaction.month': 'Month', 'satisfaction.change': 'Change',
    'satisfaction.flag': 'Significant', 'satisfaction.trend.hint': 'Peak / trough: the month differs significantly from the other months; rise / fall: a significant change from the month before (Welch test, Holm-adjusted).',
    'satisfaction.drivers': 'Drivers: importance–performance matrix', 'satisfaction.importance': 'Importance', 'satisfaction.performance': 'Performance (0–100)',
    'satisfaction.quadrant': 'Quadrant', 'satisfaction.coefficient': 'Coefficient', 'satisfaction.target.OVERALL': 'Explaining overall satisfaction',
    'satisfaction.target.REPURCHASE': 'Explaining repurchase intention', 'satisfaction.rSquared': 'R² {r} · {n} complete respondents',
    'satisfaction.fixFirst': 'Fix first', 'satisfaction.fixFirst.none': 'No dimension to fix first.',
    'satisfaction.fixFirst.hint': 'By importance × (100 − performance): the room to gain, weighted by what it is worth.',
    'satisfaction.noDrivers': 'No driver weights: {why}',
    'satisfaction.byStore': 'By store', 'satisfaction.surveys': 'All surveys', 'satisfaction.code': 'Code',
    'satisfaction.surveyTitle': 'Title', 'satisfaction.model': 'Index model', 'satisfaction.status': 'Status',
    'satisfaction.status.ACTIVE': 'Active', 'satisfaction.status.ARCHIVED': 'Archived', 'satisfaction.created': 'Created',
    'satisfaction.sent': 'Invitations sent', 'satisfaction.responseRate': 'Response rate', 'satisfaction.current': 'shown',
  },
});

const SURVEYS = `query SatisfactionSurveys {
  satisfactionSurveys { code titleZh titleEn status createdAt responseCount
    indexModel { code zh en } invitations { sent answered expired responseRate } }
}`;

const FIGURE = 'count mean ciLow ciHigh satisfied satisfiedCiLow satisfiedCiHigh';
const ANALYTICS = `query SatisfactionPage($survey: String!, $where: SatisfactionAnalyticsWhere, $lang: Lang!) {
  satisfactionIndex(survey: $survey, where: $where) {
    ciLevel satisfiedFrom weights { dimension { code } weight }
    total { responses index { ${FIGURE} }
      dimensions { measure { code label(lang: $lang) } figure { ${FIGURE} } }
      indicators { measure { code label(lang: $lang) } figure { ${FIGURE} } }
      overall { ${FIGURE} } repurchase { ${FIGURE} }
      nps { answers promoters passives detractors score ciLow ciHigh } }
  }
  byStore: satisfactionIndex(survey: $survey, by: [STORE]) {
    slices { key { store } responses index { count mean ciLow ciHigh } nps { answers score ciLow ciHigh } }
  }
  satisfactionTrend(survey: $survey, where: $where) {
    month respondents index ciLow ciHigh flag { code label(lang: $lang) } change changeFlag { code label(lang: $lang) }
  }
  satisfactionDrivers(survey: $survey, where: $where) {
    target respondents rSquared warning
    weights { dimension { code } coefficient ciLow ciHigh importance }
    matrix { importanceCut performanceCut
      points { dimension { code label(lang: $lang) } importance performance priority quadrant { code label(lang: $lang) } }
      fixFirst { dimension { code label(lang: $lang) } importance performance priority } }
  }
}`;

const QUADRANT_COLORS = { FIX_FIRST: '#c62828', KEEP_UP: '#2e7d32', LOW_PRIORITY: '#9e9e9e', POSSIBLE_OVERKILL: '#ef6c00' };

const title = (s) => (getLang() === 'zh' ? s.titleZh : s.titleEn);
const modelName = (m) => (getLang() === 'zh' ? m.zh : m.en);
const monthLabel = (m) => `${Math.floor(m / 100)}-${String(m % 100).padStart(2, '0')}`;
const toIndex = (mean) => (mean === null || mean === undefined ? null : (mean - 1) * 25);  // 1–5 → 0–100
const signed = (v, digits = 1) => (v === null || v === undefined ? '—' : `${v > 0 ? '+' : ''}${number(v, digits)}`);

// The default choice: the most recent active survey that has answers (a
// survey just created, or a follow-up survey nobody has answered yet, would
// show an empty page), else the most recent active one, else the most recent.
function defaultSurvey(surveys) {
  const newest = (list) => [...list].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))[0];
  const active = surveys.filter((s) => s.status === 'ACTIVE');
  return newest(active.filter((s) => s.responseCount > 0)) || newest(active) || newest(surveys);
}

function hashOf(code, store) {
  return `#/satisfaction/${encodeURIComponent(code)}${store ? `/${encodeURIComponent(store)}` : ''}`;
}

function ciText(level, low, high, digits = 1) {
  if (low === null || low === undefined || high === null || high === undefined) return null;
  return t('satisfaction.ci', { level: percent(level, 0), low: number(low, digits), high: number(high, digits) });
}

function compare(testid, ...lines) {
  return lines.filter(Boolean).map((line) => h('div.stat-compare', { 'data-testid': testid }, line));
}

function headline(report) {
  const total = report.total;
  const level = report.ciLevel;
  const index = stat(t('satisfaction.index'), total.index.mean === null ? '—' : number(total.index.mean, 1), { testid: 'satisfaction-index' });
  index.append(...compare('satisfaction-index-ci', ciText(level, total.index.ciLow, total.index.ciHigh),
    t('satisfaction.respondents', { n: number(total.index.count) })));
  const nps = total.nps;
  const npsStat = stat(t('satisfaction.nps'), nps.score === null ? '—' : signed(nps.score), { testid: 'satisfaction-nps' });
  npsStat.append(...compare('satisfaction-nps-ci', ciText(level, nps.ciLow, nps.ciHigh),
    t('satisfaction.npsCounts', { n: number(nps.answers), p: number(nps.promoters), m: number(nps.passives), d: number(nps.detractors) })));
  const overall = total.overall;
  const overallStat = stat(t('satisfaction.overall'), overall.mean === null ? '—' : number(overall.mean, 2), { testid: 'satisfaction-overall' });
  overallStat.append(...compare('satisfaction-overall-ci', ciText(level, overall.ciLow, overall.ciHigh, 2),
    overall.count ? t('satisfaction.satisfiedShare', { share: percent(overall.satisfied), n: number(overall.count) }) : null));
  const rep = total.repurchase;
  const repStat = stat(t('satisfaction.repurchase'), rep.mean === null ? '—' : number(rep.mean, 2), { testid: 'satisfaction-repurchase' });
  repStat.append(...compare('satisfaction-repurchase-ci',
    rep.count ? t('satisfaction.satisfiedShare', { share: percent(rep.satisfied), n: number(rep.count) }) : null));
  return h('div.stats', {},
    stat(t('satisfaction.responses'), number(total.responses), { testid: 'satisfaction-responses' }),
    index, npsStat, overallStat, repStat);
}

// Tooltip lines as DOM: labels from the API may be a tenant's own text.
function tip(head, lines) {
  return h('div.sat-tip', {}, h('div', {}, h('b', {}, head)),
    lines.filter(([, v]) => v !== null && v !== undefined).map(([label, value]) =>
      h('div', {}, h('span.tip-label', {}, label, ' '), h('b', {}, value))));
}

function dimensionChart(node, report) {
  const dims = report.total.dimensions;
  const level = report.ciLevel;
  chart(node, {
    grid: { left: 140, right: 40, top: 10, bottom: 30 },
    tooltip: { trigger: 'item', confine: true, formatter: (p) => {
      const d = dims[p.dataIndex];
      return tip(d.measure.label, [
        [t('satisfaction.indexScale'), number(toIndex(d.figure.mean), 1)],
        ['', ciText(level, toIndex(d.figure.ciLow), toIndex(d.figure.ciHigh))],
        [t('satisfaction.mean'), number(d.figure.mean, 2)],
        [t('satisfaction.satisfied'), percent(d.figure.satisfied)],
        [t('satisfaction.count'), number(d.figure.count)]]);
    } },
    xAxis: { type: 'value', min: 0, max: 100 },
    yAxis: { type: 'category', inverse: true, data: dims.map((d) => d.measure.label), axisLabel: { width: 130, overflow: 'truncate' } },
    series: [{
      type: 'bar', data: dims.map((d) => toIndex(d.figure.mean)), itemStyle: { color: '#1565c0' },
      label: { show: true, position: 'right', formatter: (p) => number(p.value, 1) },
    }],
  });
}

function dimensionTable(report) {
  const weights = new Map(report.weights.map((w) => [w.dimension.code, w.weight]));
  return table([
    { label: t('satisfaction.dimension'), value: (d) => d.measure.label },
    { label: t('satisfaction.indexScale'), value: (d) => number(toIndex(d.figure.mean), 1), className: 'num' },
    { label: t('satisfaction.mean'), value: (d) => number(d.figure.mean, 2), className: 'num' },
    { label: t('satisfaction.satisfied'), value: (d) => percent(d.figure.satisfied), className: 'num' },
    { label: t('satisfaction.count'), value: (d) => number(d.figure.count), className: 'num' },
    { label: t('satisfaction.weight'), value: (d) => percent(weights.get(d.measure.code)), className: 'num' },
  ], report.total.dimensions, { testid: 'satisfaction-dimensions' });
}

function indicatorTable(report) {
  const rows = report.total.indicators;
  if (!rows.length) return table([], [], { testid: 'satisfaction-indicators' });
  return h('table.data', { 'data-testid': 'satisfaction-indicators' },
    h('thead', {}, h('tr', {},
      h('th', {}, t('satisfaction.indicator')), h('th.num', {}, t('satisfaction.mean')),
      h('th.num', {}, t('satisfaction.satisfied')), h('th.num', {}, t('satisfaction.count')))),
    h('tbody', {}, rows.map((r) => h('tr', { 'data-indicator': r.measure.code },
      h('td', {}, r.measure.label, h('span.hint', {}, ` ${r.measure.code}`)),
      h('td.num', { 'data-testid': 'indicator-mean' }, number(r.figure.mean, 2)),
      h('td.num', { 'data-testid': 'indicator-satisfied' }, percent(r.figure.satisfied)),
      h('td.num', { 'data-testid': 'indicator-count' }, number(r.figure.count))))));
}

function flagBadge(flag, kind) {
  if (!flag) return null;
  const good = flag.code === 'PEAK' || flag.code === 'RISE';
  return h(`span.badge.${good ? 'good' : 'bad'}`, { 'data-flag': flag.code, 'data-kind': kind }, flag.label);
}

function trendChart(node, points, level) {
  const months = points.map((p) => monthLabel(p.month));
  const flagged = points.map((p, i) => (p.flag || p.changeFlag ? i : null)).filter((i) => i !== null);
  chart(node, {
    grid: { left: 50, right: 20, top: 20, bottom: 40 },
    tooltip: { trigger: 'axis', confine: true, formatter: (items) => {
      const p = points[items[0].dataIndex];
      return tip(monthLabel(p.month), [
        [t('satisfaction.index'), number(p.index, 1)],
        ['', ciText(level, p.ciLow, p.ciHigh)],
        [t('satisfaction.change'), p.change === null ? null : signed(p.change)],
        [t('satisfaction.flag'), [p.flag, p.changeFlag].filter(Boolean).map((f) => f.label).join(' · ') || null],
        [t('satisfaction.responses'), number(p.respondents)]]);
    } },
    xAxis: { type: 'category', data: months },
    yAxis: { type: 'value', scale: true },
    series: [
      { type: 'line', name: 'low', data: points.map((p) => p.ciLow), lineStyle: { opacity: 0 }, symbol: 'none', stack: 'ci', silent: true },
      { type: 'line', name: 'band', data: points.map((p) => (p.ciHigh === null || p.ciLow === null ? null : p.ciHigh - p.ciLow)),
        lineStyle: { opacity: 0 }, symbol: 'none', stack: 'ci', areaStyle: { color: 'rgba(21,101,192,0.15)' }, silent: true },
      { type: 'line', name: t('satisfaction.index'), data: points.map((p) => p.index), itemStyle: { color: '#1565c0' },
        markPoint: { symbolSize: 36, data: flagged.map((i) => {
          const p = points[i];
          const f = p.flag || p.changeFlag;
          const up = f.code === 'PEAK' || f.code === 'RISE';
          return { coord: [i, p.index], value: f.label, itemStyle: { color: up ? '#2e7d32' : '#c62828' },
            symbolRotate: up ? 0 : 180, label: { fontSize: 9, offset: [0, up ? 0 : 4] } };
        }) } },
    ],
  });
}

function trendTable(points) {
  return table([
    { label: t('satisfaction.month'), value: (p) => monthLabel(p.month) },
    { label: t('satisfaction.index'), value: (p) => number(p.index, 1), className: 'num' },
    { label: t('satisfaction.change'), value: (p) => signed(p.change), className: 'num' },
    { label: t('satisfaction.responses'), value: (p) => number(p.respondents), className: 'num' },
    { label: t('satisfaction.flag'), value: (p) => [flagBadge(p.flag, 'level'), ' ', flagBadge(p.changeFlag, 'change')] },
  ], points, { testid: 'satisfaction-trend' });
}

function driversChart(node, drivers) {
  const m = drivers.matrix;
  const cut = (axis, value) => (value === null || value === undefined ? null : { [axis]: value });
  chart(node, {
    grid: { left: 60, right: 30, top: 20, bottom: 50 },
    tooltip: { trigger: 'item', confine: true, formatter: (p) => {
      const point = m.points[p.dataIndex];
      if (!point) return '';
      return tip(point.dimension.label, [
        [t('satisfaction.quadrant'), point.quadrant.label],
        [t('satisfaction.importance'), percent(point.importance)],
        [t('satisfaction.performance'), number(point.performance, 1)]]);
    } },
    xAxis: { type: 'value', name: t('satisfaction.performance'), nameLocation: 'middle', nameGap: 30, scale: true },
    yAxis: { type: 'value', name: t('satisfaction.importance'), nameLocation: 'middle', nameGap: 45, scale: true,
      axisLabel: { formatter: (v) => percent(v, 0) } },
    series: [{
      type: 'scatter', symbolSize: 16,
      data: m.points.map((p) => ({ value: [p.performance, p.importance], name: p.dimension.label,
        itemStyle: { color: QUADRANT_COLORS[p.quadrant.code] } })),
      label: { show: true, position: 'right', formatter: (p) => p.name },
      markLine: { silent: true, symbol: 'none', lineStyle: { type: 'dashed', color: '#90a4ae' }, label: { show: false },
        data: [cut('xAxis', m.performanceCut), cut('yAxis', m.importanceCut)].filter(Boolean) },
    }],
  });
}

function driversSection(drivers) {
  const m = drivers.matrix;
  const head = h('p.hint', {}, t(`satisfaction.target.${drivers.target}`),
    drivers.rSquared === null ? '' : ` · ${t('satisfaction.rSquared', { r: number(drivers.rSquared, 2), n: number(drivers.respondents) })}`);
  if (!m.points.length) {
    return [head, h('p.empty', { 'data-testid': 'satisfaction-no-drivers' }, t('satisfaction.noDrivers', { why: drivers.warning || '—' }))];
  }
  const weights = new Map(drivers.weights.map((w) => [w.dimension.code, w]));
  const scatter = h('div.chart.tall', { 'data-testid': 'satisfaction-ipa', role: 'img', 'aria-label': t('satisfaction.drivers') });
  const fix = m.fixFirst.length
    ? h('ol.sat-fix', { 'data-testid': 'satisfaction-fix-first' }, m.fixFirst.map((p) => h('li', { 'data-dimension': p.dimension.code },
      h('b', {}, p.dimension.label), ' ',
      h('span.hint', {}, `${t('satisfaction.importance')} ${percent(p.importance)} · ${t('satisfaction.performance')} ${number(p.performance, 1)}`))))
    : h('p.empty', { 'data-testid': 'satisfaction-fix-first' }, t('satisfaction.fixFirst.none'));
  const points = table([
    { label: t('satisfaction.dimension'), value: (p) => p.dimension.label },
    { label: t('satisfaction.quadrant'), value: (p) => h(`span.badge.sat-q-${p.quadrant.code.toLowerCase()}`, { 'data-quadrant': p.quadrant.code }, p.quadrant.label) },
    { label: t('satisfaction.importance'), value: (p) => percent(p.importance), className: 'num' },
    { label: t('satisfaction.coefficient'), value: (p) => {
      const w = weights.get(p.dimension.code);
      return w ? `${number(w.coefficient, 3)}${w.ciLow === null ? '' : ` [${number(w.ciLow, 3)}, ${number(w.ciHigh, 3)}]`}` : '—';
    }, className: 'num' },
    { label: t('satisfaction.performance'), value: (p) => number(p.performance, 1), className: 'num' },
  ], m.points, { testid: 'satisfaction-drivers' });
  return [head, h('div.sat-drivers', {}, scatter,
    h('div', {}, h('h3', {}, t('satisfaction.fixFirst')), fix, h('p.hint', {}, t('satisfaction.fixFirst.hint')))), points,
  () => driversChart(scatter, drivers)];
}

function storeTable(slices, code, store, level) {
  return table([
    { label: t('satisfaction.store'), value: (s) => (s.key.store
      ? h('a', { href: hashOf(code, s.key.store), 'aria-current': s.key.store === store ? 'true' : null }, s.key.store)
      : t('satisfaction.noStore')) },
    { label: t('satisfaction.responses'), value: (s) => number(s.responses), className: 'num' },
    { label: t('satisfaction.index'), value: (s) => number(s.index.mean, 1), className: 'num' },
    { label: '', value: (s) => ciText(level, s.index.ciLow, s.index.ciHigh) || '—', className: 'hint' },
    { label: t('satisfaction.nps'), value: (s) => signed(s.nps.score), className: 'num' },
  ], slices, { testid: 'satisfaction-stores' });
}

function surveyTable(surveys, current) {
  return h('table.data', { 'data-testid': 'satisfaction-surveys' },
    h('thead', {}, h('tr', {}, [
      t('satisfaction.code'), t('satisfaction.surveyTitle'), t('satisfaction.model'), t('satisfaction.status'),
      t('satisfaction.responses'), t('satisfaction.sent'), t('satisfaction.responseRate'), t('satisfaction.created'),
    ].map((label, i) => h(i >= 4 && i <= 6 ? 'th.num' : 'th', {}, label)))),
    h('tbody', {}, surveys.map((s) => h('tr', { 'data-survey': s.code },
      h('td', {}, h('a', { href: hashOf(s.code) }, s.code), s.code === current ? h('span.hint', {}, ` · ${t('satisfaction.current')}`) : null),
      h('td', {}, title(s)),
      h('td', {}, modelName(s.indexModel)),
      h('td', {}, h(`span.badge${s.status === 'ACTIVE' ? '.good' : ''}`, { 'data-status': s.status }, t(`satisfaction.status.${s.status}`))),
      h('td.num', { 'data-testid': 'survey-responses' }, number(s.responseCount)),
      h('td.num', {}, number(s.invitations.sent)),
      h('td.num', {}, percent(s.invitations.responseRate)),
      h('td', {}, date(s.createdAt))))));
}

export default {
  route: 'satisfaction', title: 'satisfaction.title', module: 'satisfaction',
  async render(view, ctx) {
    const { satisfactionSurveys: surveys } = await ctx.gql(SURVEYS);
    if (!surveys.length) {
      view.append(h('p.empty', { 'data-testid': 'satisfaction-none' }, t('satisfaction.none')));
      return;
    }
    const [code = '', store = ''] = ctx.params;
    const survey = code ? surveys.find((s) => s.code === code) : defaultSurvey(surveys);
    const list = card(t('satisfaction.surveys'), surveyTable(surveys, survey && survey.code));
    if (!survey) {
      view.append(h('p.empty', { 'data-testid': 'satisfaction-unknown' }, t('satisfaction.unknown', { code })), list);
      return;
    }

    const data = await ctx.gql(ANALYTICS, {
      survey: survey.code, where: store ? { store: [store] } : null, lang: ctx.apiLang,
    });
    const report = data.satisfactionIndex;
    const slices = data.byStore.slices;

    const surveySelect = h('select', { 'data-testid': 'satisfaction-survey', 'aria-label': t('satisfaction.survey'),
      onchange: (e) => ctx.navigate(hashOf(e.target.value)) },
    surveys.map((s) => h('option', { value: s.code, selected: s.code === survey.code }, `${title(s)} (${s.code})`)));
    const stores = slices.map((s) => s.key.store).filter(Boolean);
    const storeSelect = h('select', { 'data-testid': 'satisfaction-store', 'aria-label': t('satisfaction.store'),
      onchange: (e) => ctx.navigate(hashOf(survey.code, e.target.value)) },
    h('option', { value: '' }, t('satisfaction.allStores')),
    (store && !stores.includes(store) ? [store, ...stores] : stores).map((s) => h('option', { value: s, selected: s === store }, s)));
    view.append(h('div.toolbar.sat-toolbar', {},
      h('label.inline', {}, t('satisfaction.survey'), ' ', surveySelect),
      h('label.inline', {}, t('satisfaction.store'), ' ', storeSelect),
      h('span.hint', {}, `${modelName(survey.indexModel)} · ${t(`satisfaction.status.${survey.status}`)}`)));

    view.append(headline(report));
    const after = [];
    if (!report.total.responses) {
      view.append(h('p.empty', { 'data-testid': 'satisfaction-no-answers' }, t('satisfaction.noAnswers')));
    } else {
      const dimNode = h('div.chart', { 'data-testid': 'satisfaction-dimension-chart', role: 'img', 'aria-label': t('satisfaction.dimensions') });
      view.append(card(t('satisfaction.dimensions'), h('div.sat-two', {}, dimNode, dimensionTable(report))),
        card(t('satisfaction.indicators'), indicatorTable(report),
          h('p.hint', {}, t('satisfaction.satisfiedFrom', { from: report.satisfiedFrom }))));
      after.push(() => dimensionChart(dimNode, report));

      const points = data.satisfactionTrend;
      const trendNode = h('div.chart', { 'data-testid': 'satisfaction-trend-chart', role: 'img', 'aria-label': t('satisfaction.trend') });
      view.append(card(t('satisfaction.trend'), trendNode, h('p.hint', {}, t('satisfaction.trend.hint')), trendTable(points)));
      if (points.length) after.push(() => trendChart(trendNode, points, report.ciLevel));

      const section = driversSection(data.satisfactionDrivers);
      const draw = section.find((x) => typeof x === 'function');
      view.append(card(t('satisfaction.drivers'), section.filter((x) => typeof x !== 'function')));
      if (draw) after.push(draw);
    }
    if (slices.length) view.append(card(t('satisfaction.byStore'), storeTable(slices, survey.code, store, report.ciLevel)));
    view.append(list);
    for (const draw of after) draw();
  },
};
