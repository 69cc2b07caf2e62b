// The customer 360 page (#/customer/<id>): the profile, every interaction
// newest first, and what each enabled module knows of the customer (RFM, CLV,
// lifecycle, satisfaction, loyalty, complaint cases, survey answers), in one
// request composed from the tenant's modules. Agents and admins edit the
// profile, enrol the customer, redeem points and rewards, use coupons, record
// a churn reason and open a complaint; admins also void coupons, adjust points
// and erase the personal data (typed confirmation).
import { register, t } from '../i18n.js';
import { h, card, table, clear, field, showErrors, errorBox, link } from '../ui.js';
import { money, number, percent, dateTime } from '../format.js';
import { customerName } from './customers.js';

register({
  zh: {
    'customer.title': '客户详情', 'customer.notFound': '找不到这位客户：编号有误，或不属于本租户。', 'customer.back': '返回客户列表',
    'customer.merged': '这条记录已合并到另一位客户，下面显示的是保留的记录。',
    'customer.erasedNote': '该客户的个人数据已于 {d} 擦除，消费记录匿名保留。',
    'customer.profile': '基本资料', 'customer.code': '会员编号', 'customer.phone': '手机', 'customer.email': '邮箱', 'customer.wechat': '微信号',
    'customer.store': '所属门店', 'customer.owner': '专属顾问', 'customer.gender': '性别', 'customer.birthday': '生日', 'customer.city': '城市',
    'customer.tags': '标签', 'customer.consent': '营销授权', 'customer.created': '建档时间', 'customer.standing': '客户状态',
    'customer.consent.yes': '已同意', 'customer.consent.no': '未同意', 'customer.none': '—',
    'customer.spend': '消费', 'customer.gross': '累计消费', 'customer.net': '净消费（扣除退款）', 'customer.refunded': '退款',
    'customer.purchases': '购买次数', 'customer.first': '首次购买', 'customer.last': '最近购买',
    'customer.timeline': '互动记录', 'customer.timeline.total': '共 {n} 条，第 {from}–{to} 条', 'customer.timeline.empty': '还没有互动记录',
    'customer.timeline.newer': '较新', 'customer.timeline.older': '更早',
    'customer.col.when': '时间', 'customer.col.kind': '类型', 'customer.col.amount': '金额', 'customer.col.qty': '件数',
    'customer.col.channel': '渠道', 'customer.col.store': '门店', 'customer.col.staff': '员工',
    'customer.rfm': 'RFM 价值', 'customer.rfm.segment': '分群', 'customer.rfm.scores': 'R / F / M 得分', 'customer.rfm.recency': '距最近购买',
    'customer.rfm.days': '{n} 天', 'customer.rfm.frequency': '窗口内购买', 'customer.rfm.monetary': '窗口内净消费', 'customer.rfm.action': '建议',
    'customer.clv': '客户终身价值', 'customer.clv.value': '预测价值', 'customer.clv.alive': '仍活跃概率', 'customer.clv.purchases': '未来 90 天预计购买',
    'customer.clv.decile': '价值十分位', 'customer.clv.historical': '历史价值',
    'customer.lifecycle': '生命周期', 'customer.lifecycle.stage': '阶段', 'customer.lifecycle.since': '进入阶段', 'customer.lifecycle.risk': '流失风险',
    'customer.lifecycle.valueAtRisk': '风险价值',
    'customer.satisfaction': '满意度', 'customer.satisfaction.score': '最近满意度 (1–5)', 'customer.satisfaction.nps': '最近 NPS (0–10)',
    'customer.satisfaction.class': 'NPS 类别', 'customer.satisfaction.at': '回答时间',
    'customer.nps.PROMOTER': '推荐者', 'customer.nps.PASSIVE': '被动者', 'customer.nps.DETRACTOR': '贬损者',
    'customer.unscored': '尚无评分（没有购买或尚未运行）',
    'customer.loyalty': '会员与积分', 'customer.loyalty.none': '不是会员', 'customer.loyalty.tier': '会员等级', 'customer.loyalty.points': '积分余额',
    'customer.loyalty.number': '会员号', 'customer.loyalty.status': '状态', 'customer.loyalty.expiring': '30 天内到期积分',
    'customer.loyalty.next': '距 {tier} 还差', 'customer.loyalty.top': '已是最高等级', 'customer.loyalty.ledger': '最近积分变动',
    'customer.loyalty.status.ACTIVE': '正常', 'customer.loyalty.status.SUSPENDED': '已暂停', 'customer.loyalty.status.CLOSED': '已注销',
    'customer.loyalty.kind.EARN': '获得', 'customer.loyalty.kind.REDEEM': '使用', 'customer.loyalty.kind.EXPIRE': '过期',
    'customer.loyalty.kind.REVERSE': '退款扣回', 'customer.loyalty.kind.ADJUST': '人工调整', 'customer.loyalty.reason': '说明',
    'customer.complaints': '投诉', 'customer.complaints.none': '没有投诉', 'customer.complaints.total': '共 {n} 件',
    'customer.complaint.opened': '受理时间', 'customer.complaint.category': '类别', 'customer.complaint.priority': '优先级',
    'customer.complaint.status': '状态', 'customer.complaint.sla': 'SLA', 'customer.complaint.due': '{d} 前解决',
    'customer.complaint.breached': '已超时', 'customer.complaint.responseBreached': '首次响应超时', 'customer.complaint.onTime': '按时',
    'customer.complaint.noSla': '无 SLA',
    'customer.surveys': '问卷回答', 'customer.surveys.none': '没有问卷回答', 'customer.surveys.total': '共 {n} 份，显示最近记录的 {k} 份',
    'customer.survey.at': '回答时间', 'customer.survey.overall': '总体满意度', 'customer.survey.nps': 'NPS', 'customer.survey.recommend': '愿意推荐',
    'customer.survey.source': '来源', 'customer.survey.store': '门店',
    'customer.recommend.YES': '是', 'customer.recommend.NO': '否', 'customer.recommend.DONT_KNOW': '不确定',
    'customer.source.COMPLAINT': '投诉回访', 'customer.source.PURCHASE': '购后抽样', 'customer.source.CAMPAIGN': '营销活动',
    'customer.source.WAVE': '定期调研', 'customer.source.MANUAL': '人工录入',
    'customer.edit': '编辑资料', 'customer.edit.save': '保存', 'customer.edit.saved': '已保存。', 'customer.edit.nothing': '没有修改。',
    'customer.edit.name': '姓名', 'customer.edit.tags': '标签（用逗号分隔）',
    'customer.gender.FEMALE': '女', 'customer.gender.MALE': '男', 'customer.gender.OTHER': '其他', 'customer.gender.UNKNOWN': '未知',
    'customer.erase': '擦除个人数据', 'customer.erase.hint': '按客户要求删除其个人信息（姓名、联系方式、备注等），消费记录匿名保留。此操作不可撤销。请输入“{word}”确认：',
    'customer.erase.go': '永久擦除', 'customer.erase.done': '个人数据已擦除。',
  },
  en: {
    'customer.title': 'Customer', 'customer.notFound': 'No such customer: the id is wrong, or the customer is not this tenant\'s.', 'customer.back': 'Back to customers',
    'customer.merged': 'This record was merged into another customer; the record kept is shown below.',
    'customer.erasedNote': 'This customer\'s personal data was erased on {d}; purchases are kept, anonymous.',
    'customer.profile': 'Profile', 'customer.code': 'Code', 'customer.phone': 'Phone', 'customer.email': 'Email', 'customer.wechat': 'WeChat id',
    'customer.store': 'Home store', 'customer.owner': 'Owner', 'customer.gender': 'Gender', 'customer.birthday': 'Birthday', 'customer.city': 'City',
    'customer.tags': 'Tags', 'customer.consent': 'Marketing consent', 'customer.created': 'Created', 'customer.standing': 'Standing',
    'customer.consent.yes': 'yes', 'customer.consent.no': 'no', 'customer.none': '—',
    'customer.spend': 'Spend', 'customer.gross': 'Total spent', 'customer.net': 'Net spent (after refunds)', 'customer.refunded': 'Refunded',
    'customer.purchases': 'Purchases', 'customer.first': 'First purchase', 'customer.last': 'Last purchase',
    'customer.timeline': 'Interactions', 'customer.timeline.total': '{n} in all, {from}–{to} shown', 'customer.timeline.empty': 'No interactions yet',
    'customer.timeline.newer': 'Newer', 'customer.timeline.older': 'Older',
    'customer.col.when': 'When', 'customer.col.kind': 'What', 'customer.col.amount': 'Amount', 'customer.col.qty': 'Items',
    'customer.col.channel': 'Channel', 'customer.col.store': 'Store', 'customer.col.staff': 'Staff',
    'customer.rfm': 'RFM', 'customer.rfm.segment': 'Segment', 'customer.rfm.scores': 'R / F / M scores', 'customer.rfm.recency': 'Since last purchase',
    'customer.rfm.days': '{n} days', 'customer.rfm.frequency': 'Purchases in window', 'customer.rfm.monetary': 'Net spend in window', 'customer.rfm.action': 'Advice',
    'customer.clv': 'Lifetime value', 'customer.clv.value': 'Predicted value', 'customer.clv.alive': 'Probability alive', 'customer.clv.purchases': 'Expected purchases, 90 days',
    'customer.clv.decile': 'Value decile', 'customer.clv.historical': 'Historical value',
    'customer.lifecycle': 'Lifecycle', 'customer.lifecycle.stage': 'Stage', 'customer.lifecycle.since': 'Since', 'customer.lifecycle.risk': 'Churn risk',
    'customer.lifecycle.valueAtRisk': 'Value at risk',
    'customer.satisfaction': 'Satisfaction', 'customer.satisfaction.score': 'Latest score (1–5)', 'customer.satisfaction.nps': 'Latest NPS (0–10)',
    'customer.satisfaction.class': 'NPS class', 'customer.satisfaction.at': 'Answered',
    'customer.nps.PROMOTER': 'Promoter', 'customer.nps.PASSIVE': 'Passive', 'customer.nps.DETRACTOR': 'Detractor',
    'customer.unscored': 'No score yet (no purchase, or no run yet)',
    'customer.loyalty': 'Loyalty', 'customer.loyalty.none': 'Not a member', 'customer.loyalty.tier': 'Tier', 'customer.loyalty.points': 'Points balance',
    'customer.loyalty.number': 'Member no.', 'customer.loyalty.status': 'Status', 'customer.loyalty.expiring': 'Points expiring in 30 days',
    'customer.loyalty.next': 'Still needed for {tier}', 'customer.loyalty.top': 'Top tier', 'customer.loyalty.ledger': 'Recent points',
    'customer.loyalty.status.ACTIVE': 'Active', 'customer.loyalty.status.SUSPENDED': 'Suspended', 'customer.loyalty.status.CLOSED': 'Closed',
    'customer.loyalty.kind.EARN': 'Earned', 'customer.loyalty.kind.REDEEM': 'Redeemed', 'customer.loyalty.kind.EXPIRE': 'Expired',
    'customer.loyalty.kind.REVERSE': 'Taken back (refund)', 'customer.loyalty.kind.ADJUST': 'Adjusted', 'customer.loyalty.reason': 'Why',
    'customer.complaints': 'Complaints', 'customer.complaints.none': 'No complaints', 'customer.complaints.total': '{n} cases',
    'customer.complaint.opened': 'Opened', 'customer.complaint.category': 'Category', 'customer.complaint.priority': 'Priority',
    'customer.complaint.status': 'Status', 'customer.complaint.sla': 'SLA', 'customer.complaint.due': 'resolve by {d}',
    'customer.complaint.breached': 'overdue', 'customer.complaint.responseBreached': 'first response late', 'customer.complaint.onTime': 'on time',
    'customer.complaint.noSla': 'no SLA',
    'customer.surveys': 'Survey answers', 'customer.surveys.none': 'No survey answers', 'customer.surveys.total': '{n} in all, the {k} recorded last shown',
    'customer.survey.at': 'Answered', 'customer.survey.overall': 'Overall', 'customer.survey.nps': 'NPS', 'customer.survey.recommend': 'Would recommend',
    'customer.survey.source': 'Source', 'customer.survey.store': 'Store',
    'customer.recommend.YES': 'yes', 'customer.recommend.NO': 'no', 'customer.recommend.DONT_KNOW': 'don\'t know',
    'customer.source.COMPLAINT': 'Complaint follow-up', 'customer.source.PURCHASE': 'After a purchase', 'customer.source.CAMPAIGN': 'Campaign',
    'customer.source.WAVE': 'Periodic wave', 'customer.source.MANUAL': 'Recorded by staff',
    'customer.edit': 'Edit profile', 'customer.edit.save': 'Save', 'customer.edit.saved': 'Saved.', 'customer.edit.nothing': 'Nothing changed.',
    'customer.edit.name': 'Name', 'customer.edit.tags': 'Tags (comma separated)',
    'customer.gender.FEMALE': 'Female', 'customer.gender.MALE': 'Male', 'customer.gender.OTHER': 'Other', 'customer.gender.UNKNOWN': 'Unknown',
    'customer.erase': 'Erase personal data', 'customer.erase.hint': 'At the customer\'s request, delete their personal data (name, contacts, notes); purchases stay, anonymous. This cannot be undone. Type "{word}" to confirm:',
    'customer.erase.go': 'Erase for good', 'customer.erase.done': 'Personal data erased.',
  },
});

const TIMELINE_PAGE = 20;
const COUPON_PAGE = 10;

const PROFILE = `id code name phone email wechatId store owner city tags consent createdAt erasedAt birthday
  gender { code label(lang: $lang) } role { code label(lang: $lang) }
  grossSpent netSpent refundedAmount purchaseCount firstPurchaseAt lastPurchaseAt`;

const ENTRY = `fragment ConsoleTimelineEntry on Interaction {
  id occurredAt kind { code label(lang: $lang) } amount quantity channel { code label(lang: $lang) } store staff }`;
const TIMELINE = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { ...ConsoleTimelineEntry } }`;

// What the write forms choose from (the catalogue, the reason codes, the
// categories): asked in the same query, and only of a role that may write.
function writeChoices(ctx) {
  if (!ctx.can('AGENT')) return '';
  return [
    ctx.enabled('loyalty') ? 'loyaltyRewards { code nameZh nameEn pointsPrice stock }' : '',
    ctx.enabled('lifecycle') ? 'lifecycleChurnReasons { code label(lang: $lang) side }' : '',
    ctx.enabled('complaints') ? 'complaintCategories { code label(lang: $lang) }' : ''].join('\n');
}

// One query: the profile, the first page of the timeline, and each enabled module's part.
function customerQuery(ctx) {
  const on = (module, text) => (ctx.enabled(module) ? text : '');
  return `query ConsoleCustomer($id: ID!, $lang: Lang!) {
    customer(id: $id) {
      ${PROFILE}
      interactions(first: ${TIMELINE_PAGE}) { ${TIMELINE} }
      ${on('rfm', 'rfm { rScore fScore mScore recency frequency monetary segment { code label(lang: $lang) action(lang: $lang) } computedAt }')}
      ${on('clv', 'clv { predictedValue probabilityAlive expectedPurchases(days: 90) valueDecile historicalValue computedAt }')}
      ${on('lifecycle', `lifecycle { stage { code label(lang: $lang) } since risk valueAtRisk
        churnReasons { code label(lang: $lang) stage { label(lang: $lang) } note recordedBy recordedAt } }`)}
      ${on('satisfaction', 'satisfaction { latestScore latestNps npsClass answeredAt }')}
      ${on('loyalty', `loyalty { memberNumber status points pointsExpiringSoon tier { code label(lang: $lang) }
        nextTier { code remainingToQualify } ledger(first: 5) { edges { node { id kind points reason at } } }
        coupons(first: ${COUPON_PAGE}) { totalCount edges { node { code status rewardName(lang: $lang) value validUntil usedAt orderRef voidedAt voidReason } } } }`)}
      ${on('complaints', `complaints(first: 10) { totalCount edges { node { id category priority priorityLabel(lang: $lang)
        status statusLabel(lang: $lang) openedAt resolvedAt closedAt resolutionDue firstResponseBreached resolutionBreached slaPolicy } } }`)}
    }
    ${on('satisfaction', `satisfactionResponses(customerId: $id, first: 5) { totalCount
      edges { node { id answeredAt overall nps recommend source store } } }`)}
    ${writeChoices(ctx)}
  }
  ${ENTRY}`;
}

const MORE = `query ConsoleCustomerTimeline($id: ID!, $lang: Lang!, $first: Int, $after: String) {
  customer(id: $id) { id interactions(first: $first, after: $after) { ${TIMELINE} } } }
  ${ENTRY}`;

const UPDATE = `mutation ConsoleUpdateCustomer($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id } errors { field message code } } }`;
const ERASE = `mutation ConsoleEraseCustomer($input: IdInput!) {
  eraseCustomer(input: $input) { customer { id erasedAt } errors { field message code } } }`;

const or = (value) => (value === null || value === undefined || value === '' ? t('customer.none') : value);

// A list of label: value pairs.
function facts(pairs, testid) {
  return h('dl.customer-facts', { 'data-testid': testid },
    pairs.filter(Boolean).flatMap(([label, value, id]) => [h('dt', {}, label), h('dd', { 'data-testid': id }, value)]));
}

function profileCard(c) {
  const consent = Object.entries(c.consent || {});
  return card(t('customer.profile'), facts([
    [t('customer.code'), or(c.code), 'customer-code'],
    [t('customer.phone'), or(c.phone), 'customer-phone'],
    [t('customer.email'), or(c.email), 'customer-email'],
    [t('customer.wechat'), or(c.wechatId)],
    [t('customer.store'), or(c.store), 'customer-store'],
    [t('customer.owner'), or(c.owner)],
    [t('customer.gender'), c.gender ? c.gender.label : t('customer.none')],
    [t('customer.birthday'), or(c.birthday)],
    [t('customer.city'), or(c.city)],
    [t('customer.standing'), c.role ? c.role.label : t('customer.none')],
    [t('customer.tags'), c.tags.length ? c.tags.map((tag) => h('span.badge', {}, tag)) : t('customer.none'), 'customer-tags'],
    [t('customer.consent'), consent.length ? consent.map(([channel, yes]) =>
      h(`span.badge.${yes ? 'good' : 'bad'}`, {}, `${channel} ${yes ? t('customer.consent.yes') : t('customer.consent.no')}`)) : t('customer.none'), 'customer-consent'],
    [t('customer.created'), dateTime(c.createdAt), 'customer-created'],
  ], 'customer-profile'));
}

function spendCard(c) {
  return card(t('customer.spend'), facts([
    [t('customer.gross'), money(c.grossSpent, 2), 'customer-gross'],
    [t('customer.net'), money(c.netSpent, 2)],
    [t('customer.refunded'), money(c.refundedAmount, 2)],
    [t('customer.purchases'), number(c.purchaseCount)],
    [t('customer.first'), dateTime(c.firstPurchaseAt)],
    [t('customer.last'), dateTime(c.lastPurchaseAt)],
  ]));
}

function scoreCards(ctx, c) {
  const cards = [];
  const unscored = (testid) => h('p.empty', { 'data-testid': testid }, t('customer.unscored'));
  if (ctx.enabled('rfm')) {
    const r = c.rfm;
    cards.push(card(t('customer.rfm'), r ? facts([
      [t('customer.rfm.segment'), h('strong', {}, r.segment.label), 'rfm-segment'],
      [t('customer.rfm.scores'), `${r.rScore} / ${r.fScore} / ${r.mScore}`, 'rfm-scores'],
      [t('customer.rfm.recency'), t('customer.rfm.days', { n: number(r.recency) })],
      [t('customer.rfm.frequency'), number(r.frequency)],
      [t('customer.rfm.monetary'), money(r.monetary, 2)],
      [t('customer.rfm.action'), r.segment.action],
    ], 'customer-rfm') : unscored('customer-rfm')));
  }
  if (ctx.enabled('clv')) {
    const v = c.clv;
    cards.push(card(t('customer.clv'), v ? facts([
      [t('customer.clv.value'), h('strong', {}, money(v.predictedValue, 2)), 'clv-value'],
      [t('customer.clv.alive'), percent(v.probabilityAlive), 'clv-alive'],
      [t('customer.clv.purchases'), number(v.expectedPurchases, 1)],
      [t('customer.clv.decile'), `${v.valueDecile} / 10`],
      [t('customer.clv.historical'), money(v.historicalValue, 2)],
    ], 'customer-clv') : unscored('customer-clv')));
  }
  if (ctx.enabled('lifecycle')) {
    const l = c.lifecycle;
    const risk = l && l.risk !== null ? l.risk : null;
    cards.push(card(t('customer.lifecycle'), l ? facts([
      [t('customer.lifecycle.stage'), h('strong', {}, l.stage.label), 'lifecycle-stage'],
      [t('customer.lifecycle.since'), dateTime(l.since)],
      [t('customer.lifecycle.risk'), risk === null ? t('customer.none')
        : h(`span.badge.${risk >= 0.5 ? 'bad' : risk >= 0.2 ? 'warn' : 'good'}`, {}, percent(risk)), 'lifecycle-risk'],
      [t('customer.lifecycle.valueAtRisk'), l.valueAtRisk === null ? t('customer.none') : money(l.valueAtRisk, 2)],
    ], 'customer-lifecycle') : unscored('customer-lifecycle')));
  }
  if (ctx.enabled('satisfaction')) {
    const s = c.satisfaction;
    cards.push(card(t('customer.satisfaction'), s ? facts([
      [t('customer.satisfaction.score'), s.latestScore === null ? t('customer.none') : number(s.latestScore, 1), 'satisfaction-score'],
      [t('customer.satisfaction.nps'), s.latestNps === null ? t('customer.none') : String(s.latestNps)],
      [t('customer.satisfaction.class'), s.npsClass ? h(`span.badge.${{ PROMOTER: 'good', PASSIVE: 'warn', DETRACTOR: 'bad' }[s.npsClass]}`, {},
        t(`customer.nps.${s.npsClass}`)) : t('customer.none'), 'satisfaction-class'],
      [t('customer.satisfaction.at'), dateTime(s.answeredAt)],
    ], 'customer-satisfaction') : h('p.empty', { 'data-testid': 'customer-satisfaction' }, t('customer.surveys.none'))));
  }
  return cards;
}

function complaintsCard(c, openForm) {
  const page = c.complaints;
  const sla = (k) => {
    if (!k.slaPolicy) return h('span.hint', {}, t('customer.complaint.noSla'));
    const marks = [];
    if (k.resolutionBreached) marks.push(h('span.badge.bad', {}, t('customer.complaint.breached')));
    if (k.firstResponseBreached) marks.push(h('span.badge.warn', {}, t('customer.complaint.responseBreached')));
    if (k.resolutionDue) marks.push(h('span', {}, ` ${t('customer.complaint.due', { d: dateTime(k.resolutionDue) })}`));
    if (!marks.length) marks.push(h('span.badge.good', {}, t('customer.complaint.onTime')));
    return marks;
  };
  return card(t('customer.complaints'),
    page.totalCount ? h('p.hint', {}, t('customer.complaints.total', { n: number(page.totalCount) })) : null,
    table([
      { label: t('customer.complaint.opened'), value: (k) => dateTime(k.openedAt) },
      { label: t('customer.complaint.category'), value: (k) => k.category },
      { label: t('customer.complaint.priority'), value: (k) => k.priorityLabel },
      { label: t('customer.complaint.status'), value: (k) => h('span.badge', {}, k.statusLabel) },
      { label: t('customer.complaint.sla'), value: sla },
    ], page.edges.map((e) => e.node), { testid: 'customer-complaints', empty: t('customer.complaints.none') }),
    openForm);
}

function surveysCard(responses) {
  const rows = responses.edges.map((e) => e.node).sort((a, b) => b.answeredAt.localeCompare(a.answeredAt));
  return card(t('customer.surveys'),
    responses.totalCount ? h('p.hint', {}, t('customer.surveys.total', { n: number(responses.totalCount), k: rows.length })) : null,
    table([
      { label: t('customer.survey.at'), value: (r) => dateTime(r.answeredAt) },
      { label: t('customer.survey.overall'), className: 'num', value: (r) => or(r.overall) },
      { label: t('customer.survey.nps'), className: 'num', value: (r) => or(r.nps) },
      { label: t('customer.survey.recommend'), value: (r) => (r.recommend ? t(`customer.recommend.${r.recommend}`) : t('customer.none')) },
      { label: t('customer.survey.source'), value: (r) => t(`customer.source.${r.source}`) },
      { label: t('customer.survey.store'), value: (r) => or(r.store) },
    ], rows, { testid: 'customer-surveys', empty: t('customer.surveys.none') }));
}

// -- the timeline, paged in place (one request a page) ------------------------------------

function timelineCard(ctx, id, first) {
  const body = h('div');
  const afters = [null];  // the cursor each page shown so far starts after: Newer goes back one
  const draw = (page) => {
    const rows = page.edges.map((e) => e.node);
    const offset = (afters.length - 1) * TIMELINE_PAGE;
    const refund = (e) => e.kind.code === 'REFUND';
    const hasOlder = page.pageInfo.hasNextPage;
    const hasNewer = afters.length > 1;
    clear(body,
      rows.length ? h('p.hint', { 'data-testid': 'timeline-total' }, t('customer.timeline.total',
        { n: number(page.totalCount), from: number(offset + 1), to: number(offset + rows.length) })) : null,
      table([
        { label: t('customer.col.when'), value: (e) => dateTime(e.occurredAt) },
        { label: t('customer.col.kind'), value: (e) => h(`span.badge.kind-${e.kind.code.toLowerCase()}`, {}, e.kind.label) },
        { label: t('customer.col.amount'), className: 'num', value: (e) => (e.amount === null ? ''
          : h(refund(e) ? 'span.refund' : 'span', {}, `${refund(e) ? '−' : ''}${money(e.amount, 2)}`)) },
        { label: t('customer.col.qty'), className: 'num', value: (e) => (e.quantity === null ? '' : number(e.quantity)) },
        { label: t('customer.col.channel'), value: (e) => (e.channel ? e.channel.label : '') },
        { label: t('customer.col.store'), value: (e) => e.store || '' },
        { label: t('customer.col.staff'), value: (e) => e.staff || '' },
      ], rows, { testid: 'timeline', empty: t('customer.timeline.empty') }),
      (hasOlder || hasNewer) ? h('div.toolbar.pager', {},
        h('button.secondary', { type: 'button', 'data-testid': 'timeline-newer', disabled: !hasNewer,
          onclick: () => { afters.pop(); load(); } }, t('customer.timeline.newer')),
        h('button.secondary', { type: 'button', 'data-testid': 'timeline-older', disabled: !hasOlder,
          onclick: () => { afters.push(page.pageInfo.endCursor); load(); } }, t('customer.timeline.older'))) : null);
  };
  const load = async () => {
    for (const button of body.querySelectorAll('.pager button')) button.disabled = true;
    try {
      const data = await ctx.gql(MORE, { id, lang: ctx.apiLang, first: TIMELINE_PAGE, after: afters[afters.length - 1] });
      draw(data.customer.interactions);
    } catch (error) {
      body.prepend(errorBox(error));
    }
  };
  draw(first);
  return card(t('customer.timeline'), body);
}

// -- writes: agents and admins edit, admins erase ------------------------------------------

const EDITABLE = ['name', 'phone', 'email', 'wechatId', 'store', 'owner', 'city'];
const GENDERS = ['FEMALE', 'MALE', 'OTHER', 'UNKNOWN'];

function editCard(ctx, c, rerender) {
  const labels = { name: t('customer.edit.name'), phone: t('customer.phone'), email: t('customer.email'), wechatId: t('customer.wechat'),
                   store: t('customer.store'), owner: t('customer.owner'), city: t('customer.city') };
  const inputs = Object.fromEntries(EDITABLE.map((k) => [k, h('input', { name: k, value: c[k] || '', 'data-testid': `edit-${k}`, autocomplete: 'off' })]));
  const birthday = h('input', { type: 'date', name: 'birthday', value: c.birthday || '', 'data-testid': 'edit-birthday' });
  const gender = h('select', { name: 'gender', 'data-testid': 'edit-gender' }, h('option', { value: '' }, t('customer.none')),
    GENDERS.map((g) => h('option', { value: g }, t(`customer.gender.${g}`))));
  gender.value = c.gender ? c.gender.code : '';
  const tags = h('input', { name: 'tags', value: c.tags.join(', '), 'data-testid': 'edit-tags', autocomplete: 'off' });
  const status = h('p.notice', { 'data-testid': 'edit-status', role: 'status' });
  const form = h('form.form', {
    'data-testid': 'edit-customer',
    onsubmit: async (event) => {
      event.preventDefault();
      status.textContent = '';
      const input = { id: c.id };
      for (const k of EDITABLE) if (inputs[k].value.trim() !== (c[k] || '')) input[k] = inputs[k].value.trim();
      if (birthday.value && birthday.value !== (c.birthday || '')) input.birthday = birthday.value;
      if (gender.value && gender.value !== (c.gender ? c.gender.code : '')) input.gender = gender.value;
      const newTags = tags.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
      if (newTags.join('\u0000') !== c.tags.join('\u0000')) input.tags = newTags;
      if (Object.keys(input).length === 1) { showErrors(form, []); status.textContent = t('customer.edit.nothing'); return; }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const { updateCustomer: payload } = await ctx.gql(UPDATE, { input });
        if (showErrors(form, payload.errors)) return;
        await rerender(t('customer.edit.saved'));
      } catch (error) {
        showErrors(form, [{ field: null, message: error.message }]);
      } finally {
        button.disabled = false;
      }
    },
  },
  EDITABLE.map((k) => field(labels[k], inputs[k], k)),
  field(t('customer.gender'), gender, 'gender'),
  field(t('customer.birthday'), birthday, 'birthday'),
  field(t('customer.edit.tags'), tags, 'tags'),
  h('div.customer-edit-actions', {}, h('button', { type: 'submit', 'data-testid': 'edit-save' }, t('customer.edit.save')), status));
  const details = h('details.customer-edit', {}, h('summary', { 'data-testid': 'edit-open' }, t('customer.edit')), form);
  return h('section.card', { 'data-write': true }, details);
}

function eraseCard(ctx, c, rerender) {
  const word = c.code || c.name || c.id;
  const typed = h('input', { name: 'confirm', autocomplete: 'off', 'data-testid': 'erase-confirm' });
  const go = h('button.danger', { type: 'submit', disabled: true, 'data-testid': 'erase-go' }, t('customer.erase.go'));
  typed.addEventListener('input', () => { go.disabled = typed.value.trim() !== word; });
  const form = h('form.form', {
    'data-testid': 'erase-customer',
    onsubmit: async (event) => {
      event.preventDefault();
      if (typed.value.trim() !== word) return;
      go.disabled = true;
      try {
        const { eraseCustomer: payload } = await ctx.gql(ERASE, { input: { id: c.id } });
        if (showErrors(form, payload.errors)) return;
        await rerender(t('customer.erase.done'));
      } catch (error) {
        showErrors(form, [{ field: null, message: error.message }]);
      }
    },
  },
  h('p', {}, t('customer.erase.hint', { word })),
  field(t('customer.erase'), typed, 'id'),
  h('div', {}, go));
  return h('section.card.danger-zone', { 'data-write': true }, h('details', {}, h('summary', { 'data-testid': 'erase-open' }, t('customer.erase')), form));
}

// -- writes of the modules: loyalty, churn reasons, complaints -------------------------------
// Each form sends one mutation; the payload's errors go next to their fields
// and nothing is saved, else the page is drawn again (one query) with the result
// as its notice. Controls are drawn only for the roles the API allows them.

register({
  zh: {
    'customer.cw.enrol': '加入会员', 'customer.cw.enrolled': '已加入会员，会员号 {number}。',
    'customer.cw.coupons': '优惠券', 'customer.cw.coupons.none': '没有优惠券', 'customer.cw.coupons.total': '共 {n} 张，显示最新的 {k} 张',
    'customer.cw.coupon.code': '券码', 'customer.cw.coupon.reward': '奖励', 'customer.cw.coupon.status': '状态',
    'customer.cw.coupon.until': '有效期至', 'customer.cw.coupon.done': '使用 / 作废',
    'customer.cw.coupon.ISSUED': '可使用', 'customer.cw.coupon.USED': '已使用', 'customer.cw.coupon.EXPIRED': '已过期', 'customer.cw.coupon.VOIDED': '已作废',
    'customer.cw.use': '使用', 'customer.cw.void': '作废', 'customer.cw.orderRef': '订单号（可选）', 'customer.cw.voidReason': '作废原因',
    'customer.cw.useGo': '确认使用 {code}', 'customer.cw.voidGo': '确认作废 {code}',
    'customer.cw.used': '优惠券 {code} 已使用。', 'customer.cw.voided': '优惠券 {code} 已作废（积分不退回）。',
    'customer.cw.redeemReward': '兑换奖励', 'customer.cw.reward': '奖励', 'customer.cw.rewardOption': '{name} · {points} 积分',
    'customer.cw.rewardStock': '剩 {n}', 'customer.cw.noRewards': '奖励目录为空', 'customer.cw.redeemRewardGo': '兑换',
    'customer.cw.rewardDone': '已兑换，券码 {code}，积分余额 {balance}。',
    'customer.cw.redeemPoints': '积分抵现', 'customer.cw.points': '积分', 'customer.cw.orderAmount': '订单金额',
    'customer.cw.redeemPointsGo': '抵扣', 'customer.cw.pointsDone': '已用 {points} 积分抵扣 {value}，积分余额 {balance}。',
    'customer.cw.adjust': '调整积分（管理员）', 'customer.cw.adjustPoints': '积分（正数增加，负数扣减）', 'customer.cw.reason': '原因（必填）',
    'customer.cw.adjustGo': '调整', 'customer.cw.adjustDone': '积分已调整 {points}，余额 {balance}。',
    'customer.cw.wholeNumber': '请输入整数',
    'customer.cw.churn': '流失原因', 'customer.cw.churn.none': '没有记录流失原因', 'customer.cw.churn.at': '记录时间',
    'customer.cw.churn.reason': '原因', 'customer.cw.churn.stage': '当时阶段', 'customer.cw.churn.note': '客户说明', 'customer.cw.churn.by': '记录人',
    'customer.cw.churn.record': '记录流失原因', 'customer.cw.churn.code': '原因', 'customer.cw.churn.noteField': '客户说明（可选）',
    'customer.cw.churn.go': '记录', 'customer.cw.churn.done': '已记录流失原因：{label}。',
    'customer.cw.churn.onlyGone': '只有沉睡或已流失的客户才能记录流失原因。',
    'customer.cw.side.COMPANY': '公司方', 'customer.cw.side.CUSTOMER': '客户方',
    'customer.cw.complaint.open': '登记投诉', 'customer.cw.complaint.category': '类别', 'customer.cw.complaint.priority': '优先级',
    'customer.cw.complaint.channel': '渠道', 'customer.cw.complaint.description': '投诉内容', 'customer.cw.complaint.go': '登记',
    'customer.cw.complaint.done': '投诉已登记。', 'customer.cw.complaint.duplicates': '可能与 {n} 件未结投诉重复，可在投诉看板中关联。',
    'customer.cw.priority.LOW': '低', 'customer.cw.priority.NORMAL': '普通', 'customer.cw.priority.HIGH': '高', 'customer.cw.priority.URGENT': '紧急',
    'customer.cw.channel.PHONE': '电话', 'customer.cw.channel.SMS': '短信', 'customer.cw.channel.EMAIL': '邮件', 'customer.cw.channel.WECHAT': '微信',
    'customer.cw.channel.WEB': '网站', 'customer.cw.channel.APP': '应用', 'customer.cw.channel.IN_STORE': '门店', 'customer.cw.channel.SOCIAL': '社交媒体',
    'customer.cw.channel.HOTLINE': '热线', 'customer.cw.channel.OTHER': '其他',
  },
  en: {
    'customer.cw.enrol': 'Enrol as a member', 'customer.cw.enrolled': 'Enrolled, member no. {number}.',
    'customer.cw.coupons': 'Coupons', 'customer.cw.coupons.none': 'No coupons', 'customer.cw.coupons.total': '{n} in all, the newest {k} shown',
    'customer.cw.coupon.code': 'Code', 'customer.cw.coupon.reward': 'Reward', 'customer.cw.coupon.status': 'Status',
    'customer.cw.coupon.until': 'Valid until', 'customer.cw.coupon.done': 'Used / voided',
    'customer.cw.coupon.ISSUED': 'Usable', 'customer.cw.coupon.USED': 'Used', 'customer.cw.coupon.EXPIRED': 'Expired', 'customer.cw.coupon.VOIDED': 'Voided',
    'customer.cw.use': 'Use', 'customer.cw.void': 'Void', 'customer.cw.orderRef': 'Order reference (optional)', 'customer.cw.voidReason': 'Why void it',
    'customer.cw.useGo': 'Use {code}', 'customer.cw.voidGo': 'Void {code}',
    'customer.cw.used': 'Coupon {code} used.', 'customer.cw.voided': 'Coupon {code} voided (the points are not given back).',
    'customer.cw.redeemReward': 'Redeem a reward', 'customer.cw.reward': 'Reward', 'customer.cw.rewardOption': '{name} · {points} points',
    'customer.cw.rewardStock': '{n} left', 'customer.cw.noRewards': 'The reward catalogue is empty', 'customer.cw.redeemRewardGo': 'Redeem',
    'customer.cw.rewardDone': 'Redeemed: coupon {code}, balance now {balance} points.',
    'customer.cw.redeemPoints': 'Pay with points', 'customer.cw.points': 'Points', 'customer.cw.orderAmount': 'Order amount',
    'customer.cw.redeemPointsGo': 'Redeem points', 'customer.cw.pointsDone': '{points} points paid {value}; balance now {balance} points.',
    'customer.cw.adjust': 'Adjust points (admins)', 'customer.cw.adjustPoints': 'Points (positive adds, negative takes)', 'customer.cw.reason': 'Reason (required)',
    'customer.cw.adjustGo': 'Adjust', 'customer.cw.adjustDone': 'Points adjusted by {points}; balance now {balance}.',
    'customer.cw.wholeNumber': 'Enter a whole number',
    'customer.cw.churn': 'Churn reasons', 'customer.cw.churn.none': 'No churn reason recorded', 'customer.cw.churn.at': 'Recorded',
    'customer.cw.churn.reason': 'Reason', 'customer.cw.churn.stage': 'Stage then', 'customer.cw.churn.note': 'What the customer said', 'customer.cw.churn.by': 'By',
    'customer.cw.churn.record': 'Record a churn reason', 'customer.cw.churn.code': 'Reason', 'customer.cw.churn.noteField': 'What the customer said (optional)',
    'customer.cw.churn.go': 'Record', 'customer.cw.churn.done': 'Churn reason recorded: {label}.',
    'customer.cw.churn.onlyGone': 'Churn reasons are recorded on lapsed or churned customers only.',
    'customer.cw.side.COMPANY': 'Company side', 'customer.cw.side.CUSTOMER': 'Customer side',
    'customer.cw.complaint.open': 'Open a complaint', 'customer.cw.complaint.category': 'Category', 'customer.cw.complaint.priority': 'Priority',
    'customer.cw.complaint.channel': 'Channel', 'customer.cw.complaint.description': 'What the customer said', 'customer.cw.complaint.go': 'Open the case',
    'customer.cw.complaint.done': 'Complaint opened.', 'customer.cw.complaint.duplicates': 'It may duplicate {n} open cases: link them on the complaints board.',
    'customer.cw.priority.LOW': 'Low', 'customer.cw.priority.NORMAL': 'Normal', 'customer.cw.priority.HIGH': 'High', 'customer.cw.priority.URGENT': 'Urgent',
    'customer.cw.channel.PHONE': 'Phone', 'customer.cw.channel.SMS': 'SMS', 'customer.cw.channel.EMAIL': 'Email', 'customer.cw.channel.WECHAT': 'WeChat',
    'customer.cw.channel.WEB': 'Web', 'customer.cw.channel.APP': 'App', 'customer.cw.channel.IN_STORE': 'In store', 'customer.cw.channel.SOCIAL': 'Social media',
    'customer.cw.channel.HOTLINE': 'Hotline', 'customer.cw.channel.OTHER': 'Other',
  },
});

const ERRORS = 'errors { field message code }';
const ENROL = `mutation ConsoleEnrolMember($input: EnrollMemberInput!) {
  enrollMember(input: $input) { loyalty { memberNumber } ${ERRORS} } }`;
const REDEMPTION = `redemption { points balance value couponCode } ${ERRORS}`;
const REDEEM_REWARD = `mutation ConsoleRedeemReward($input: RedeemRewardInput!) { redeemReward(input: $input) { ${REDEMPTION} } }`;
const REDEEM_POINTS = `mutation ConsoleRedeemPoints($input: RedeemPointsInput!) { redeemPoints(input: $input) { ${REDEMPTION} } }`;
const ADJUST_POINTS = `mutation ConsoleAdjustPoints($input: AdjustPointsInput!) { adjustPoints(input: $input) { ${REDEMPTION} } }`;
const USE_COUPON = `mutation ConsoleUseCoupon($input: UseCouponInput!) { useCoupon(input: $input) { coupon { code status } ${ERRORS} } }`;
const VOID_COUPON = `mutation ConsoleVoidCoupon($input: VoidCouponInput!) { voidCoupon(input: $input) { coupon { code status } ${ERRORS} } }`;
const RECORD_REASON = `mutation ConsoleRecordChurnReason($input: RecordChurnReasonInput!, $lang: Lang!) {
  recordChurnReason(input: $input) { reason { code label(lang: $lang) } ${ERRORS} } }`;
const OPEN_COMPLAINT = `mutation ConsoleOpenComplaint($input: OpenComplaintInput!) {
  openComplaint(input: $input) { complaint { id } duplicates { id } ${ERRORS} } }`;

const GONE = ['LAPSED', 'CHURNED'];  // the stages a churn reason may be recorded in (the API's rule)
const PRIORITIES = ['LOW', 'NORMAL', 'HIGH', 'URGENT'];
const CHANNELS = ['PHONE', 'SMS', 'EMAIL', 'WECHAT', 'WEB', 'APP', 'IN_STORE', 'SOCIAL', 'HOTLINE', 'OTHER'];

// A key per form: a double submit or a retry after a lost answer applies once;
// a new one after each success.
const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);

// A form that writes: `send(form)` runs the mutation and returns its payload;
// errors go next to their fields, else `done(payload)` (the page redrawn).
function writeForm(testid, title, children, submitLabel, send, done) {
  const form = h('form.form.cw-form', {
    'data-testid': testid, 'data-write': true,
    onsubmit: async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const payload = await send(form);
        if (payload && !showErrors(form, payload.errors)) await done(payload);
      } catch (error) {
        showErrors(form, [{ field: null, message: error.message }]);
      } finally {
        button.disabled = false;
      }
    },
  },
  title ? h('h3', {}, title) : null,
  h('div.form-error', { role: 'alert' }),
  children,
  h('div', {}, h('button', { type: 'submit', 'data-testid': `${testid}-submit` }, submitLabel)));
  return form;
}

// A whole number typed in `input`, or null after showing the error at its field.
function wholeNumber(form, input, name) {
  const value = input.value.trim();
  if (/^[+-]?\d+$/.test(value)) return Number(value);
  showErrors(form, [{ field: name, message: t('customer.cw.wholeNumber') }]);
  return null;
}

const select = (name, testid, options, value = null) => {
  const node = h('select', { name, 'data-testid': testid }, options.map(([v, label]) => h('option', { value: v }, label)));
  if (value !== null) node.value = value;
  return node;
};

function enrolForm(ctx, c, rerender) {
  return writeForm('cw-enrol', null, [], t('customer.cw.enrol'),
    async () => (await ctx.gql(ENROL, { input: { customerId: c.id } })).enrollMember,
    (p) => rerender(t('customer.cw.enrolled', { number: p.loyalty.memberNumber })));
}

// The member's coupons; an ISSUED one can be used (agents) or voided (admins)
// in a small form under the table that names the coupon.
function couponsPart(ctx, m, mayWrite, rerender) {
  const rows = m.coupons.edges.map((e) => e.node);
  const slot = h('div.cw-coupon-action');
  const useForm = (coupon) => {
    const orderRef = h('input', { name: 'orderRef', autocomplete: 'off', 'data-testid': 'cw-coupon-order' });
    return writeForm('cw-use-coupon', null, [field(t('customer.cw.orderRef'), orderRef, 'orderRef')],
      t('customer.cw.useGo', { code: coupon.code }),
      async () => (await ctx.gql(USE_COUPON, { input: { code: coupon.code, orderRef: orderRef.value.trim() || null } })).useCoupon,
      () => rerender(t('customer.cw.used', { code: coupon.code })));
  };
  const voidForm = (coupon) => {
    const reason = h('input', { name: 'reason', autocomplete: 'off', 'data-testid': 'cw-coupon-reason' });
    return writeForm('cw-void-coupon', null, [field(t('customer.cw.voidReason'), reason, 'reason')],
      t('customer.cw.voidGo', { code: coupon.code }),
      async () => (await ctx.gql(VOID_COUPON, { input: { code: coupon.code, reason: reason.value } })).voidCoupon,
      () => rerender(t('customer.cw.voided', { code: coupon.code })));
  };
  const actions = (coupon) => {
    if (coupon.status !== 'ISSUED' || !mayWrite) return '';
    return h('span.cw-row-actions', { 'data-write': true },
      h('button.secondary', { type: 'button', 'data-testid': 'cw-coupon-use', onclick: () => clear(slot, useForm(coupon)) }, t('customer.cw.use')),
      ctx.can('ADMIN') ? h('button.secondary', { type: 'button', 'data-testid': 'cw-coupon-void', onclick: () => clear(slot, voidForm(coupon)) },
        t('customer.cw.void')) : null);
  };
  const statusBadge = (s) => h(`span.badge.${{ ISSUED: 'good', USED: '', EXPIRED: 'warn', VOIDED: 'bad' }[s]}`,
    { 'data-testid': 'cw-coupon-status' }, t(`customer.cw.coupon.${s}`));
  const node = table([
    { label: t('customer.cw.coupon.code'), value: (k) => h('code', {}, k.code) },
    { label: t('customer.cw.coupon.reward'), value: (k) => k.rewardName },
    { label: t('customer.cw.coupon.status'), value: (k) => statusBadge(k.status) },
    { label: t('customer.cw.coupon.until'), value: (k) => dateTime(k.validUntil) },
    { label: t('customer.cw.coupon.done'), value: (k) => (k.usedAt ? `${dateTime(k.usedAt)}${k.orderRef ? ` · ${k.orderRef}` : ''}`
      : k.voidedAt ? `${dateTime(k.voidedAt)} · ${k.voidReason || ''}` : '') },
    { label: '', value: actions },
  ], rows, { testid: 'cw-coupons', empty: t('customer.cw.coupons.none') });
  for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) tr.dataset.coupon = rows[index].code;
  return h('div', {}, h('h3', {}, t('customer.cw.coupons')),
    m.coupons.totalCount > rows.length ? h('p.hint', {}, t('customer.cw.coupons.total', { n: number(m.coupons.totalCount), k: rows.length })) : null,
    node, slot);
}

function redeemRewardForm(ctx, c, rewards, rerender) {
  if (!rewards.length) return h('p.empty', { 'data-write': true, 'data-testid': 'cw-no-rewards' }, t('customer.cw.noRewards'));
  const name = (r) => (ctx.lang === 'zh' ? r.nameZh : r.nameEn);
  const reward = select('reward', 'cw-reward', rewards.map((r) => [r.code,
    `${t('customer.cw.rewardOption', { name: name(r), points: number(r.pointsPrice) })}${r.stock === null ? '' : ` · ${t('customer.cw.rewardStock', { n: number(r.stock) })}`}`]));
  let key = newKey();
  return writeForm('cw-redeem-reward', t('customer.cw.redeemReward'), [field(t('customer.cw.reward'), reward, 'reward')],
    t('customer.cw.redeemRewardGo'),
    async () => (await ctx.gql(REDEEM_REWARD, { input: { customerId: c.id, rewardCode: reward.value, idempotencyKey: key } })).redeemReward,
    (p) => { key = newKey(); return rerender(t('customer.cw.rewardDone', { code: p.redemption.couponCode, balance: number(p.redemption.balance) })); });
}

function redeemPointsForm(ctx, c, rerender) {
  const points = h('input', { name: 'points', inputmode: 'numeric', autocomplete: 'off', 'data-testid': 'cw-redeem-points' });
  const amount = h('input', { name: 'orderAmount', inputmode: 'decimal', autocomplete: 'off', 'data-testid': 'cw-redeem-amount' });
  const orderRef = h('input', { name: 'orderRef', autocomplete: 'off', 'data-testid': 'cw-redeem-order' });
  let key = newKey();
  return writeForm('cw-redeem', t('customer.cw.redeemPoints'),
    [field(t('customer.cw.points'), points, 'points'), field(t('customer.cw.orderAmount'), amount, 'orderAmount'),
      field(t('customer.cw.orderRef'), orderRef, 'orderRef')],
    t('customer.cw.redeemPointsGo'),
    async (form) => {
      const n = wholeNumber(form, points, 'points');
      if (n === null) return null;
      const input = { customerId: c.id, points: n, orderAmount: amount.value.trim(), orderRef: orderRef.value.trim() || null, idempotencyKey: key };
      return (await ctx.gql(REDEEM_POINTS, { input })).redeemPoints;
    },
    (p) => { key = newKey(); const r = p.redemption;
      return rerender(t('customer.cw.pointsDone', { points: number(r.points), value: money(r.value, 2), balance: number(r.balance) })); });
}

function adjustForm(ctx, c, rerender) {
  const points = h('input', { name: 'points', inputmode: 'numeric', autocomplete: 'off', 'data-testid': 'cw-adjust-points' });
  const reason = h('input', { name: 'reason', autocomplete: 'off', maxlength: 500, 'data-testid': 'cw-adjust-reason' });
  let key = newKey();
  return writeForm('cw-adjust', t('customer.cw.adjust'),
    [field(t('customer.cw.adjustPoints'), points, 'points'), field(t('customer.cw.reason'), reason, 'reason')],
    t('customer.cw.adjustGo'),
    async (form) => {
      const n = wholeNumber(form, points, 'points');
      if (n === null) return null;
      return (await ctx.gql(ADJUST_POINTS, { input: { customerId: c.id, points: n, reason: reason.value, idempotencyKey: key } })).adjustPoints;
    },
    (p) => { key = newKey(); const r = p.redemption;
      return rerender(t('customer.cw.adjustDone', { points: `${r.points < 0 ? '+' : '−'}${number(Math.abs(r.points))}`, balance: number(r.balance) })); });
}

// The loyalty card: membership, points and coupons; the writes an agent (and an admin) may do.
function loyaltyCard(ctx, c, data, rerender) {
  const m = c.loyalty;
  if (!m) {
    return card(t('customer.loyalty'), h('p.empty', { 'data-testid': 'customer-loyalty' }, t('customer.loyalty.none')),
      ctx.can('AGENT') && !c.erasedAt ? enrolForm(ctx, c, rerender) : null);
  }
  const mayWrite = ctx.can('AGENT') && !c.erasedAt;
  const writes = mayWrite ? h('div.cw-forms', { 'data-write': true },
    redeemRewardForm(ctx, c, data.loyaltyRewards || [], rerender),
    redeemPointsForm(ctx, c, rerender),
    ctx.can('ADMIN') ? adjustForm(ctx, c, rerender) : null) : null;
  return card(t('customer.loyalty'), h('div.customer-split', {},
    facts([
      [t('customer.loyalty.tier'), h('strong', {}, m.tier.label), 'loyalty-tier'],
      [t('customer.loyalty.points'), number(m.points), 'loyalty-points'],
      [t('customer.loyalty.expiring'), m.pointsExpiringSoon === null ? t('customer.none') : number(m.pointsExpiringSoon)],
      [m.nextTier ? t('customer.loyalty.next', { tier: m.nextTier.code }) : t('customer.loyalty.tier'),
        m.nextTier ? money(m.nextTier.remainingToQualify, 2) : t('customer.loyalty.top')],
      [t('customer.loyalty.number'), m.memberNumber],
      [t('customer.loyalty.status'), t(`customer.loyalty.status.${m.status}`)],
    ], 'customer-loyalty'),
    h('div', {}, h('h3', {}, t('customer.loyalty.ledger')), table([
      { label: t('customer.col.when'), value: (e) => dateTime(e.at) },
      { label: t('customer.col.kind'), value: (e) => t(`customer.loyalty.kind.${e.kind}`) },
      { label: t('customer.loyalty.points'), className: 'num', value: (e) => `${e.points > 0 ? '+' : ''}${number(e.points)}` },
      { label: t('customer.loyalty.reason'), value: (e) => e.reason },
    ], m.ledger.edges.map((e) => e.node), { testid: 'loyalty-ledger' }))),
  couponsPart(ctx, m, mayWrite, rerender),
  writes);
}

// Churn reasons recorded on the customer; agents record one while the customer is lapsed or churned.
function churnCard(ctx, c, data, rerender) {
  const l = c.lifecycle;
  const recorded = l ? l.churnReasons : [];
  const gone = Boolean(l && GONE.includes(l.stage.code));
  const mayRecord = ctx.can('AGENT') && !c.erasedAt;
  if (!recorded.length && !(mayRecord && gone)) return null;
  const list = table([
    { label: t('customer.cw.churn.at'), value: (r) => dateTime(r.recordedAt) },
    { label: t('customer.cw.churn.reason'), value: (r) => r.label },
    { label: t('customer.cw.churn.stage'), value: (r) => r.stage.label },
    { label: t('customer.cw.churn.note'), value: (r) => or(r.note) },
    { label: t('customer.cw.churn.by'), value: (r) => r.recordedBy },
  ], recorded, { testid: 'cw-churn-reasons', empty: t('customer.cw.churn.none') });
  let form = null;
  if (mayRecord && gone) {
    const reasons = data.lifecycleChurnReasons || [];
    const code = h('select', { name: 'code', 'data-testid': 'cw-churn-code' }, h('option', { value: '' }, '—'),
      ['COMPANY', 'CUSTOMER'].map((side) => h('optgroup', { label: t(`customer.cw.side.${side}`) },
        reasons.filter((r) => r.side === side).map((r) => h('option', { value: r.code }, r.label)))));
    const note = h('textarea', { name: 'note', rows: 2, maxlength: 2000, 'data-testid': 'cw-churn-note' });
    form = writeForm('cw-churn', t('customer.cw.churn.record'),
      [field(t('customer.cw.churn.code'), code, 'code'), field(t('customer.cw.churn.noteField'), note, 'note')],
      t('customer.cw.churn.go'),
      async () => (await ctx.gql(RECORD_REASON, { input: { customerId: c.id, code: code.value, note: note.value.trim() || null },
        lang: ctx.apiLang })).recordChurnReason,
      (p) => rerender(t('customer.cw.churn.done', { label: p.reason.label })));
  }
  return card(t('customer.cw.churn'), list, form);
}

function openComplaintForm(ctx, c, data, rerender) {
  const categories = data.complaintCategories || [];
  const category = select('category', 'cw-complaint-category', [['', '—'], ...categories.map((k) => [k.code, k.label])]);
  const priority = select('priority', 'cw-complaint-priority', PRIORITIES.map((p) => [p, t(`customer.cw.priority.${p}`)]), 'NORMAL');
  const channel = select('channel', 'cw-complaint-channel', [['', '—'], ...CHANNELS.map((ch) => [ch, t(`customer.cw.channel.${ch}`)])]);
  const description = h('textarea', { name: 'description', rows: 3, 'data-testid': 'cw-complaint-description' });
  const form = writeForm('cw-complaint', null,
    [h('div.row', {}, field(t('customer.cw.complaint.category'), category, 'category'),
      field(t('customer.cw.complaint.priority'), priority, 'priority'),
      field(t('customer.cw.complaint.channel'), channel, 'channel')),
    field(t('customer.cw.complaint.description'), description, 'description')],
    t('customer.cw.complaint.go'),
    async () => {
      const input = { customerId: c.id, category: category.value, priority: priority.value, description: description.value.trim() || null };
      if (channel.value) input.channel = channel.value;
      return (await ctx.gql(OPEN_COMPLAINT, { input })).openComplaint;
    },
    (p) => rerender([t('customer.cw.complaint.done'), p.duplicates.length ? t('customer.cw.complaint.duplicates', { n: p.duplicates.length }) : '']
      .filter(Boolean).join(' ')));
  return h('details.cw-details', { 'data-write': true }, h('summary', { 'data-testid': 'cw-complaint-open' }, t('customer.cw.complaint.open')), form);
}

// `page` is the page's own node: a write redraws it, however many writes came before.
async function draw(view, ctx, notice, page = view) {
  const id = ctx.params[0] || '';
  const data = await ctx.gql(customerQuery(ctx), { id, lang: ctx.apiLang });
  const c = data.customer;
  if (!c) {
    view.append(h('p.empty', { 'data-testid': 'customer-not-found' }, t('customer.notFound')), h('p', {}, link('#/customers', t('customer.back'))));
    return;
  }
  const rerender = async (message) => { const fresh = h('div'); await draw(fresh, ctx, message, page); page.replaceChildren(...fresh.childNodes); };
  const merged = c.id !== id;
  const parts = [
    h('p.customer-back', {}, link('#/customers', `← ${t('customer.back')}`)),
    notice ? h('p.notice.customer-notice', { role: 'status', 'data-testid': 'customer-notice' }, notice) : null,
    merged ? h('p.notice', { 'data-testid': 'customer-merged' }, t('customer.merged'), ' ', link(`#/customer/${encodeURIComponent(c.id)}`, customerName(c))) : null,
    h('div.customer-head', {},
      h('h2.customer-name', { 'data-testid': 'customer-name' }, customerName(c)),
      c.code ? h('span.badge', {}, c.code) : null,
      c.erasedAt ? h('span.badge.bad', { 'data-testid': 'customer-erased' }, t('customer.erasedNote', { d: dateTime(c.erasedAt) })) : null),
    h('div.grid.customer-cards', {}, profileCard(c), spendCard(c), ...scoreCards(ctx, c)),
    ctx.can('AGENT') && !c.erasedAt ? editCard(ctx, c, rerender) : null,
    ctx.enabled('loyalty') ? loyaltyCard(ctx, c, data, rerender) : null,
    ctx.enabled('lifecycle') ? churnCard(ctx, c, data, rerender) : null,
    ctx.enabled('complaints') ? complaintsCard(c, ctx.can('AGENT') && !c.erasedAt ? openComplaintForm(ctx, c, data, rerender) : null) : null,
    data.satisfactionResponses && !merged ? surveysCard(data.satisfactionResponses) : null,
    timelineCard(ctx, c.id, c.interactions),
    ctx.can('ADMIN') && !c.erasedAt ? eraseCard(ctx, c, rerender) : null];
  view.append(...parts.filter(Boolean));
}

export default {
  route: 'customer', title: 'customer.title', module: null, nav: false,
  async render(view, ctx) { await draw(view, ctx, null); },
};
