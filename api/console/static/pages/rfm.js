// RFM: the latest run as a heat map of recency score × frequency score (the
// number of customers per cell), the segments with their shares and
// recommended actions, and the customers of a cell or a segment.
//
// Routes: #/rfm, #/rfm/<R>/<F> (a cell), #/rfm/segment/<CODE>. The page draws
// with one request (grid and segments) and a second for the customers of the
// chosen cell; choosing another cell or paging asks for that list only and
// updates the address without drawing the page again.
import { register, t } from '../i18n.js';
import { h, card, table, clear, stat } from '../ui.js';
import { money, number, percent, date, dateTime } from '../format.js';
import { chart } from '../charts.js';

register({
  zh: {
    'rfm.title': 'RFM 客户分层',
    'rfm.none': '还没有 RFM 评分。在「任务」页运行评分（rfm）后，这里会显示客户分层。',
    'rfm.scored': '已评分客户', 'rfm.unscored': '未评分客户', 'rfm.unscored.hint': '未评分客户在评分窗口内没有购买，不属于任何分层。',
    'rfm.computedAt': '评分时间', 'rfm.asOf': '数据截至', 'rfm.scheme': '分层方案', 'rfm.window': '评分窗口',
    'rfm.window.all': '全部历史', 'rfm.window.days': '最近 {days} 天',
    'rfm.scheme.RF_GRID_10': 'RF 网格（10 类）', 'rfm.scheme.RFM_MEAN_8': 'RFM 均值（8 类）', 'rfm.scheme.ABC': 'ABC 消费分级',
    'rfm.heatmap': '最近购买 × 购买频次（客户数）', 'rfm.axis.r': '最近购买 R（越高越近）', 'rfm.axis.f': '购买频次 F（越高越多）',
    'rfm.heatmap.hint': '点击格子查看该格客户。',
    'rfm.cells.show': '以表格查看各格', 'rfm.cells.rf': 'R \\ F',
    'rfm.segments': '客户分层', 'rfm.segment': '分层', 'rfm.customers': '客户数', 'rfm.shareCustomers': '客户占比',
    'rfm.revenue': '净消费', 'rfm.shareRevenue': '消费占比', 'rfm.avgMonetary': '人均消费', 'rfm.avgRecency': '平均距今天数',
    'rfm.avgFrequency': '平均购买次数', 'rfm.action': '建议动作',
    'rfm.cell': 'R{r} · F{f}', 'rfm.cellOf': '{cell}：{segment}',
    'rfm.drill': '{what} 的客户（{count} 位）', 'rfm.drill.pick': '在上方点击一个格子或分层，查看其中的客户。',
    'rfm.drill.bad': '没有这个格子或分层：{what}',
    'rfm.name': '客户', 'rfm.store': '门店', 'rfm.lastPurchase': '最近购买', 'rfm.purchases': '购买次数', 'rfm.spent': '净消费',
    'rfm.drill.note': '购买次数与净消费为本次评分窗口内的数值，按净消费从高到低排列。',
    'rfm.prev': '上一页', 'rfm.next': '下一页', 'rfm.range': '第 {from}–{to} 位，共 {count} 位', 'rfm.unnamed': '（已删除姓名）',
    'rfm.days': '{days} 天',
  },
  en: {
    'rfm.title': 'RFM segments',
    'rfm.none': 'No RFM scores yet. Run scoring (rfm) on the Jobs page and the segments appear here.',
    'rfm.scored': 'Scored customers', 'rfm.unscored': 'Unscored customers', 'rfm.unscored.hint': 'Unscored customers made no purchase in the scoring window and are in no segment.',
    'rfm.computedAt': 'Scored at', 'rfm.asOf': 'Data as of', 'rfm.scheme': 'Scheme', 'rfm.window': 'Window',
    'rfm.window.all': 'All history', 'rfm.window.days': 'Last {days} days',
    'rfm.scheme.RF_GRID_10': 'RF grid (10 segments)', 'rfm.scheme.RFM_MEAN_8': 'RFM mean (8 segments)', 'rfm.scheme.ABC': 'ABC by spend',
    'rfm.heatmap': 'Recency × frequency (customers)', 'rfm.axis.r': 'Recency R (higher = more recent)', 'rfm.axis.f': 'Frequency F (higher = more often)',
    'rfm.heatmap.hint': 'Click a cell to list its customers.',
    'rfm.cells.show': 'View the cells as a table', 'rfm.cells.rf': 'R \\ F',
    'rfm.segments': 'Segments', 'rfm.segment': 'Segment', 'rfm.customers': 'Customers', 'rfm.shareCustomers': 'Share of customers',
    'rfm.revenue': 'Net spend', 'rfm.shareRevenue': 'Share of spend', 'rfm.avgMonetary': 'Avg spend', 'rfm.avgRecency': 'Avg days since purchase',
    'rfm.avgFrequency': 'Avg purchases', 'rfm.action': 'Recommended action',
    'rfm.cell': 'R{r} · F{f}', 'rfm.cellOf': '{cell}: {segment}',
    'rfm.drill': 'Customers of {what} ({count})', 'rfm.drill.pick': 'Click a cell or a segment above to list its customers.',
    'rfm.drill.bad': 'No such cell or segment: {what}',
    'rfm.name': 'Customer', 'rfm.store': 'Store', 'rfm.lastPurchase': 'Last purchase', 'rfm.purchases': 'Purchases', 'rfm.spent': 'Net spend',
    'rfm.drill.note': 'Purchases and net spend are those of the scoring window; biggest spenders first.',
    'rfm.prev': 'Previous', 'rfm.next': 'Next', 'rfm.range': '{from}–{to} of {count}', 'rfm.unnamed': '(name erased)',
    'rfm.days': '{days} days',
  },
});

const PAGE_SIZE = 20;

const OVERVIEW = `query RfmPage($lang: Lang!) {
  rfmGrid { k cells { rScore fScore customers shareOfCustomers revenue shareOfRevenue avgRecencyDays avgFrequency avgMonetary
    segment { code label(lang: $lang) } } }
  rfmSegments { scheme computedAt asOf settings scored unscored
    segments { segment { code label(lang: $lang) action(lang: $lang) }
      customers shareOfCustomers revenue shareOfRevenue avgRecencyDays avgFrequency avgMonetary } }
}`;

const CUSTOMERS = `query RfmCustomers($where: CustomerWhere!, $first: Int!, $after: String, $lang: Lang!) {
  customers(first: $first, after: $after, where: $where, orderBy: {field: RFM_MONETARY, direction: DESC}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name store lastPurchaseAt rfm { rScore fScore frequency monetary segment { label(lang: $lang) } } } }
  }
}`;

// What the address asks for: a cell {r, f}, a segment {segment}, or nothing.
function parse(params) {
  if (params[0] === 'segment' && params[1]) return { segment: params[1] };
  if (params.length >= 2) return { r: Number(params[0]), f: Number(params[1]), raw: `${params[0]}/${params[1]}` };
  return null;
}

function hashOf(choice) {
  return choice.segment ? `#/rfm/segment/${encodeURIComponent(choice.segment)}` : `#/rfm/${choice.r}/${choice.f}`;
}

function whereOf(choice) {
  return choice.segment ? { rfm: { segment: { eq: choice.segment } } }
    : { rfm: { rScore: { eq: choice.r }, fScore: { eq: choice.f } } };
}

// The cell's tooltip, built as DOM (ECharts appends it; no HTML string).
function tooltip(cell) {
  const line = (label, value) => h('div', {}, h('span.tip-label', {}, label, ' '), h('b', {}, value));
  return h('div.rfm-tip', {},
    h('div', {}, h('b', {}, t('rfm.cell', { r: cell.rScore, f: cell.fScore })), cell.segment ? ` · ${cell.segment.label}` : ''),
    line(t('rfm.customers'), `${number(cell.customers)} (${percent(cell.shareOfCustomers)})`),
    line(t('rfm.revenue'), `${money(cell.revenue)} (${percent(cell.shareOfRevenue)})`),
    line(t('rfm.avgMonetary'), money(cell.avgMonetary)),
    line(t('rfm.avgFrequency'), number(cell.avgFrequency, 1)),
    line(t('rfm.avgRecency'), number(cell.avgRecencyDays, 0)));
}

function heatmapOption(grid, selected, labelWidth = 80) {
  const k = grid.k;
  const max = Math.max(1, ...grid.cells.map((c) => c.customers));
  const chosen = (c) => selected && (selected.segment ? c.segment && c.segment.code === selected.segment
    : c.rScore === selected.r && c.fScore === selected.f);
  const byKey = new Map(grid.cells.map((c) => [`${c.rScore}/${c.fScore}`, c]));
  const scores = Array.from({ length: k }, (_, i) => String(i + 1));
  return {
    tooltip: { confine: true, formatter: (p) => tooltip(byKey.get(`${p.data.r}/${p.data.f}`)) },
    grid: { left: 56, right: 16, top: 12, bottom: 64 },
    xAxis: { type: 'category', data: scores, name: t('rfm.axis.f'), nameLocation: 'middle', nameGap: 28, splitArea: { show: true } },
    yAxis: { type: 'category', data: scores, name: t('rfm.axis.r'), nameLocation: 'middle', nameGap: 36, splitArea: { show: true } },
    visualMap: { min: 0, max, calculable: false, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120,
      inRange: { color: ['#fdf2f6', '#f48fb1', '#c2185b', '#6d0f33'] }, textStyle: { fontSize: 11 } },
    series: [{
      type: 'heatmap',
      data: grid.cells.map((c) => ({
        value: [c.fScore - 1, c.rScore - 1, c.customers], r: c.rScore, f: c.fScore,
        itemStyle: chosen(c) ? { borderColor: '#1f2933', borderWidth: 3 } : { borderColor: '#fff', borderWidth: 1 },
      })),
      label: {
        show: true, color: '#1f2933', textBorderColor: '#fff', textBorderWidth: 2, fontSize: 12, lineHeight: 17,
        formatter: (p) => {
          const cell = byKey.get(`${p.data.r}/${p.data.f}`);
          // The segment's name where the cell is wide enough for it; the tooltip and the table always have it.
          return cell.segment && labelWidth >= 64 ? `${number(cell.customers)}\n${cell.segment.label}` : number(cell.customers);
        },
      },
      emphasis: { itemStyle: { borderColor: '#1f2933', borderWidth: 2 } },
    }],
  };
}

// The same cells as a table of links: the drill-down without a mouse.
function cellTable(grid, choose) {
  const k = grid.k;
  const byKey = new Map(grid.cells.map((c) => [`${c.rScore}/${c.fScore}`, c]));
  const rows = [];
  for (let r = k; r >= 1; r -= 1) {
    rows.push(h('tr', {}, h('th', {}, `R${r}`), Array.from({ length: k }, (_, i) => {
      const cell = byKey.get(`${r}/${i + 1}`);
      const label = t('rfm.cell', { r, f: i + 1 }) + (cell.segment ? ` · ${cell.segment.label}` : '');
      return h('td.num', {}, h('a', {
        href: hashOf({ r, f: i + 1 }), title: label, 'aria-label': `${label}: ${number(cell.customers)}`,
        'data-testid': `rfm-cell-${r}-${i + 1}`, dataset: { customers: cell.customers },
        onclick: (event) => { event.preventDefault(); choose({ r, f: i + 1 }); },
      }, number(cell.customers)));
    })));
  }
  return h('table.data.rfm-cells', { 'data-testid': 'rfm-cells' },
    h('thead', {}, h('tr', {}, h('th', {}, t('rfm.cells.rf')), Array.from({ length: k }, (_, i) => h('th.num', {}, `F${i + 1}`)))),
    h('tbody', {}, rows));
}

function segmentTable(summary, choose) {
  const columns = [
    { label: `${t('rfm.segment')} · ${t('rfm.action')}`, className: 'rfm-seg', value: (s) => [h('a', {
      href: hashOf({ segment: s.segment.code }), 'data-testid': `rfm-segment-${s.segment.code}`,
      onclick: (event) => { event.preventDefault(); choose({ segment: s.segment.code }); },
    }, s.segment.label), h('div.rfm-action', {}, s.segment.action)] },
    { label: t('rfm.customers'), value: (s) => number(s.customers), className: 'num' },
    { label: t('rfm.shareCustomers'), value: (s) => percent(s.shareOfCustomers), className: 'num' },
    { label: t('rfm.revenue'), value: (s) => money(s.revenue), className: 'num' },
    { label: t('rfm.shareRevenue'), value: (s) => percent(s.shareOfRevenue), className: 'num' },
    { label: t('rfm.avgMonetary'), value: (s) => money(s.avgMonetary), className: 'num' },
    { label: t('rfm.avgRecency'), value: (s) => number(s.avgRecencyDays, 0), className: 'num' },
  ];
  return table(columns, summary.segments, { testid: 'rfm-segments' });
}

export default {
  route: 'rfm', title: 'rfm.title', module: 'rfm',
  async render(view, ctx) {
    const { rfmGrid: grid, rfmSegments: summary } = await ctx.gql(OVERVIEW, { lang: ctx.apiLang });
    if (!summary.scheme || !grid.k) {
      view.append(h('p.empty', { 'data-testid': 'rfm-none' }, t('rfm.none')));
      return;
    }
    const windowDays = summary.settings && summary.settings.window_days;
    view.append(h('div.stats', {},
      stat(t('rfm.scored'), number(summary.scored), { testid: 'rfm-scored' }),
      stat(t('rfm.unscored'), number(summary.unscored), { testid: 'rfm-unscored' }),
      stat(t('rfm.scheme'), t(`rfm.scheme.${summary.scheme}`)),
      stat(t('rfm.window'), windowDays ? t('rfm.window.days', { days: number(windowDays) }) : t('rfm.window.all')),
      stat(t('rfm.asOf'), dateTime(summary.asOf)),
      stat(t('rfm.computedAt'), dateTime(summary.computedAt))));
    if (summary.unscored) view.append(h('p.hint', {}, t('rfm.unscored.hint')));

    const drill = h('section.card.rfm-drill', { 'data-testid': 'rfm-drill' });
    let selected = null;
    let instance = null;
    const cellWidth = () => Math.max(40, (chartNode.clientWidth - 72) / grid.k - 8);
    const chartNode = h('div.chart.tall', { 'data-testid': 'rfm-heatmap', role: 'img', 'aria-label': t('rfm.heatmap') });

    // The customers of the chosen cell or segment, a page at a time (one request each).
    async function showCustomers(choice, cursors = [null]) {
      const label = choice.segment
        ? (summary.segments.find((s) => s.segment.code === choice.segment) || {}).segment
        : null;
      const cell = choice.segment ? null : grid.cells.find((c) => c.rScore === choice.r && c.fScore === choice.f);
      if (choice.segment ? !label : !cell) {
        clear(drill, h('p.error', { 'data-testid': 'rfm-drill-bad' }, t('rfm.drill.bad', { what: choice.raw || choice.segment })));
        return;
      }
      const what = choice.segment ? label.label
        : (cell.segment ? t('rfm.cellOf', { cell: t('rfm.cell', { r: cell.rScore, f: cell.fScore }), segment: cell.segment.label })
          : t('rfm.cell', { r: cell.rScore, f: cell.fScore }));
      drill.setAttribute('aria-busy', 'true');
      const { customers } = await ctx.gql(CUSTOMERS, { where: whereOf(choice), first: PAGE_SIZE, after: cursors[cursors.length - 1], lang: ctx.apiLang });
      const from = (cursors.length - 1) * PAGE_SIZE + 1;
      const rows = customers.edges.map((e) => e.node);
      const columns = [
        { label: t('rfm.name'), value: (c) => h('a', { href: `#/customer/${encodeURIComponent(c.id)}` }, c.name || t('rfm.unnamed')) },
        { label: t('rfm.store'), value: (c) => c.store || '—' },
        { label: t('rfm.lastPurchase'), value: (c) => date(c.lastPurchaseAt) },
        { label: t('rfm.purchases'), value: (c) => number(c.rfm && c.rfm.frequency), className: 'num' },
        { label: t('rfm.spent'), value: (c) => money(c.rfm && c.rfm.monetary, 2), className: 'num' },
        { label: 'R · F', value: (c) => (c.rfm ? `${c.rfm.rScore} · ${c.rfm.fScore}` : '—'), className: 'num' },
        { label: t('rfm.segment'), value: (c) => (c.rfm ? c.rfm.segment.label : '—') },
      ];
      const pager = h('div.toolbar', {},
        h('button.secondary', { type: 'button', 'data-testid': 'rfm-prev', disabled: cursors.length <= 1,
          onclick: () => showCustomers(choice, cursors.slice(0, -1)) }, t('rfm.prev')),
        h('button.secondary', { type: 'button', 'data-testid': 'rfm-next', disabled: !customers.pageInfo.hasNextPage,
          onclick: () => showCustomers(choice, [...cursors, customers.pageInfo.endCursor]) }, t('rfm.next')),
        rows.length ? h('span.hint', { 'data-testid': 'rfm-range' },
          t('rfm.range', { from: number(from), to: number(from + rows.length - 1), count: number(customers.totalCount) })) : null);
      clear(drill,
        h('h2', { 'data-testid': 'rfm-drill-title' }, t('rfm.drill', { what, count: number(customers.totalCount) })),
        table(columns, rows, { testid: 'rfm-customers' }),
        customers.totalCount > PAGE_SIZE ? pager : null,
        h('p.hint', {}, t('rfm.drill.note')));
      drill.removeAttribute('aria-busy');
    }

    async function choose(choice, { push = true } = {}) {
      selected = choice;
      if (push && window.location.hash !== hashOf(choice)) history.pushState(null, '', hashOf(choice));
      if (instance) instance.setOption(heatmapOption(grid, selected, cellWidth()));
      for (const a of view.querySelectorAll('[data-testid^="rfm-segment-"], [data-testid^="rfm-cell-"]')) a.removeAttribute('aria-current');
      const current = view.querySelector(choice.segment ? `[data-testid="rfm-segment-${CSS.escape(choice.segment)}"]`
        : `[data-testid="rfm-cell-${choice.r}-${choice.f}"]`);
      if (current) current.setAttribute('aria-current', 'true');
      try {
        await showCustomers(choice);
      } catch (error) {
        clear(drill, h('p.error', { role: 'alert' }, String(error.message || error)));
      }
      if (push) drill.scrollIntoView({ block: 'nearest' });
    }

    view.append(
      h('div.rfm-layout', {},
        card(t('rfm.heatmap'), chartNode, h('p.hint', {}, t('rfm.heatmap.hint')),
          h('details.rfm-cells-box', {}, h('summary', { 'data-testid': 'rfm-cells-toggle' }, t('rfm.cells.show')), cellTable(grid, choose))),
        card(t('rfm.segments'), segmentTable(summary, choose))),
      drill);

    const wanted = parse(ctx.params);
    selected = wanted && !Number.isNaN(wanted.r) ? wanted : null;
    if (wanted) await choose(wanted, { push: false });
    else clear(drill, h('p.hint', {}, t('rfm.drill.pick')));
    // ECharts measures its node: draw once the shell has put the page in the
    // document, which it does as soon as render returns (before any timer).
    setTimeout(() => {
      if (!chartNode.isConnected) return;  // already left
      instance = chart(chartNode, heatmapOption(grid, selected, cellWidth()));
      instance.on('click', (p) => { if (p.data) choose({ r: p.data.r, f: p.data.f }); });
      chartNode.dataset.drawn = 'true';
    }, 0);
  },
};
