// CLV: the fitted model's state, how predicted customer value is spread
// (a histogram on 1-2-5 money bands with each band's share of the value),
// and the customers worth the most. One request draws the page; "more"
// asks for the next customers only, and "compute" the model's parameters and
// its calibration/holdout check (the CLI's clv show and clv validate).
import { register, t } from '../i18n.js';
import { h, card, table, clear, stat, errorBox } from '../ui.js';
import { money, number, percent, dateTime } from '../format.js';
import { chart } from '../charts.js';

register({
  zh: {
    'clv.title': '客户终身价值',
    'clv.none': '还没有 CLV 模型。在「任务」页运行评分（clv）后，这里会显示客户价值预测。',
    'clv.total': '预计未来 {months} 个月总价值', 'clv.scored': '有预测的客户', 'clv.mean': '人均预计价值', 'clv.median': '预计价值中位数',
    'clv.topShare': '价值最高 10% 客户的价值占比',
    'clv.histogram': '客户预计价值分布', 'clv.histogram.hint': '柱：客户数；折线：该区间占总预计价值的比例。',
    'clv.band': '价值区间', 'clv.customers': '客户数', 'clv.shareCustomers': '客户占比', 'clv.value': '预计价值', 'clv.shareValue': '价值占比',
    'clv.buckets.show': '以表格查看各区间',
    'clv.model': '模型', 'clv.kind': '购买模型', 'clv.unit': '时间单位', 'clv.fittedAt': '拟合时间', 'clv.asOf': '数据截至',
    'clv.fittedOn': '拟合客户数', 'clv.spendModel': '客单价模型', 'clv.horizon': '预测期', 'clv.horizon.months': '{months} 个月',
    'clv.margin': '毛利率', 'clv.validation': '留出期检验',
    'clv.validation.text': '最近 {days} 天：实际 {actual} 次，预测 {predicted} 次；每位客户平均误差 {mae} 次',
    'clv.validation.none': '本次没有留出期检验（历史太短或检验拟合失败，见提示）',
    'clv.warnings': '模型提示', 'clv.warnings.none': '无',
    'clv.unit.DAY': '天', 'clv.unit.WEEK': '周', 'clv.unit.MONTH': '月',
    'clv.spend.GAMMA_GAMMA': 'Gamma-Gamma', 'clv.spend.MEAN_SPEND': '平均客单价（Gamma-Gamma 未能拟合）',
    'clv.top': '预计价值最高的客户', 'clv.rank': '#', 'clv.name': '客户', 'clv.store': '门店',
    'clv.predicted': '预计价值', 'clv.purchases': '未来一年预计购买', 'clv.alive': '仍活跃概率', 'clv.spend': '预计客单价',
    'clv.historical': '历史消费', 'clv.decile': '价值十分位', 'clv.more': '显示更多', 'clv.shown': '显示 {shown} / {count} 位',
    'clv.unnamed': '（已删除姓名）',
    'clv.report': '模型参数与留出期检验', 'clv.report.hint': '拟合的参数及其标准误，以及校准期/留出期的预测与实际对比（与命令行 clv show、clv validate 相同）；点击“计算”后查询。',
    'clv.report.compute': '计算', 'clv.report.computing': '计算中…', 'clv.report.idle': '尚未计算', 'clv.report.took': '用时 {s} 秒',
    'clv.report.parameters': '拟合参数', 'clv.report.fit': '{kind}，时间单位：{unit}；{customers} 位客户（{rows} 种不同数据行）；对数似然 {ll}',
    'clv.report.purchases': '购买模型', 'clv.report.parameter': '参数', 'clv.report.estimate': '估计值', 'clv.report.stdError': '标准误',
    'clv.report.noSpendParameters': '平均客单价模型没有参数',
    'clv.report.holdout': '校准期 / 留出期对比', 'clv.report.calibration': '校准期截至', 'clv.report.observation': '留出期',
    'clv.report.holdoutPeriod': '{days} 天，至 {end}', 'clv.report.totalActual': '留出期实际购买次数', 'clv.report.totalPredicted': '留出期预测购买次数',
    'clv.report.ratio': '预测 / 实际', 'clv.report.mae': '每位客户平均绝对误差', 'clv.report.correlation': '预测与实际的相关系数',
    'clv.report.byFrequency': '按校准期复购次数：留出期人均购买', 'clv.report.frequency': '校准期复购次数',
    'clv.report.actual': '实际', 'clv.report.predicted': '预测', 'clv.report.meanActual': '人均实际', 'clv.report.meanPredicted': '人均预测',
  },
  en: {
    'clv.title': 'Customer lifetime value',
    'clv.none': 'No CLV model yet. Run scoring (clv) on the Jobs page and the predictions appear here.',
    'clv.total': 'Predicted value, next {months} months', 'clv.scored': 'Customers with a prediction', 'clv.mean': 'Mean predicted value',
    'clv.median': 'Median predicted value', 'clv.topShare': 'Share of value held by the top 10%',
    'clv.histogram': 'Predicted value per customer', 'clv.histogram.hint': 'Bars: customers; line: the band\'s share of all predicted value.',
    'clv.band': 'Value band', 'clv.customers': 'Customers', 'clv.shareCustomers': 'Share of customers', 'clv.value': 'Predicted value',
    'clv.shareValue': 'Share of value', 'clv.buckets.show': 'View the bands as a table',
    'clv.model': 'Model', 'clv.kind': 'Purchase model', 'clv.unit': 'Time unit', 'clv.fittedAt': 'Fitted at', 'clv.asOf': 'Data as of',
    'clv.fittedOn': 'Customers fitted on', 'clv.spendModel': 'Spend model', 'clv.horizon': 'Horizon', 'clv.horizon.months': '{months} months',
    'clv.margin': 'Margin', 'clv.validation': 'Holdout check',
    'clv.validation.text': 'Last {days} days: {actual} purchases happened, {predicted} predicted; mean error {mae} per customer',
    'clv.validation.none': 'No holdout check in this run (history too short, or its fit failed: see the warnings)',
    'clv.warnings': 'Warnings', 'clv.warnings.none': 'None',
    'clv.unit.DAY': 'Days', 'clv.unit.WEEK': 'Weeks', 'clv.unit.MONTH': 'Months',
    'clv.spend.GAMMA_GAMMA': 'Gamma-Gamma', 'clv.spend.MEAN_SPEND': 'Mean spend (Gamma-Gamma could not be fitted)',
    'clv.top': 'Customers worth the most', 'clv.rank': '#', 'clv.name': 'Customer', 'clv.store': 'Store',
    'clv.predicted': 'Predicted value', 'clv.purchases': 'Expected purchases, next year', 'clv.alive': 'Probability active',
    'clv.spend': 'Expected spend per purchase', 'clv.historical': 'Spent so far', 'clv.decile': 'Value decile',
    'clv.more': 'Show more', 'clv.shown': '{shown} of {count} shown', 'clv.unnamed': '(name erased)',
    'clv.report': 'Model parameters and holdout check', 'clv.report.hint': "The fitted parameters with their standard errors, and the calibration/holdout comparison of predicted and actual purchases (the CLI's clv show and clv validate); asked for when you press Compute.",
    'clv.report.compute': 'Compute', 'clv.report.computing': 'Computing…', 'clv.report.idle': 'Not computed yet', 'clv.report.took': 'Took {s} s',
    'clv.report.parameters': 'Fitted parameters', 'clv.report.fit': '{kind}, time unit: {unit}; {customers} customers ({rows} distinct rows); log-likelihood {ll}',
    'clv.report.purchases': 'Purchase model', 'clv.report.parameter': 'Parameter', 'clv.report.estimate': 'Estimate', 'clv.report.stdError': 'Std. error',
    'clv.report.noSpendParameters': 'The mean spend model has no parameters',
    'clv.report.holdout': 'Calibration / holdout', 'clv.report.calibration': 'Calibration ends', 'clv.report.observation': 'Holdout',
    'clv.report.holdoutPeriod': '{days} days, to {end}', 'clv.report.totalActual': 'Holdout purchases, actual', 'clv.report.totalPredicted': 'Holdout purchases, predicted',
    'clv.report.ratio': 'Predicted / actual', 'clv.report.mae': 'Mean absolute error per customer', 'clv.report.correlation': 'Correlation, per customer',
    'clv.report.byFrequency': 'Mean holdout purchases by calibration repeat purchases', 'clv.report.frequency': 'Repeat purchases in calibration',
    'clv.report.actual': 'Actual', 'clv.report.predicted': 'Predicted', 'clv.report.meanActual': 'Mean actual', 'clv.report.meanPredicted': 'Mean predicted',
  },
});

const PAGE_SIZE = 20;
const KINDS = { BG_NBD: 'BG/NBD', MBG_NBD: 'MBG/NBD', PARETO_NBD: 'Pareto/NBD' };
const TOP_FIELDS = `pageInfo { hasNextPage endCursor }
    edges { node { id name store clv { predictedValue probabilityAlive expectedPurchases(days: 365) expectedSpend historicalValue valueDecile } } }`;
const TOP_ARGS = `orderBy: {field: CLV_PREDICTED_VALUE, direction: DESC}, where: {clv: {valueDecile: {gte: 1}}}`;

const PAGE = `query ClvPage($first: Int!) {
  clvModel { kind unit customers spendModel fittedAt asOf warnings
    validation { holdoutDays customers totalActual totalPredicted meanAbsoluteError } }
  clvDistribution { customers totalPredictedValue meanPredictedValue medianPredictedValue horizonMonths margin
    buckets { lower upper customers shareOfCustomers value shareOfValue }
    deciles { decile customers value shareOfValue } }
  top: customers(first: $first, ${TOP_ARGS}) { ${TOP_FIELDS} }
}`;
const MORE = `query ClvTop($first: Int!, $after: String) { top: customers(first: $first, after: $after, ${TOP_ARGS}) { ${TOP_FIELDS} } }`;

// A money bound: cents only where the amount is below one unit.
const bound = (value) => money(value, Number(value) < 1 && Number(value) > 0 ? 2 : 0);
const band = (b) => `${bound(b.lower)}–${bound(b.upper)}`;

function tooltip(b) {
  const line = (label, value) => h('div', {}, h('span.tip-label', {}, label, ' '), h('b', {}, value));
  return h('div.clv-tip', {}, h('div', {}, h('b', {}, band(b))),
    line(t('clv.customers'), `${number(b.customers)} (${percent(b.shareOfCustomers)})`),
    line(t('clv.value'), `${money(b.value)} (${percent(b.shareOfValue)})`));
}

function histogramOption(buckets) {
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true, formatter: (items) => tooltip(buckets[items[0].dataIndex]) },
    legend: { data: [t('clv.customers'), t('clv.shareValue')], top: 0 },
    grid: { left: 56, right: 56, top: 36, bottom: 64 },
    xAxis: { type: 'category', data: buckets.map(band), axisLabel: { rotate: 30, fontSize: 11, interval: 0 } },
    yAxis: [
      { type: 'value', name: t('clv.customers'), minInterval: 1, axisLabel: { formatter: (v) => number(v) } },
      { type: 'value', name: t('clv.shareValue'), min: 0, max: 1, axisLabel: { formatter: (v) => percent(v, 0) }, splitLine: { show: false } },
    ],
    series: [
      { name: t('clv.customers'), type: 'bar', data: buckets.map((b) => b.customers), itemStyle: { color: '#f48fb1' }, barCategoryGap: '12%' },
      { name: t('clv.shareValue'), type: 'line', yAxisIndex: 1, data: buckets.map((b) => b.shareOfValue), itemStyle: { color: '#6d0f33' }, symbolSize: 6 },
    ],
  };
}

function bucketTable(buckets) {
  return table([
    { label: t('clv.band'), value: band },
    { label: t('clv.customers'), value: (b) => number(b.customers), className: 'num' },
    { label: t('clv.shareCustomers'), value: (b) => percent(b.shareOfCustomers), className: 'num' },
    { label: t('clv.value'), value: (b) => money(b.value), className: 'num' },
    { label: t('clv.shareValue'), value: (b) => percent(b.shareOfValue), className: 'num' },
  ], buckets, { testid: 'clv-buckets' });
}

function modelCard(model, dist) {
  const v = model.validation;
  const rows = [
    [t('clv.kind'), KINDS[model.kind] || model.kind],
    [t('clv.unit'), t(`clv.unit.${model.unit}`)],
    [t('clv.fittedOn'), number(model.customers)],
    [t('clv.spendModel'), t(`clv.spend.${model.spendModel}`)],
    [t('clv.horizon'), dist && dist.horizonMonths ? t('clv.horizon.months', { months: number(dist.horizonMonths) }) : '—'],
    [t('clv.margin'), dist && dist.margin !== null ? percent(dist.margin, 0) : '—'],
    [t('clv.asOf'), dateTime(model.asOf)],
    [t('clv.fittedAt'), dateTime(model.fittedAt)],
    [t('clv.validation'), v ? t('clv.validation.text', { days: number(v.holdoutDays), actual: number(v.totalActual),
      predicted: number(v.totalPredicted), mae: number(v.meanAbsoluteError, 2) }) : t('clv.validation.none')],
  ];
  return card(t('clv.model'),
    h('dl.clv-model', { 'data-testid': 'clv-model' }, rows.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)])),
    h('h2', {}, t('clv.warnings')),
    model.warnings.length
      ? h('ul.clv-warnings', { 'data-testid': 'clv-warnings' }, model.warnings.map((w) => h('li', {}, w)))
      : h('p.hint', { 'data-testid': 'clv-warnings' }, t('clv.warnings.none')));
}

// -- On demand: the fitted model (clv show) and its calibration/holdout check (clv validate).
const REPORT = `query ClvReport {
  clvModel { kind unit customers uniqueRows logLikelihood spendModel warnings
    parameters { name value stdError } spendParameters { name value stdError }
    validation { holdoutDays calibrationEnd observationEnd customers totalActual totalPredicted meanAbsoluteError correlation
      byFrequency { frequency customers meanActual meanPredicted } } }
}`;

function parameterTable(parameters, testid) {
  return table([
    { label: t('clv.report.parameter'), value: (p) => h('code', {}, p.name) },
    { label: t('clv.report.estimate'), value: (p) => number(p.value, 4), className: 'num' },
    { label: t('clv.report.stdError'), value: (p) => number(p.stdError, 4), className: 'num' },
  ], parameters, { testid });
}

function parametersCard(model) {
  return card(t('clv.report.parameters'),
    h('p', { 'data-testid': 'clv-report-fit' }, t('clv.report.fit', {
      kind: KINDS[model.kind] || model.kind, unit: t(`clv.unit.${model.unit}`), customers: number(model.customers),
      rows: number(model.uniqueRows), ll: number(model.logLikelihood, 2) })),
    h('h3', {}, t('clv.report.purchases')),
    parameterTable(model.parameters, 'clv-report-parameters'),
    h('h3', {}, `${t('clv.spendModel')}: ${t(`clv.spend.${model.spendModel}`)}`),
    model.spendParameters.length ? parameterTable(model.spendParameters, 'clv-report-spend-parameters')
      : h('p.hint', { 'data-testid': 'clv-report-spend-parameters' }, t('clv.report.noSpendParameters')));
}

function holdoutOption(groups) {
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true, valueFormatter: (v) => number(v, 3) },
    legend: { data: [t('clv.report.actual'), t('clv.report.predicted')], top: 0 },
    grid: { left: 48, right: 16, top: 36, bottom: 48 },
    xAxis: { type: 'category', name: t('clv.report.frequency'), nameLocation: 'middle', nameGap: 28, data: groups.map((g) => g.frequency) },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => number(v, 1) } },
    series: [
      { name: t('clv.report.actual'), type: 'bar', data: groups.map((g) => g.meanActual), itemStyle: { color: '#6d0f33' } },
      { name: t('clv.report.predicted'), type: 'bar', data: groups.map((g) => g.meanPredicted), itemStyle: { color: '#f48fb1' } },
    ],
  };
}

function holdoutCard(model) {
  const v = model.validation;
  if (!v) {
    const why = model.warnings.filter((w) => w.startsWith('validation'));
    return card(t('clv.report.holdout'), h('p.empty', { 'data-testid': 'clv-report-holdout' }, t('clv.validation.none')),
      why.length ? h('ul.clv-report-warnings', {}, why.map((w) => h('li', {}, w))) : null);
  }
  const chartNode = h('div.chart', { 'data-testid': 'clv-report-holdout-chart', role: 'img', 'aria-label': t('clv.report.byFrequency') });
  setTimeout(() => {  // ECharts measures its node: draw once it is in the document
    if (!chartNode.isConnected) return;
    chart(chartNode, holdoutOption(v.byFrequency));
    chartNode.dataset.drawn = 'true';
  }, 0);
  const rows = [
    [t('clv.report.calibration'), `${dateTime(v.calibrationEnd)}`],
    [t('clv.report.observation'), t('clv.report.holdoutPeriod', { days: number(v.holdoutDays), end: dateTime(v.observationEnd) })],
    [t('clv.customers'), number(v.customers)],
    [t('clv.report.totalActual'), number(v.totalActual)],
    [t('clv.report.totalPredicted'), number(v.totalPredicted, 1)],
    [t('clv.report.ratio'), v.totalActual > 0 ? number(v.totalPredicted / v.totalActual, 3) : '—'],
    [t('clv.report.mae'), number(v.meanAbsoluteError, 3)],
    [t('clv.report.correlation'), v.correlation === null ? '—' : number(v.correlation, 3)],
  ];
  return card(t('clv.report.holdout'),
    h('dl.clv-model', { 'data-testid': 'clv-report-holdout' }, rows.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)])),
    h('h3', {}, t('clv.report.byFrequency')), chartNode,
    table([
      { label: t('clv.report.frequency'), value: (g) => g.frequency },
      { label: t('clv.customers'), value: (g) => number(g.customers), className: 'num' },
      { label: t('clv.report.meanActual'), value: (g) => number(g.meanActual, 3), className: 'num' },
      { label: t('clv.report.meanPredicted'), value: (g) => number(g.meanPredicted, 3), className: 'num' },
    ], v.byFrequency, { testid: 'clv-report-by-frequency' }));
}

function reportCard(ctx) {
  const result = h('div.clv-report-result', { 'data-testid': 'clv-report-result' });
  const status = h('span.hint', { role: 'status', 'data-testid': 'clv-report-status' }, t('clv.report.idle'));
  const button = h('button', {
    type: 'button', 'data-testid': 'clv-report-compute',
    onclick: async () => {
      button.disabled = true;
      result.setAttribute('aria-busy', 'true');
      status.textContent = t('clv.report.computing');
      const started = performance.now();
      try {
        const model = (await ctx.gql(REPORT)).clvModel;
        clear(result, model ? h('div.clv-report-grid', {}, parametersCard(model), holdoutCard(model)) : h('p.empty', {}, t('clv.none')));
        status.textContent = t('clv.report.took', { s: number((performance.now() - started) / 1000, 1) });
        result.dataset.computed = 'true';
      } catch (error) {
        clear(result, errorBox(error));
        status.textContent = '';
      } finally {
        button.disabled = false;
        result.removeAttribute('aria-busy');
      }
    },
  }, t('clv.report.compute'));
  return h('section.card', { 'data-testid': 'clv-report' }, h('h2', {}, t('clv.report')), h('p.hint', {}, t('clv.report.hint')),
    h('div.clv-report-controls', {}, button, status), result);
}

export default {
  route: 'clv', title: 'clv.title', module: 'clv',
  async render(view, ctx) {
    const data = await ctx.gql(PAGE, { first: PAGE_SIZE });
    const { clvModel: model, clvDistribution: dist } = data;
    if (!model || !dist) {
      view.append(h('p.empty', { 'data-testid': 'clv-none' }, t('clv.none')));
      return;
    }
    const top = dist.deciles.find((d) => d.decile === 10);
    view.append(h('div.stats', {},
      stat(t('clv.total', { months: number(dist.horizonMonths) }), money(dist.totalPredictedValue), { testid: 'clv-total' }),
      stat(t('clv.scored'), number(dist.customers), { testid: 'clv-scored' }),
      stat(t('clv.mean'), money(dist.meanPredictedValue)),
      stat(t('clv.median'), money(dist.medianPredictedValue)),
      stat(t('clv.topShare'), percent(top ? top.shareOfValue : 0), { testid: 'clv-top-share' })));

    const chartNode = h('div.chart.tall', { 'data-testid': 'clv-histogram', role: 'img', 'aria-label': t('clv.histogram') });
    view.append(h('div.clv-layout', {},
      card(t('clv.histogram'), chartNode, h('p.hint', {}, t('clv.histogram.hint')),
        h('details', {}, h('summary', { 'data-testid': 'clv-buckets-toggle' }, t('clv.buckets.show')), bucketTable(dist.buckets))),
      modelCard(model, dist)));
    view.append(reportCard(ctx));

    // The customers worth the most, ranked; "more" appends the next page.
    const rows = [];
    const list = h('div');
    const footer = h('div.toolbar');
    const columns = [
      { label: t('clv.rank'), value: (c) => number(c.rank), className: 'num' },
      { label: t('clv.name'), value: (c) => h('a', { href: `#/customer/${encodeURIComponent(c.id)}` }, c.name || t('clv.unnamed')) },
      { label: t('clv.store'), value: (c) => c.store || '—' },
      { label: t('clv.predicted'), value: (c) => money(c.clv.predictedValue, 2), className: 'num' },
      { label: t('clv.purchases'), value: (c) => number(c.clv.expectedPurchases, 1), className: 'num' },
      { label: t('clv.alive'), value: (c) => percent(c.clv.probabilityAlive, 0), className: 'num' },
      { label: t('clv.spend'), value: (c) => money(c.clv.expectedSpend, 2), className: 'num' },
      { label: t('clv.historical'), value: (c) => money(c.clv.historicalValue, 2), className: 'num' },
      { label: t('clv.decile'), value: (c) => number(c.clv.valueDecile), className: 'num' },
    ];
    const show = (page) => {
      rows.push(...page.edges.map((e, i) => ({ ...e.node, rank: rows.length + i + 1 })));
      clear(list, table(columns, rows, { testid: 'clv-top' }));
      const more = page.pageInfo.hasNextPage ? h('button.secondary', {
        type: 'button', 'data-testid': 'clv-more',
        onclick: async (event) => {
          event.target.disabled = true;
          try {
            show((await ctx.gql(MORE, { first: PAGE_SIZE, after: page.pageInfo.endCursor })).top);
          } catch (error) {
            clear(footer, h('p.error', { role: 'alert' }, String(error.message || error)));
          }
        },
      }, t('clv.more')) : null;
      clear(footer, more, h('span.hint', {}, t('clv.shown', { shown: number(rows.length), count: number(dist.customers) })));
    };
    show(data.top);
    view.append(card(t('clv.top'), list, footer));

    setTimeout(() => {  // ECharts measures its node: draw once the shell has put the page in the document
      if (!chartNode.isConnected) return;
      chart(chartNode, histogramOption(dist.buckets));
      chartNode.dataset.drawn = 'true';
    }, 0);
  },
};
