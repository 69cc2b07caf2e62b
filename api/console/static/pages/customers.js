// Customers: the search box staff use like a phone's contact list (name in
// characters or pinyin, the end of a phone, a code, a tag: docs/search.md),
// filters by store and, where the modules are on, RFM segment, loyalty tier,
// retention stage and NPS class; sorted by spend or last purchase, paged with the API's
// cursors. The whole state lives in the hash (#/customers/<search>/<filters>),
// so a search can be bookmarked and Back works. One request per render.
// Agents and admins also get the list of likely duplicates, and merge them.
import { register, t } from '../i18n.js';
import { h, card, table, clear, errorBox, link } from '../ui.js';
import { money, number, dateTime } from '../format.js';

register({
  zh: {
    'customers.title': '客户', 'customers.search': '搜索客户', 'customers.search.hint': '姓名（汉字或拼音）、手机尾号、会员编号、标签',
    'customers.store': '门店', 'customers.store.hint': '门店名称中的文字', 'customers.segment': 'RFM 分群', 'customers.tier': '会员等级', 'customers.stage': '生命周期阶段',
    'customers.nps': 'NPS 类别', 'customers.any': '全部', 'customers.sort': '排序', 'customers.sort.default': '默认（搜索相关度 / 最新创建）',
    'customers.sort.CREATED_AT': '创建时间', 'customers.sort.GROSS_SPENT': '累计消费', 'customers.sort.NET_SPENT': '净消费',
    'customers.sort.LAST_PURCHASE_AT': '最近购买', 'customers.sort.PURCHASE_COUNT': '购买次数', 'customers.sort.NAME': '姓名',
    'customers.dir.DESC': '从高到低 / 从新到旧', 'customers.dir.ASC': '从低到高 / 从旧到新',
    'customers.go': '搜索', 'customers.reset': '清除条件', 'customers.total': '共 {n} 位客户', 'customers.none': '没有符合条件的客户',
    'customers.prev': '上一页', 'customers.next': '下一页',
    'customers.col.name': '姓名', 'customers.col.code': '编号', 'customers.col.phone': '手机', 'customers.col.store': '门店',
    'customers.col.tags': '标签', 'customers.col.gross': '累计消费', 'customers.col.net': '净消费', 'customers.col.count': '购买次数',
    'customers.col.last': '最近购买', 'customers.col.segment': 'RFM 分群', 'customers.col.tier': '会员等级', 'customers.col.stage': '阶段',
    'customers.erased': '（已擦除）', 'customers.noname': '（未填姓名）',
    'customers.stage.PROSPECT': '潜在客户', 'customers.stage.NEW': '新客户', 'customers.stage.ACTIVE': '活跃客户',
    'customers.stage.AT_RISK': '有流失风险', 'customers.stage.LAPSED': '沉睡客户', 'customers.stage.CHURNED': '已流失', 'customers.stage.WON_BACK': '已挽回',
    'customers.nps.PROMOTER': '推荐者 (9–10)', 'customers.nps.PASSIVE': '被动者 (7–8)', 'customers.nps.DETRACTOR': '贬损者 (0–6)',
    'customers.dup.title': '疑似重复客户', 'customers.dup.show': '查看疑似重复客户', 'customers.dup.hide': '收起',
    'customers.dup.hint': '同一手机、邮箱，或同名同生日的客户可能是同一人。选择保留的记录，另一条的历史会并入其中，之后被删除。',
    'customers.dup.none': '没有疑似重复的客户', 'customers.dup.total': '共 {n} 组', 'customers.dup.more': '更多',
    'customers.dup.reason.PHONE': '同一手机', 'customers.dup.reason.EMAIL': '同一邮箱', 'customers.dup.reason.NAME_BIRTHDAY': '同名同生日',
    'customers.dup.keep': '保留', 'customers.dup.created': '创建于 {d}', 'customers.dup.merge': '合并…',
    'customers.dup.confirm': '确认把 {merge} 合并到 {keep}？合并后无法撤销：{merge} 的消费、积分、投诉等全部并入 {keep}，{merge} 被删除。',
    'customers.dup.yes': '确认合并', 'customers.dup.done': '已合并到 {keep}。',
  },
  en: {
    'customers.title': 'Customers', 'customers.search': 'Search customers', 'customers.search.hint': 'Name (characters or pinyin), last digits of a phone, code, tag',
    'customers.store': 'Store', 'customers.store.hint': 'Part of the store name', 'customers.segment': 'RFM segment', 'customers.tier': 'Loyalty tier', 'customers.stage': 'Lifecycle stage',
    'customers.nps': 'NPS class', 'customers.any': 'All', 'customers.sort': 'Sort by', 'customers.sort.default': 'Default (best match / newest)',
    'customers.sort.CREATED_AT': 'Created', 'customers.sort.GROSS_SPENT': 'Total spent', 'customers.sort.NET_SPENT': 'Net spent',
    'customers.sort.LAST_PURCHASE_AT': 'Last purchase', 'customers.sort.PURCHASE_COUNT': 'Purchases', 'customers.sort.NAME': 'Name',
    'customers.dir.DESC': 'High to low / newest first', 'customers.dir.ASC': 'Low to high / oldest first',
    'customers.go': 'Search', 'customers.reset': 'Clear', 'customers.total': '{n} customers', 'customers.none': 'No customer matches',
    'customers.prev': 'Previous', 'customers.next': 'Next',
    'customers.col.name': 'Name', 'customers.col.code': 'Code', 'customers.col.phone': 'Phone', 'customers.col.store': 'Store',
    'customers.col.tags': 'Tags', 'customers.col.gross': 'Total spent', 'customers.col.net': 'Net spent', 'customers.col.count': 'Purchases',
    'customers.col.last': 'Last purchase', 'customers.col.segment': 'RFM segment', 'customers.col.tier': 'Tier', 'customers.col.stage': 'Stage',
    'customers.erased': '(erased)', 'customers.noname': '(no name)',
    'customers.stage.PROSPECT': 'Prospect', 'customers.stage.NEW': 'New', 'customers.stage.ACTIVE': 'Active',
    'customers.stage.AT_RISK': 'At risk', 'customers.stage.LAPSED': 'Lapsed', 'customers.stage.CHURNED': 'Churned', 'customers.stage.WON_BACK': 'Won back',
    'customers.nps.PROMOTER': 'Promoters (9–10)', 'customers.nps.PASSIVE': 'Passives (7–8)', 'customers.nps.DETRACTOR': 'Detractors (0–6)',
    'customers.dup.title': 'Likely duplicates', 'customers.dup.show': 'Show likely duplicates', 'customers.dup.hide': 'Hide',
    'customers.dup.hint': 'Customers sharing a phone, an email, or a name and birthday may be one person. Pick the record to keep: the other one\'s history moves into it, then it is deleted.',
    'customers.dup.none': 'No likely duplicates', 'customers.dup.total': '{n} groups', 'customers.dup.more': 'More',
    'customers.dup.reason.PHONE': 'Same phone', 'customers.dup.reason.EMAIL': 'Same email', 'customers.dup.reason.NAME_BIRTHDAY': 'Same name and birthday',
    'customers.dup.keep': 'Keep', 'customers.dup.created': 'created {d}', 'customers.dup.merge': 'Merge…',
    'customers.dup.confirm': 'Merge {merge} into {keep}? This cannot be undone: {merge}\'s purchases, points, complaints and the rest move to {keep}, and {merge} is deleted.',
    'customers.dup.yes': 'Merge', 'customers.dup.done': 'Merged into {keep}.',
  },
});

const PAGE_SIZE = 20;
const SORTS = ['CREATED_AT', 'GROSS_SPENT', 'NET_SPENT', 'LAST_PURCHASE_AT', 'PURCHASE_COUNT', 'NAME'];
const STAGES = ['PROSPECT', 'NEW', 'ACTIVE', 'AT_RISK', 'LAPSED', 'CHURNED', 'WON_BACK'];
const NPS = ['PROMOTER', 'PASSIVE', 'DETRACTOR'];
const storesSeen = new Set();  // suggestions for the store box, from the rows shown so far

// The page's state from the hash: #/customers/<search>/<store=..&segment=..&sort=..&dir=..&after=..>
export function readState(params) {
  const extra = new URLSearchParams(params[1] || '');
  const get = (k) => extra.get(k) || '';
  return { search: params[0] || '', store: get('store'), segment: get('segment'), tier: get('tier'), stage: get('stage'), nps: get('nps'),
           sort: SORTS.includes(get('sort')) ? get('sort') : '', dir: get('dir') === 'ASC' ? 'ASC' : 'DESC',
           after: get('after'), before: get('before') };
}

export function stateHash(state) {
  const extra = new URLSearchParams();
  for (const k of ['store', 'segment', 'tier', 'stage', 'nps', 'sort', 'after', 'before']) if (state[k]) extra.set(k, state[k]);
  if (state.sort && state.dir === 'ASC') extra.set('dir', 'ASC');
  const tail = extra.toString();
  const parts = [encodeURIComponent(state.search || '')];
  if (tail) parts.push(encodeURIComponent(tail));
  return `#/customers/${parts.join('/')}`.replace(/\/$/, '');
}

function query(ctx) {
  const lang = '$lang';
  const extra = [
    ctx.enabled('rfm') ? `rfm { segment { code label(lang: ${lang}) } }` : '',
    ctx.enabled('loyalty') ? `loyalty { tier { code label(lang: ${lang}) } points }` : '',
    ctx.enabled('lifecycle') ? `lifecycle { stage { code label(lang: ${lang}) } }` : '',
  ].join(' ');
  // The RFM scheme's segments (their labels in the console's language) for the filter, in the same request.
  const segments = ctx.enabled('rfm') ? `rfmSegments { segments { segment { code label(lang: ${lang}) } } }` : '';
  const tiers = ctx.enabled('loyalty') ? `loyaltyProgram { tiers { code label(lang: ${lang}) } }` : '';
  // $lang only when a module's label asks for it: GraphQL refuses a variable no field uses.
  const langVar = ['rfm', 'loyalty', 'lifecycle'].some((m) => ctx.enabled(m)) ? '$lang: Lang!, ' : '';
  return `query ConsoleCustomers(${langVar}$search: String, $where: CustomerWhere, $orderBy: CustomerOrder,
      $first: Int, $after: String, $last: Int, $before: String) {
    customers(search: $search, where: $where, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { node { id code name erasedAt phone store tags grossSpent netSpent purchaseCount lastPurchaseAt ${extra} } }
    }
    ${segments}
    ${tiers}
  }`;
}

function variables(ctx, state) {
  const where = {};
  if (state.store) where.store = { contains: state.store };
  if (state.segment && ctx.enabled('rfm')) where.rfm = { segment: { eq: state.segment } };
  if (state.tier && ctx.enabled('loyalty')) where.loyalty = { tier: { eq: state.tier } };
  if (state.stage && ctx.enabled('lifecycle')) where.lifecycle = { stage: { eq: state.stage } };
  if (state.nps && ctx.enabled('satisfaction')) where.satisfaction = { npsClass: { eq: state.nps } };
  const vars = { search: state.search.trim() || null, where: Object.keys(where).length ? where : null,
                 orderBy: state.sort ? { field: state.sort, direction: state.dir } : null };
  if (['rfm', 'loyalty', 'lifecycle'].some((m) => ctx.enabled(m))) vars.lang = ctx.apiLang;
  if (state.before) Object.assign(vars, { last: PAGE_SIZE, before: state.before });
  else Object.assign(vars, { first: PAGE_SIZE, after: state.after || null });
  return vars;
}

export function customerName(c) {
  if (c.erasedAt) return t('customers.erased');
  return c.name || t('customers.noname');
}

function columns(ctx) {
  const cols = [
    { label: t('customers.col.name'), value: (c) => h('a', { href: `#/customer/${encodeURIComponent(c.id)}`, 'data-testid': 'customer-link' }, customerName(c)) },
    { label: t('customers.col.code'), value: (c) => c.code || '' },
    { label: t('customers.col.phone'), value: (c) => c.phone || '' },
    { label: t('customers.col.store'), value: (c) => c.store || '' },
    { label: t('customers.col.tags'), value: (c) => c.tags.map((tag) => h('span.badge', {}, tag)) },
    { label: t('customers.col.gross'), className: 'num', value: (c) => money(c.grossSpent, 2) },
    { label: t('customers.col.net'), className: 'num', value: (c) => money(c.netSpent, 2) },
    { label: t('customers.col.count'), className: 'num', value: (c) => number(c.purchaseCount) },
    { label: t('customers.col.last'), value: (c) => dateTime(c.lastPurchaseAt) },
  ];
  if (ctx.enabled('rfm')) cols.push({ label: t('customers.col.segment'), value: (c) => (c.rfm ? c.rfm.segment.label : '—') });
  if (ctx.enabled('loyalty')) cols.push({ label: t('customers.col.tier'), value: (c) => (c.loyalty ? c.loyalty.tier.label : '—') });
  if (ctx.enabled('lifecycle')) cols.push({ label: t('customers.col.stage'), value: (c) => (c.lifecycle ? c.lifecycle.stage.label : '—') });
  return cols;
}

function select(name, options, value, testid) {
  const node = h('select', { name, 'data-testid': testid },
    h('option', { value: '' }, t('customers.any')),
    options.map(([code, label]) => h('option', { value: code }, label)));
  node.value = value;
  return node;
}

function labelled(label, input) {
  return h('label.field', {}, h('span.field-label', {}, label), input);
}

function filterForm(ctx, state, segments, tiers) {
  const search = h('input', { type: 'search', name: 'search', value: state.search, placeholder: t('customers.search.hint'),
                              'aria-label': t('customers.search'), 'data-testid': 'customers-search', autocomplete: 'off' });
  const storeList = h('datalist', { id: 'customers-stores' }, [...storesSeen].sort().map((s) => h('option', { value: s })));
  const store = h('input', { name: 'store', value: state.store, placeholder: t('customers.store.hint'), list: 'customers-stores',
                             'data-testid': 'customers-store', autocomplete: 'off' });
  const filters = [labelled(t('customers.store'), h('span', {}, store, storeList))];
  const inputs = { search, store };
  if (ctx.enabled('rfm')) {
    inputs.segment = select('segment', segments.map((s) => [s.segment.code, s.segment.label]), state.segment, 'customers-segment');
    filters.push(labelled(t('customers.segment'), inputs.segment));
  }
  if (ctx.enabled('loyalty')) {
    inputs.tier = select('tier', tiers.map((tier) => [tier.code, tier.label]), state.tier, 'customers-tier');
    filters.push(labelled(t('customers.tier'), inputs.tier));
  }
  if (ctx.enabled('lifecycle')) {
    inputs.stage = select('stage', STAGES.map((s) => [s, t(`customers.stage.${s}`)]), state.stage, 'customers-stage');
    filters.push(labelled(t('customers.stage'), inputs.stage));
  }
  if (ctx.enabled('satisfaction')) {
    inputs.nps = select('nps', NPS.map((s) => [s, t(`customers.nps.${s}`)]), state.nps, 'customers-nps');
    filters.push(labelled(t('customers.nps'), inputs.nps));
  }
  const sort = h('select', { name: 'sort', 'data-testid': 'customers-sort' },
    h('option', { value: '' }, t('customers.sort.default')),
    SORTS.map((s) => h('option', { value: s }, t(`customers.sort.${s}`))));
  sort.value = state.sort;
  const dir = h('select', { name: 'dir', 'data-testid': 'customers-dir' },
    ['DESC', 'ASC'].map((d) => h('option', { value: d }, t(`customers.dir.${d}`))));
  dir.value = state.dir;
  dir.disabled = !state.sort;
  sort.addEventListener('change', () => { dir.disabled = !sort.value; });
  filters.push(labelled(t('customers.sort'), sort), labelled('\u00a0', dir));
  const form = h('form.customers-search', {
    role: 'search',
    onsubmit: (event) => {
      event.preventDefault();
      const next = { search: search.value.trim(), store: store.value.trim(), sort: sort.value, dir: dir.value };
      for (const k of ['segment', 'tier', 'stage', 'nps']) next[k] = inputs[k] ? inputs[k].value : '';
      ctx.navigate(stateHash(next));  // a new search starts on its first page
    },
  },
  h('div.customers-searchrow', {}, search, h('button', { type: 'submit', 'data-testid': 'customers-go' }, t('customers.go')),
    h('a.customers-reset', { href: '#/customers' }, t('customers.reset'))),
  h('div.customers-filters', {}, filters));
  return form;
}

function pager(ctx, state, info) {
  // Backwards, the API tells hasPreviousPage; forwards, hasNextPage. The other side is known from the cursor we came by.
  const hasPrev = state.before ? info.hasPreviousPage : Boolean(state.after) || info.hasPreviousPage;
  const hasNext = state.before ? true : info.hasNextPage;
  const base = { ...state, after: '', before: '' };
  return h('div.toolbar.pager', {},
    h('button.secondary', { type: 'button', 'data-testid': 'customers-prev', disabled: !hasPrev || !info.startCursor,
      onclick: () => ctx.navigate(stateHash({ ...base, before: info.startCursor })) }, t('customers.prev')),
    h('button.secondary', { type: 'button', 'data-testid': 'customers-next', disabled: !hasNext || !info.endCursor,
      onclick: () => ctx.navigate(stateHash({ ...base, after: info.endCursor })) }, t('customers.next')));
}

// -- likely duplicates (agents and admins: mergeCustomers is theirs) --------------------------

const DUPLICATES = `query ConsoleDuplicates($after: String) {
  duplicateCustomers(first: 20, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { reason customers { id code name phone email birthday createdAt purchaseCount } } }
  } }`;
const MERGE = `mutation ConsoleMerge($input: MergeCustomersInput!) {
  mergeCustomers(input: $input) { customer { id name code } errors { field message code } } }`;

function duplicatesPanel(ctx) {
  const body = h('div.customers-dups', { 'data-testid': 'duplicates' });
  let open = false;
  const toggle = h('button.secondary', { type: 'button', 'data-testid': 'duplicates-toggle' }, t('customers.dup.show'));
  const load = async (after = null, append = false, notice = null) => {
    try {
      const { duplicateCustomers: page } = await ctx.gql(DUPLICATES, { after });
      if (!append) clear(body, notice ? h('p.notice', { 'data-testid': 'merge-done' }, notice) : null,
        h('p.hint', {}, t('customers.dup.hint')),
        h('p', { 'data-testid': 'duplicates-total' }, t('customers.dup.total', { n: number(page.totalCount) })));
      if (!page.edges.length && !append) body.append(h('p.empty', {}, t('customers.dup.none')));
      for (const edge of page.edges) body.append(group(ctx, edge.node, (done) => load(null, false, done)));
      if (page.pageInfo.hasNextPage) {
        const more = h('button.secondary', { type: 'button', onclick: () => { more.remove(); load(page.pageInfo.endCursor, true); } }, t('customers.dup.more'));
        body.append(more);
      }
    } catch (error) {
      clear(body, errorBox(error));
    }
  };
  toggle.addEventListener('click', () => {
    open = !open;
    toggle.textContent = open ? t('customers.dup.hide') : t('customers.dup.show');
    if (open) load(); else clear(body);
  });
  const panel = card(t('customers.dup.title'), toggle, body);
  panel.dataset.write = '';  // merging writes: agents and up (tests/browser/test_console_walk.py)
  return panel;
}

function group(ctx, node, reload) {
  const name = `keep-${Math.random().toString(36).slice(2)}`;
  const radios = node.customers.map((c, i) => h('input', { type: 'radio', name, value: c.id, checked: i === 0 }));
  const who = (c) => `${customerName(c)}${c.code ? ` (${c.code})` : ''}`;
  const rows = node.customers.map((c, i) => h('li', {},
    h('label', {}, radios[i], ` ${t('customers.dup.keep')} `),
    link(`#/customer/${encodeURIComponent(c.id)}`, who(c)),
    h('span.hint', {}, ` · ${[c.phone, c.email, c.birthday].filter(Boolean).join(' · ')} · `,
      t('customers.dup.created', { d: dateTime(c.createdAt) }), ` · ${t('customers.col.count')} ${number(c.purchaseCount)}`)));
  const confirmBox = h('div.customers-confirm');
  const result = h('div.form-error', { role: 'alert' });
  const box = h('div.customers-dup-group', { 'data-testid': 'duplicate-group' },
    h('div', {}, h('span.badge', {}, t(`customers.dup.reason.${node.reason}`))),
    h('ul', {}, rows), result, confirmBox);
  if (node.customers.length < 2) return box;
  const start = h('button.secondary', { type: 'button', 'data-testid': 'merge-start', onclick: () => {
    const keep = node.customers.find((c) => c.id === radios.find((r) => r.checked).value);
    // One merge at a time: the kept one and the next other record of the group.
    const merge = node.customers.find((c) => c.id !== keep.id);
    clear(confirmBox,
      h('p', {}, t('customers.dup.confirm', { keep: who(keep), merge: who(merge) })),
      h('button.danger', { type: 'button', 'data-testid': 'merge-confirm', onclick: async (event) => {
        event.target.disabled = true;
        try {
          const { mergeCustomers: payload } = await ctx.gql(MERGE, { input: { keep: keep.id, merge: merge.id } });
          if (payload.errors.length) { result.textContent = payload.errors.map((e) => e.message).join('; '); clear(confirmBox); return; }
          reload(t('customers.dup.done', { keep: who(payload.customer) }));
        } catch (error) {
          clear(confirmBox, errorBox(error));
        }
      } }, t('customers.dup.yes')),
      ' ',
      h('button.link', { type: 'button', onclick: () => clear(confirmBox) }, t('app.cancel')));
  } }, t('customers.dup.merge'));
  box.append(start);
  return box;
}

export default {
  route: 'customers', title: 'customers.title', module: null,
  async render(view, ctx) {
    const state = readState(ctx.params);
    const data = await ctx.gql(query(ctx), variables(ctx, state));
    const page = data.customers;
    const rows = page.edges.map((e) => e.node);
    for (const c of rows) if (c.store) storesSeen.add(c.store);
    const segments = data.rfmSegments ? data.rfmSegments.segments : [];
    view.append(
      card(null, filterForm(ctx, state, segments, data.loyaltyProgram ? data.loyaltyProgram.tiers : [])),
      card(null,
        h('p.customers-total', { 'data-testid': 'customers-total' }, t('customers.total', { n: number(page.totalCount) })),
        table(columns(ctx), rows, { testid: 'customers', empty: t('customers.none') }),
        pager(ctx, state, page.pageInfo)));
    if (ctx.can('AGENT')) view.append(duplicatesPanel(ctx));
  },
};
