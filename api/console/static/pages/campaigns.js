// Campaigns (营销活动): the campaigns with their state, segment, channels,
// dates and messages sent / held out, and the saved segments they target
// (#/campaigns); a campaign's evaluation (#/campaigns/<id>): participation,
// conversion and revenue of the targeted group against the random holdout,
// the uplifts with their 95% intervals and p-values, and each group's
// satisfaction when that module is on. One request either way on load.
// Writes, drawn only for the roles the API allows: analysts save segments
// (a form for the common conditions, the rest as JSON, the match counted on
// demand); agents create campaigns, edit a draft and move it through its
// states; admins launch it.
import { register, t } from '../i18n.js';
import { h, card, stat, table, link, clear, field, showErrors } from '../ui.js';
import { money, number, percent, date, dateTime, localDay, timezone } from '../format.js';

register({
  zh: {
    'campaigns.title': '营销活动', 'campaigns.list': '活动', 'campaigns.segments': '已保存的客户分群',
    'campaigns.name': '名称', 'campaigns.state': '状态', 'campaigns.goal': '目标', 'campaigns.segment': '目标分群',
    'campaigns.channels': '渠道', 'campaigns.dates': '计划时间', 'campaigns.launched': '启动时间',
    'campaigns.members': '分群人数', 'campaigns.sent': '已发送', 'campaigns.heldOut': '对照组',
    'campaigns.none': '还没有营销活动', 'campaigns.noSegments': '还没有保存的分群', 'campaigns.noSegment': '（未选分群）',
    'campaigns.definition': '条件', 'campaigns.size': '当前人数', 'campaigns.description': '说明', 'campaigns.updated': '更新时间',
    'campaigns.state.PREPARATION': '策划准备', 'campaigns.state.PROMOTION': '宣传', 'campaigns.state.EXECUTION': '执行',
    'campaigns.state.MONITORING': '实时监控', 'campaigns.state.EVALUATION': '评估', 'campaigns.state.CANCELLED': '已取消',
    'campaigns.goal.AWARENESS': '知名度', 'campaigns.goal.SALES': '销售', 'campaigns.goal.SATISFACTION': '满意度',
    'campaigns.channel.SMS': '短信', 'campaigns.channel.EMAIL': '邮件', 'campaigns.channel.WECHAT': '微信',
    'campaigns.channel.APP_PUSH': 'App 推送', 'campaigns.channel.PHONE': '电话',
    'campaigns.back': '← 全部活动', 'campaigns.notFound': '没有这个活动',
    'campaigns.plan': '活动方案', 'campaigns.theme': '主题', 'campaigns.content': '内容', 'campaigns.format': '形式',
    'campaigns.place': '地点', 'campaigns.owner': '负责人', 'campaigns.budget': '预算', 'campaigns.offer': '优惠',
    'campaigns.holdoutShare': '对照组比例', 'campaigns.attribution': '归因窗口', 'campaigns.days': '{n} 天',
    'campaigns.offer.REWARD': '积分兑换 {code}', 'campaigns.offer.COUPON': '优惠券 {code}', 'campaigns.offer.POINTS_BONUS': '赠送 {points} 积分',
    'campaigns.report': '效果评估', 'campaigns.notLaunched': '活动尚未启动，启动后这里显示效果评估。',
    'campaigns.window': '归因窗口：{from} 至 {to}',
    'campaigns.delivered': '已送达', 'campaigns.opened': '已打开', 'campaigns.redeemed': '已核销', 'campaigns.failed': '发送失败',
    'campaigns.groups': '触达组与对照组', 'campaigns.group': '组', 'campaigns.targeted': '触达组', 'campaigns.holdout': '对照组',
    'campaigns.customers': '客户数', 'campaigns.converted': '转化人数', 'campaigns.conversionRate': '转化率',
    'campaigns.revenue': '收入', 'campaigns.revenuePerCustomer': '人均收入',
    'campaigns.uplift': '提升（触达组减对照组）', 'campaigns.measure': '指标', 'campaigns.estimate': '提升',
    'campaigns.interval': '95% 区间', 'campaigns.pValue': 'p 值', 'campaigns.conversionUplift': '转化率',
    'campaigns.revenueUplift': '人均收入', 'campaigns.significant': '显著', 'campaigns.notSignificant': '不显著',
    'campaigns.tooFew': '任一组不足 30 人时不计算',
    'campaigns.satisfaction': '满意度（归因窗口内的回答）', 'campaigns.responses': '回答数', 'campaigns.meanScore': '平均分（1–5）',
    'campaigns.satisfied': '满意占比（4–5 分）',
    'campaigns.exclusions': '未发送', 'campaigns.exclusion.NO_CONSENT': '未授权渠道', 'campaigns.exclusion.FREQUENCY_CAP': '超过频次上限',
    'campaigns.transitions': '状态变更', 'campaigns.at': '时间', 'campaigns.move': '变更', 'campaigns.actor': '操作人', 'campaigns.note': '备注',
  },
  en: {
    'campaigns.title': 'Campaigns', 'campaigns.list': 'Campaigns', 'campaigns.segments': 'Saved segments',
    'campaigns.name': 'Name', 'campaigns.state': 'State', 'campaigns.goal': 'Goal', 'campaigns.segment': 'Segment',
    'campaigns.channels': 'Channels', 'campaigns.dates': 'Planned', 'campaigns.launched': 'Launched',
    'campaigns.members': 'Members', 'campaigns.sent': 'Sent', 'campaigns.heldOut': 'Held out',
    'campaigns.none': 'No campaigns yet', 'campaigns.noSegments': 'No saved segments yet', 'campaigns.noSegment': '(no segment)',
    'campaigns.definition': 'Definition', 'campaigns.size': 'Customers now', 'campaigns.description': 'Description', 'campaigns.updated': 'Updated',
    'campaigns.state.PREPARATION': 'Preparation', 'campaigns.state.PROMOTION': 'Promotion', 'campaigns.state.EXECUTION': 'Execution',
    'campaigns.state.MONITORING': 'Monitoring', 'campaigns.state.EVALUATION': 'Evaluation', 'campaigns.state.CANCELLED': 'Cancelled',
    'campaigns.goal.AWARENESS': 'Awareness', 'campaigns.goal.SALES': 'Sales', 'campaigns.goal.SATISFACTION': 'Satisfaction',
    'campaigns.channel.SMS': 'SMS', 'campaigns.channel.EMAIL': 'Email', 'campaigns.channel.WECHAT': 'WeChat',
    'campaigns.channel.APP_PUSH': 'App push', 'campaigns.channel.PHONE': 'Phone',
    'campaigns.back': '← All campaigns', 'campaigns.notFound': 'No such campaign',
    'campaigns.plan': 'Plan', 'campaigns.theme': 'Theme', 'campaigns.content': 'Content', 'campaigns.format': 'Format',
    'campaigns.place': 'Place', 'campaigns.owner': 'Owner', 'campaigns.budget': 'Budget', 'campaigns.offer': 'Offer',
    'campaigns.holdoutShare': 'Holdout share', 'campaigns.attribution': 'Attribution window', 'campaigns.days': '{n} days',
    'campaigns.offer.REWARD': 'Reward {code}', 'campaigns.offer.COUPON': 'Coupon {code}', 'campaigns.offer.POINTS_BONUS': '{points} bonus points',
    'campaigns.report': 'Evaluation', 'campaigns.notLaunched': 'Not launched yet: the evaluation appears here after launch.',
    'campaigns.window': 'Attribution window: {from} to {to}',
    'campaigns.delivered': 'Delivered', 'campaigns.opened': 'Opened', 'campaigns.redeemed': 'Redeemed', 'campaigns.failed': 'Failed',
    'campaigns.groups': 'Targeted and holdout', 'campaigns.group': 'Group', 'campaigns.targeted': 'Targeted', 'campaigns.holdout': 'Holdout',
    'campaigns.customers': 'Customers', 'campaigns.converted': 'Converted', 'campaigns.conversionRate': 'Conversion rate',
    'campaigns.revenue': 'Revenue', 'campaigns.revenuePerCustomer': 'Revenue per customer',
    'campaigns.uplift': 'Uplift (targeted minus holdout)', 'campaigns.measure': 'Measure', 'campaigns.estimate': 'Uplift',
    'campaigns.interval': '95% interval', 'campaigns.pValue': 'p-value', 'campaigns.conversionUplift': 'Conversion rate',
    'campaigns.revenueUplift': 'Revenue per customer', 'campaigns.significant': 'significant', 'campaigns.notSignificant': 'not significant',
    'campaigns.tooFew': 'Not computed when a group has fewer than 30 customers',
    'campaigns.satisfaction': 'Satisfaction (answers in the window)', 'campaigns.responses': 'Answers', 'campaigns.meanScore': 'Mean score (1–5)',
    'campaigns.satisfied': 'Satisfied (4–5)',
    'campaigns.exclusions': 'Not sent', 'campaigns.exclusion.NO_CONSENT': 'No consent', 'campaigns.exclusion.FREQUENCY_CAP': 'Frequency cap',
    'campaigns.transitions': 'State changes', 'campaigns.at': 'When', 'campaigns.move': 'Move', 'campaigns.actor': 'By', 'campaigns.note': 'Note',
  },
});

const LIST = `query CampaignsPage {
  campaigns(first: 100) { edges { node {
    id name state goal channels startsAt endsAt launchedAt memberCount heldOutCount sentCount
    segment { id name }
  } } }
  campaignSegments(first: 100) { edges { node { id name description where memberCount updatedAt } } }
}`;

const GROUP = 'customers converted conversionRate revenue revenuePerCustomer';
const UPLIFT = 'estimate low high pValue test';
const SATISFACTION = 'responses meanScore satisfiedShare';
// With `segments`, the saved segments' names too: the plan form's choice (no counts: one per segment).
const one = (segments) => `query CampaignReport($id: ID!) {
  ${segments ? 'campaignSegments(first: 100) { edges { node { id name } } }' : ''}
  campaign(id: $id) {
    id name state goal theme content format place owner budget channels startsAt endsAt launchedAt
    holdoutShare attributionDays memberCount heldOutCount sentCount
    offer { kind rewardCode points }
    segment { id name memberCount }
    exclusions { reason count }
    transitions { fromState toState actor note at }
    report {
      launched windowStart windowEnd
      participation { sent delivered opened redeemed failed }
      targeted { ${GROUP} } holdout { ${GROUP} }
      conversionUplift { ${UPLIFT} } revenueUplift { ${UPLIFT} }
      targetedSatisfaction { ${SATISFACTION} } holdoutSatisfaction { ${SATISFACTION} }
    }
  }
}`;

const OPS = { gte: '≥', gt: '>', lte: '≤', lt: '<', eq: '=', ne: '≠', in: '∈', contains: '∋', any: '∋', all: '⊇' };

// A saved filter as short readable text: `purchaseCount ≥ 2; rfm.segment ∈ CHAMPIONS, LOYAL`.
// Only text: the caller sets it with h(), never as HTML.
export function summarize(where, path = []) {
  if (where === null || where === undefined) return [];
  if (Array.isArray(where)) return [`${path.join('.')} ${OPS.in} ${where.map(String).join(', ')}`];
  if (typeof where !== 'object') return [`${path.join('.')} = ${String(where)}`];
  const parts = [];
  for (const [key, value] of Object.entries(where)) {
    if (key in OPS && path.length) {
      const shown = Array.isArray(value) ? value.map(String).join(', ') : String(value);
      parts.push(`${path.join('.')} ${OPS[key]} ${shown}`);
    } else {
      parts.push(...summarize(value, [...path, key]));
    }
  }
  return parts;
}

const stateBadge = (state) => h(`span.badge.campaign-state.state-${state.toLowerCase()}`, { 'data-state': state },
  t(`campaigns.state.${state}`));
const channels = (list) => list.map((c) => t(`campaigns.channel.${c}`)).join(' → ');
const window_ = (c) => (c.startsAt || c.endsAt ? `${date(c.startsAt)} – ${date(c.endsAt)}` : '—');

function renderList(view, data, ctx, redraw) {
  const campaigns = data.campaigns.edges.map((e) => e.node);
  const segments = data.campaignSegments.edges.map((e) => e.node);
  const list = table([
    { label: t('campaigns.name'), value: (c) => link(`#/campaigns/${encodeURIComponent(c.id)}`, c.name) },
    { label: t('campaigns.state'), value: (c) => stateBadge(c.state) },
    { label: t('campaigns.goal'), value: (c) => t(`campaigns.goal.${c.goal}`) },
    { label: t('campaigns.segment'), value: (c) => (c.segment ? c.segment.name : t('campaigns.noSegment')) },
    { label: t('campaigns.channels'), value: (c) => channels(c.channels) },
    { label: t('campaigns.dates'), value: window_ },
    { label: t('campaigns.launched'), value: (c) => date(c.launchedAt) },
    { label: t('campaigns.members'), value: (c) => (c.launchedAt ? number(c.memberCount) : '—'), className: 'num' },
    { label: t('campaigns.sent'), value: (c) => (c.launchedAt ? number(c.sentCount) : '—'), className: 'num' },
    { label: t('campaigns.heldOut'), value: (c) => (c.launchedAt ? number(c.heldOutCount) : '—'), className: 'num' },
  ], campaigns, { testid: 'campaigns-list', empty: t('campaigns.none') });
  for (const [i, row] of [...list.querySelectorAll('tbody tr')].entries()) row.dataset.campaign = campaigns[i].id;

  const segmentTable = table([
    { label: t('campaigns.name'), value: (s) => h('span', {}, s.name, s.description ? h('div.hint', {}, s.description) : null) },
    { label: t('campaigns.definition'), value: (s) => h('code.campaign-where', {}, summarize(s.where).join('; ') || '—') },
    { label: t('campaigns.size'), value: (s) => number(s.memberCount), className: 'num' },
    { label: t('campaigns.updated'), value: (s) => date(s.updatedAt) },
  ], segments, { testid: 'campaign-segments', empty: t('campaigns.noSegments') });
  for (const [i, row] of [...segmentTable.querySelectorAll('tbody tr')].entries()) row.dataset.segment = segments[i].id;

  view.append(takeFlash(), card(t('campaigns.list'), list), card(t('campaigns.segments'), segmentTable));
  if (ctx.can('ANALYST')) {  // saveCampaignSegment wants an analyst
    const form = segmentForm(ctx, redraw);
    const head = segmentTable.querySelector('thead tr');
    if (head) head.append(h('th'));
    for (const [i, row] of [...segmentTable.querySelectorAll('tbody tr')].entries()) {
      row.append(h('td', { 'data-write': true }, h('button.link', { type: 'button', 'data-testid': `segment-edit-${segments[i].id}`,
        onclick: () => { form.load(segments[i]); form.node.scrollIntoView(); } }, t('campaigns.w.edit'))));
    }
    view.append(card(null, form.node));
  }
  if (ctx.can('AGENT')) {  // createCampaign wants an agent
    view.append(card(t('campaigns.w.campaignForm'), h('div', { 'data-write': true },
      planForm(ctx, segments, null, (made) => ctx.navigate(`#/campaigns/${encodeURIComponent(made.id)}`)))));
  }
}

function offerText(offer) {
  if (!offer) return '—';
  return t(`campaigns.offer.${offer.kind}`, { code: offer.rewardCode || '', points: number(offer.points) });
}

function plan(c) {
  const rows = [
    ['goal', t(`campaigns.goal.${c.goal}`)], ['segment', c.segment ? `${c.segment.name} (${number(c.segment.memberCount)})` : t('campaigns.noSegment')],
    ['channels', channels(c.channels)], ['dates', window_(c)], ['theme', c.theme || '—'], ['content', c.content || '—'],
    ['format', c.format || '—'], ['place', c.place || '—'], ['owner', c.owner || '—'],
    ['budget', c.budget === null ? '—' : money(c.budget)], ['offer', offerText(c.offer)],
    ['holdoutShare', percent(c.holdoutShare, 0)], ['attribution', t('campaigns.days', { n: number(c.attributionDays) })],
    ['launched', dateTime(c.launchedAt)],
  ];
  return h('dl.campaign-plan', { 'data-testid': 'campaign-plan' },
    rows.flatMap(([key, value]) => [h('dt', {}, t(`campaigns.${key}`)), h('dd', { 'data-key': key }, value)]));
}

// An uplift's estimate, interval and p-value; `fmt` formats a difference.
function upliftRow(key, u, fmt) {
  const none = u.estimate === null || u.estimate === undefined;
  const signed = (v) => (v > 0 ? `+${fmt(v)}` : fmt(v));
  return h('tr', { 'data-uplift': key },
    h('td', {}, t(`campaigns.${key}`)),
    h('td.num', { 'data-testid': `campaign-${key}` }, none ? '—' : signed(u.estimate)),
    h('td.num', {}, none || u.low === null ? '—' : `[${signed(u.low)}, ${signed(u.high)}]`),
    h('td.num', {}, u.pValue === null || u.pValue === undefined ? '—' : number(u.pValue, 3)),
    h('td', {}, none ? h('span.hint', {}, t('campaigns.tooFew'))
      : u.pValue !== null && u.pValue < 0.05 ? h('span.badge.good', {}, t('campaigns.significant'))
        : h('span.badge', {}, t('campaigns.notSignificant')),
      h('div.hint', {}, u.test)));
}

function report(c) {
  const r = c.report;
  if (!r.launched) return card(t('campaigns.report'), h('p.empty', { 'data-testid': 'campaign-not-launched' }, t('campaigns.notLaunched')));
  const p = r.participation;
  const participation = h('div.stats', { 'data-testid': 'campaign-participation' },
    ['sent', 'delivered', 'opened', 'redeemed', 'failed'].map((k) => stat(t(`campaigns.${k}`), number(p[k]), { testid: `campaign-${k}` })));
  const exclusions = c.exclusions.length ? h('p.hint', { 'data-testid': 'campaign-exclusions' },
    `${t('campaigns.exclusions')}: `, c.exclusions.map((e) => `${t(`campaigns.exclusion.${e.reason}`)} ${number(e.count)}`).join(' · ')) : null;

  const groups = [['targeted', r.targeted], ['holdout', r.holdout]];
  const groupTable = h('table.data', { 'data-testid': 'campaign-groups' },
    h('thead', {}, h('tr', {}, [t('campaigns.group'), t('campaigns.customers'), t('campaigns.converted'), t('campaigns.conversionRate'),
      t('campaigns.revenue'), t('campaigns.revenuePerCustomer')].map((label, i) => h(i ? 'th.num' : 'th', {}, label)))),
    h('tbody', {}, groups.map(([key, g]) => h('tr', { 'data-group': key },
      h('td', {}, t(`campaigns.${key}`)),
      h('td.num', { 'data-col': 'customers' }, number(g.customers)),
      h('td.num', { 'data-col': 'converted' }, number(g.converted)),
      h('td.num', { 'data-col': 'conversionRate' }, percent(g.conversionRate)),
      h('td.num', { 'data-col': 'revenue' }, money(g.revenue, 2)),
      h('td.num', { 'data-col': 'revenuePerCustomer' }, money(g.revenuePerCustomer, 2))))));

  const points = (v) => `${number(v * 100, 1)} pp`;
  const upliftTable = h('table.data', { 'data-testid': 'campaign-uplift' },
    h('thead', {}, h('tr', {}, h('th', {}, t('campaigns.measure')), h('th.num', {}, t('campaigns.estimate')),
      h('th.num', {}, t('campaigns.interval')), h('th.num', {}, t('campaigns.pValue')), h('th', {}, ''))),
    h('tbody', {}, upliftRow('conversionUplift', r.conversionUplift, points),
      upliftRow('revenueUplift', r.revenueUplift, (v) => money(v, 2))));

  const parts = [
    h('p.hint', {}, t('campaigns.window', { from: dateTime(r.windowStart), to: dateTime(r.windowEnd) })),
    participation, exclusions,
    h('h2', {}, t('campaigns.groups')), groupTable,
    h('h2', {}, t('campaigns.uplift')), upliftTable,
  ];
  if (r.targetedSatisfaction || r.holdoutSatisfaction) {
    const sat = [['targeted', r.targetedSatisfaction], ['holdout', r.holdoutSatisfaction]];
    parts.push(h('h2', {}, t('campaigns.satisfaction')), table([
      { label: t('campaigns.group'), value: ([key]) => t(`campaigns.${key}`) },
      { label: t('campaigns.responses'), value: ([, s]) => (s ? number(s.responses) : '—'), className: 'num' },
      { label: t('campaigns.meanScore'), value: ([, s]) => (s ? number(s.meanScore, 2) : '—'), className: 'num' },
      { label: t('campaigns.satisfied'), value: ([, s]) => (s ? percent(s.satisfiedShare) : '—'), className: 'num' },
    ], sat, { testid: 'campaign-satisfaction' }));
  }
  return card(t('campaigns.report'), ...parts);
}

function renderOne(view, c, ctx, segments, redraw) {
  const back = h('p', {}, link('#/campaigns', t('campaigns.back')));
  if (!c) { view.append(back, h('p.empty', { 'data-testid': 'campaign-not-found' }, t('campaigns.notFound'))); return; }
  const transitions = table([
    { label: t('campaigns.at'), value: (m) => dateTime(m.at) },
    { label: t('campaigns.move'), value: (m) => `${t(`campaigns.state.${m.fromState}`)} → ${t(`campaigns.state.${m.toState}`)}` },
    { label: t('campaigns.actor'), value: (m) => m.actor },
    { label: t('campaigns.note'), value: (m) => m.note || '' },
  ], c.transitions, { testid: 'campaign-transitions' });
  view.append(back, takeFlash(),
    h('h2.campaign-name', { 'data-testid': 'campaign-name' }, c.name, ' ', stateBadge(c.state)),
    campaignActions(ctx, c, segments, redraw),
    report(c),
    h('div.grid.campaign-detail', {}, card(t('campaigns.plan'), plan(c)), card(t('campaigns.transitions'), transitions)));
}

// --- writing: segments, campaigns, launch, state moves --------------------------

register({
  zh: {
    'campaigns.w.segmentForm': '保存客户分群', 'campaigns.w.segmentEdit': '修改分群“{name}”', 'campaigns.w.newSegment': '改为新建分群',
    'campaigns.w.edit': '修改', 'campaigns.w.conditions': '条件（同时满足）',
    'campaigns.w.purchaseCount': '购买次数至少', 'campaigns.w.spent': '消费金额至少（退款前）',
    'campaigns.w.lastPurchase': '最近一次购买', 'campaigns.w.since': '不早于', 'campaigns.w.before': '早于',
    'campaigns.w.rfm': 'RFM 分群（任一，可多选）', 'campaigns.w.tier': '会员等级（任一，逗号分隔，如 GOLD, SILVER）',
    'campaigns.w.tags': '标签（有任一，逗号分隔）', 'campaigns.w.store': '门店（完全一致）',
    'campaigns.w.where': '其他条件（JSON，与上面的条件合并）',
    'campaigns.w.whereHint': '与 customers(where:) 相同的 CustomerWhere，例如 {"lifecycle": {"stage": {"eq": "AT_RISK"}}}；留空为 {}（全部客户）。',
    'campaigns.w.badJson': '不是有效的 JSON 对象：{error}', 'campaigns.w.notObject': '必须是 JSON 对象 {…}',
    'campaigns.w.count': '统计人数', 'campaigns.w.counted': '当前符合条件的客户：{n} 位', 'campaigns.w.save': '保存分群',
    'campaigns.w.segmentSaved': '已保存分群“{name}”，当前 {n} 位客户。',
    'campaigns.w.campaignForm': '新建营销活动', 'campaigns.w.editPlan': '修改活动方案（启动前）', 'campaigns.w.create': '新建活动',
    'campaigns.w.saveChanges': '保存修改', 'campaigns.w.channelOrder': '按勾选顺序优先：{order}', 'campaigns.w.channelNone': '（未选）',
    'campaigns.w.chooseSegment': '（稍后选择）', 'campaigns.w.segmentOption': '{name}（{n} 人）',
    'campaigns.w.holdoutPercent': '对照组比例（%，0–50）', 'campaigns.w.holdoutHint': '留空：按设置（默认 10%）',
    'campaigns.w.attributionDays': '归因窗口（天，1–365）', 'campaigns.w.attributionHint': '留空：按设置（默认 14 天）',
    'campaigns.w.startsAt': '计划开始日期', 'campaigns.w.endsAt': '计划结束日期（含当天）',
    'campaigns.w.content': '消息内容',
    'campaigns.w.created': '已新建活动“{name}”（策划准备）。', 'campaigns.w.updated': '已保存活动方案。',
    'campaigns.w.launch': '启动活动', 'campaigns.w.launchHint': '启动时将对目标分群做快照，随机留出对照组，按授权和频次上限发送消息；活动进入“执行”。',
    'campaigns.w.launchConfirm': '启动“{name}”？将快照分群“{segment}”当前的 {n} 位客户，其中约 {share}（约 {held} 位）作为对照组不发送；其余已授权的客户会收到消息。启动后方案不可再改。',
    'campaigns.w.launchNoSegment': '先在方案中选择目标分群，才能启动。', 'campaigns.w.launchYes': '确认启动', 'campaigns.w.no': '取消',
    'campaigns.w.launched': '已启动：快照 {members} 位客户，发送 {sent} 条消息，对照组 {held} 位。',
    'campaigns.w.move': '变更状态', 'campaigns.w.moveTo': '转到“{state}”', 'campaigns.w.note': '备注（可选）',
    'campaigns.w.moveHint': '“执行”只能通过启动进入。', 'campaigns.w.moved': '活动已转到“{state}”。',
    'campaigns.w.cancelConfirm': '确认取消活动“{name}”？取消后不能恢复。', 'campaigns.w.cancelYes': '确认取消',
  },
  en: {
    'campaigns.w.segmentForm': 'Save a segment', 'campaigns.w.segmentEdit': 'Change the segment "{name}"', 'campaigns.w.newSegment': 'Make a new segment instead',
    'campaigns.w.edit': 'Edit', 'campaigns.w.conditions': 'Conditions (all must hold)',
    'campaigns.w.purchaseCount': 'Purchases, at least', 'campaigns.w.spent': 'Spent at least (before refunds)',
    'campaigns.w.lastPurchase': 'Last purchase', 'campaigns.w.since': 'on or after', 'campaigns.w.before': 'before',
    'campaigns.w.rfm': 'RFM segment (any of; several may be chosen)', 'campaigns.w.tier': 'Loyalty tier (any of, comma separated: GOLD, SILVER)',
    'campaigns.w.tags': 'Tags (has any of, comma separated)', 'campaigns.w.store': 'Store (exactly)',
    'campaigns.w.where': 'More conditions (JSON, merged with the ones above)',
    'campaigns.w.whereHint': 'A CustomerWhere as customers(where:) takes it, e.g. {"lifecycle": {"stage": {"eq": "AT_RISK"}}}; empty is {} (every customer).',
    'campaigns.w.badJson': 'Not a valid JSON object: {error}', 'campaigns.w.notObject': 'Must be a JSON object {…}',
    'campaigns.w.count': 'Count customers', 'campaigns.w.counted': 'Customers matching now: {n}', 'campaigns.w.save': 'Save segment',
    'campaigns.w.segmentSaved': 'Segment "{name}" saved: {n} customers match now.',
    'campaigns.w.campaignForm': 'New campaign', 'campaigns.w.editPlan': 'Change the plan (before launch)', 'campaigns.w.create': 'Create campaign',
    'campaigns.w.saveChanges': 'Save changes', 'campaigns.w.channelOrder': 'Preferred in the order ticked: {order}', 'campaigns.w.channelNone': '(none)',
    'campaigns.w.chooseSegment': '(choose later)', 'campaigns.w.segmentOption': '{name} ({n} customers)',
    'campaigns.w.holdoutPercent': 'Holdout share (%, 0–50)', 'campaigns.w.holdoutHint': 'Empty: the setting (10% by default)',
    'campaigns.w.attributionDays': 'Attribution window (days, 1–365)', 'campaigns.w.attributionHint': 'Empty: the setting (14 days by default)',
    'campaigns.w.startsAt': 'Planned start', 'campaigns.w.endsAt': 'Planned end (that day included)',
    'campaigns.w.content': 'Message',
    'campaigns.w.created': 'Campaign "{name}" created (Preparation).', 'campaigns.w.updated': 'Plan saved.',
    'campaigns.w.launch': 'Launch', 'campaigns.w.launchHint': 'Launching snapshots the segment, holds out a random control group and sends the messages (consent and the frequency cap apply); the campaign moves to Execution.',
    'campaigns.w.launchConfirm': 'Launch "{name}"? It snapshots the {n} customers now in the segment "{segment}"; about {share} of them (about {held}) are held out and get nothing; the rest who consented get the message. The plan cannot change after launch.',
    'campaigns.w.launchNoSegment': 'Choose a target segment in the plan before launching.', 'campaigns.w.launchYes': 'Launch now', 'campaigns.w.no': 'Cancel',
    'campaigns.w.launched': 'Launched: {members} customers snapshotted, {sent} messages sent, {held} held out.',
    'campaigns.w.move': 'Change state', 'campaigns.w.moveTo': 'Move to {state}', 'campaigns.w.note': 'Note (optional)',
    'campaigns.w.moveHint': 'Execution is entered by launching only.', 'campaigns.w.moved': 'The campaign is now in {state}.',
    'campaigns.w.cancelConfirm': 'Cancel the campaign "{name}"? This cannot be undone.', 'campaigns.w.cancelYes': 'Cancel it',
  },
});

const ERRORS = 'errors { field message code }';
const SAVE_SEGMENT = `mutation SaveCampaignSegment($input: SaveCampaignSegmentInput!) {
  saveCampaignSegment(input: $input) { campaignSegment { id name memberCount } ${ERRORS} } }`;
const COUNT = `query SegmentCount($where: CustomerWhere) { customers(where: $where, first: 0) { totalCount } }`;
const CREATE = `mutation CreateCampaign($input: CreateCampaignInput!) { createCampaign(input: $input) { campaign { id name } ${ERRORS} } }`;
const UPDATE = `mutation UpdateCampaign($input: UpdateCampaignInput!) { updateCampaign(input: $input) { campaign { id } ${ERRORS} } }`;
const LAUNCH = `mutation LaunchCampaign($id: ID!) { launchCampaign(input: {id: $id}) {
  campaign { id memberCount sentCount heldOutCount } ${ERRORS} } }`;
const MOVE = `mutation TransitionCampaign($input: TransitionCampaignInput!) { transitionCampaign(input: $input) { campaign { id state } ${ERRORS} } }`;

const GOALS = ['SALES', 'AWARENESS', 'SATISFACTION'];
const CHANNELS = ['WECHAT', 'SMS', 'EMAIL', 'APP_PUSH', 'PHONE'];
const RFM_SEGMENTS = ['CHAMPIONS', 'LOYAL', 'POTENTIAL_LOYALIST', 'NEW', 'PROMISING', 'NEED_ATTENTION', 'ABOUT_TO_SLEEP',
  'AT_RISK', 'CANT_LOSE', 'HIBERNATING', 'IMPORTANT_VALUE', 'IMPORTANT_DEVELOP', 'IMPORTANT_RETAIN', 'IMPORTANT_WINBACK',
  'GENERAL_VALUE', 'GENERAL_DEVELOP', 'GENERAL_RETAIN', 'GENERAL_WINBACK', 'A', 'B', 'C'];
// The workflow of plugins/campaigns/lifecycle.py (ALLOWED), less EXECUTION: only launching enters it.
const MOVES = {
  PREPARATION: ['PROMOTION', 'CANCELLED'], PROMOTION: ['PREPARATION', 'CANCELLED'],
  EXECUTION: ['MONITORING', 'CANCELLED'], MONITORING: ['EVALUATION', 'CANCELLED'], EVALUATION: [], CANCELLED: [],
};
const EDITABLE = new Set(['PREPARATION', 'PROMOTION']);

// Shown once at the top of the next drawing of the page: a write's result survives its refresh.
let flash = '';
const takeFlash = () => { const text = flash; flash = ''; return h('p.notice', { role: 'status', 'data-testid': 'campaigns-notice' }, text); };

// The instant a day of the tenant's calendar starts (YYYY-MM-DD, plus `days`), in the tenant's time zone.
function tenantMidnight(day, days = 0) {
  const [y, m, d] = day.split('-').map(Number);
  const wall = Date.UTC(y, m - 1, d + days);
  const offsetAt = (at) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: timezone(), hourCycle: 'h23', year: 'numeric',
      month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(at)).map((p) => [p.type, p.value]));
    return Date.UTC(+parts.year, parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second) - at;
  };
  const guess = wall - offsetAt(wall);
  return new Date(wall - offsetAt(guess)).toISOString();  // twice: right across a DST change
}

// A labelled group of several inputs (a label may hold one only), its API error beside it.
const group = (label, content, name) => h('div.field', { 'data-field': name }, h('span.field-label', {}, label), content,
  h('span.field-error', { role: 'alert' }));

const commaList = (text) => text.split(/[,，]/).map((s) => s.trim()).filter(Boolean);

// `extra` merged into `base`, key by key (the form's conditions over the JSON's).
function deepMerge(base, extra) {
  const out = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const both = out[key] && typeof out[key] === 'object' && !Array.isArray(out[key]) && typeof value === 'object' && !Array.isArray(value);
    out[key] = both ? deepMerge(out[key], value) : value;
  }
  return out;
}

// --- the segment form ---

function segmentForm(ctx, onSaved) {
  let editing = null;  // the segment being replaced, or null for a new one
  const input = (name, attrs = {}) => h('input', { name, 'data-testid': `segment-${name}`, ...attrs });
  const name = input('name', { maxlength: 100 });
  const description = input('description', { maxlength: 2000 });
  const purchases = input('purchaseCount', { type: 'number', step: 1, class: 'narrow' });
  const spent = input('grossSpent', { inputmode: 'decimal', class: 'narrow' });
  const since = input('lastPurchaseSince', { type: 'date' });
  const before = input('lastPurchaseBefore', { type: 'date' });
  const rfm = h('select', { name: 'rfm', multiple: true, size: 5, 'data-testid': 'segment-rfm' },
    RFM_SEGMENTS.map((code) => h('option', { value: code }, code)));
  const tier = input('tier');
  const tags = input('tags');
  const store = input('store');
  const where = h('textarea', { name: 'where', rows: 3, spellcheck: 'false', placeholder: '{}', 'data-testid': 'segment-where' });
  const counted = h('span.hint', { 'data-testid': 'segment-count' });
  const heading = h('h2', {}, t('campaigns.w.segmentForm'));
  const newOne = h('button.link', { type: 'button', hidden: true, onclick: () => load(null) }, t('campaigns.w.newSegment'));

  // The form's conditions as a CustomerWhere, merged into the JSON's; throws on bad JSON.
  function filter() {
    let json = {};
    if (where.value.trim()) {
      try { json = JSON.parse(where.value); } catch (error) { throw new Error(t('campaigns.w.badJson', { error: error.message })); }
      if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(t('campaigns.w.notObject'));
    }
    const fromForm = {};
    if (purchases.value !== '') fromForm.purchaseCount = { gte: Number(purchases.value) };
    if (spent.value.trim()) fromForm.grossSpent = { gte: spent.value.trim() };
    const last = {};
    if (since.value) last.gte = tenantMidnight(since.value);
    if (before.value) last.lt = tenantMidnight(before.value);
    if (Object.keys(last).length) fromForm.lastPurchaseAt = last;
    const chosen = [...rfm.selectedOptions].map((o) => o.value);
    if (chosen.length) fromForm.rfm = { segment: { in: chosen } };
    if (commaList(tier.value).length) fromForm.loyalty = { tier: { in: commaList(tier.value) } };
    if (commaList(tags.value).length) fromForm.tags = { hasAny: commaList(tags.value) };
    if (store.value.trim()) fromForm.store = { eq: store.value.trim() };
    return deepMerge(json, fromForm);
  }

  function badJson(error) {
    showErrors(form, [{ field: 'where', message: error.message }]);
  }

  async function count() {
    counted.textContent = '';
    let value;
    try { value = filter(); } catch (error) { badJson(error); return; }
    showErrors(form, []);
    try {
      const { customers } = await ctx.gql(COUNT, { where: value });
      counted.textContent = t('campaigns.w.counted', { n: number(customers.totalCount) });
    } catch (error) {
      showErrors(form, [{ field: 'where', message: String(error.message || error) }]);
    }
  }

  // Fill the form with a saved segment (its whole filter as JSON), or empty it for a new one.
  function load(segment) {
    editing = segment;
    form.reset();
    counted.textContent = '';
    showErrors(form, []);
    name.value = segment ? segment.name : '';
    description.value = segment ? segment.description || '' : '';
    where.value = segment && Object.keys(segment.where || {}).length ? JSON.stringify(segment.where) : '';
    heading.textContent = segment ? t('campaigns.w.segmentEdit', { name: segment.name }) : t('campaigns.w.segmentForm');
    newOne.hidden = !segment;
    if (segment) name.focus();
  }

  const form = h('form.form.campaign-segment-form', {
    'data-testid': 'segment-form',
    onsubmit: async (event) => {
      event.preventDefault();
      let value;
      try { value = filter(); } catch (error) { badJson(error); return; }
      const variables = { input: { name: name.value, where: value, description: description.value || null } };
      if (editing) variables.input.id = editing.id;
      const { saveCampaignSegment: result } = await ctx.gql(SAVE_SEGMENT, variables);
      if (showErrors(form, result.errors)) return;
      flash = t('campaigns.w.segmentSaved', { name: result.campaignSegment.name, n: number(result.campaignSegment.memberCount) });
      await onSaved();
    },
  },
  h('div.form-error', { role: 'alert' }),
  field(t('campaigns.name'), name, 'name'),
  field(t('campaigns.description'), description, 'description'),
  h('div.field-label', {}, t('campaigns.w.conditions')),
  h('div.row', {},
    field(t('campaigns.w.purchaseCount'), purchases, 'where.purchaseCount'),
    field(t('campaigns.w.spent'), spent, 'where.grossSpent'),
    field(t('campaigns.w.store'), store, 'where.store'),
    field(t('campaigns.w.tags'), tags, 'where.tags')),
  group(t('campaigns.w.lastPurchase'), h('span.campaign-dates', {}, `${t('campaigns.w.since')} `, since, ` ${t('campaigns.w.before')} `, before), 'where.lastPurchaseAt'),
  ctx.enabled('rfm') ? field(t('campaigns.w.rfm'), rfm, 'where.rfm') : null,
  ctx.enabled('loyalty') ? field(t('campaigns.w.tier'), tier, 'where.loyalty') : null,
  field(t('campaigns.w.where'), where, 'where'),
  h('p.hint', {}, t('campaigns.w.whereHint')),
  h('div.toolbar', {},
    h('button', { type: 'submit', 'data-testid': 'segment-save' }, t('campaigns.w.save')),
    h('button.secondary', { type: 'button', 'data-testid': 'segment-count-button', onclick: count }, t('campaigns.w.count')),
    counted, newOne));
  return { node: h('div', { 'data-write': true }, heading, form), load };
}

// --- the campaign plan form: create, or edit a draft ---

function planForm(ctx, segments, campaign, onSaved) {
  const input = (name, attrs = {}) => h('input', { name, 'data-testid': `plan-${name}`, ...attrs });
  const name = input('name', { maxlength: 100, value: campaign ? campaign.name : '' });
  const goal = h('select', { name: 'goal', 'data-testid': 'plan-goal' },
    GOALS.map((g) => h('option', { value: g, selected: campaign && campaign.goal === g }, t(`campaigns.goal.${g}`))));
  const picked = campaign ? [...campaign.channels] : [];  // in order of preference: the order ticked
  const order = h('span.hint', { 'data-testid': 'plan-channel-order' });
  const showOrder = () => { order.textContent = t('campaigns.w.channelOrder', { order: picked.length ? channels(picked) : t('campaigns.w.channelNone') }); };
  const boxes = h('span.checks', {}, CHANNELS.map((c) => h('label.inline', {}, h('input', {
    type: 'checkbox', value: c, checked: picked.includes(c), 'data-testid': `plan-channel-${c}`,
    onchange: (event) => {
      if (event.target.checked) picked.push(c); else picked.splice(picked.indexOf(c), 1);
      showOrder();
    },
  }), t(`campaigns.channel.${c}`))));
  showOrder();
  const segment = h('select', { name: 'segmentId', 'data-testid': 'plan-segment' },
    h('option', { value: '' }, t('campaigns.w.chooseSegment')),
    segments.map((s) => h('option', { value: s.id, selected: campaign && campaign.segment && campaign.segment.id === s.id },
      s.memberCount === undefined ? s.name : t('campaigns.w.segmentOption', { name: s.name, n: number(s.memberCount) }))));
  const holdout = input('holdoutShare', { type: 'number', step: 'any', class: 'narrow', placeholder: t('campaigns.w.holdoutHint'),
    value: campaign ? String(Math.round(campaign.holdoutShare * 1000) / 10) : '' });
  const days = input('attributionDays', { type: 'number', step: 1, class: 'narrow', placeholder: t('campaigns.w.attributionHint'),
    value: campaign ? campaign.attributionDays : '' });
  const starts = input('startsAt', { type: 'date', value: campaign && campaign.startsAt ? localDay(new Date(campaign.startsAt)) : '' });
  // The end is kept as the last second of its day, so the day shown is the day chosen.
  const ends = input('endsAt', { type: 'date', value: campaign && campaign.endsAt ? localDay(new Date(new Date(campaign.endsAt) - 1000)) : '' });
  const theme = input('theme', { maxlength: 200, value: campaign ? campaign.theme || '' : '' });
  const content = h('textarea', { name: 'content', rows: 3, maxlength: 4000, 'data-testid': 'plan-content' }, campaign ? campaign.content || '' : '');

  function values() {
    const plan = { name: name.value, goal: goal.value, channels: [...picked], theme: theme.value, content: content.value };
    if (segment.value) plan.segmentId = segment.value;
    if (holdout.value !== '') plan.holdoutShare = Number(holdout.value) / 100;
    if (days.value !== '') plan.attributionDays = Number(days.value);
    if (starts.value) plan.startsAt = tenantMidnight(starts.value);
    if (ends.value) plan.endsAt = new Date(new Date(tenantMidnight(ends.value, 1)) - 1000).toISOString();
    return plan;
  }

  const form = h('form.form.campaign-plan-form', {
    'data-testid': campaign ? 'plan-edit' : 'plan-create',
    onsubmit: async (event) => {
      event.preventDefault();
      if (campaign) {
        const { updateCampaign: result } = await ctx.gql(UPDATE, { input: { id: campaign.id, ...values() } });
        if (showErrors(form, result.errors)) return;
        flash = t('campaigns.w.updated');
        await onSaved(result.campaign);
      } else {
        const { createCampaign: result } = await ctx.gql(CREATE, { input: values() });
        if (showErrors(form, result.errors)) return;
        flash = t('campaigns.w.created', { name: result.campaign.name });
        await onSaved(result.campaign);
      }
    },
  },
  h('div.form-error', { role: 'alert' }),
  h('div.row', {}, field(t('campaigns.name'), name, 'name'), field(t('campaigns.goal'), goal, 'goal')),
  group(t('campaigns.channels'), h('span', {}, boxes, ' ', order), 'channels'),
  field(t('campaigns.segment'), segment, 'segmentId'),
  h('div.row', {},
    field(t('campaigns.w.holdoutPercent'), holdout, 'holdoutShare'),
    field(t('campaigns.w.attributionDays'), days, 'attributionDays')),
  h('div.row', {}, field(t('campaigns.w.startsAt'), starts, 'startsAt'), field(t('campaigns.w.endsAt'), ends, 'endsAt')),
  field(t('campaigns.theme'), theme, 'theme'),
  field(t('campaigns.w.content'), content, 'content'),
  h('button', { type: 'submit', 'data-testid': 'plan-submit' }, t(campaign ? 'campaigns.w.saveChanges' : 'campaigns.w.create')));
  return form;
}

// --- launch and state moves, on a campaign's page ---

function launchBox(ctx, c, refresh) {
  const box = h('div.campaign-launch', { 'data-write': true, 'data-testid': 'campaign-launch' });
  const problems = h('div.form-error', { role: 'alert', 'data-testid': 'campaign-launch-error' });
  const start = h('button', { type: 'button', 'data-testid': 'campaign-launch-button', onclick: ask }, t('campaigns.w.launch'));

  function ask() {
    if (!c.segment) { problems.textContent = t('campaigns.w.launchNoSegment'); return; }
    const members = c.segment.memberCount;
    const text = t('campaigns.w.launchConfirm', { name: c.name, segment: c.segment.name, n: number(members),
      share: percent(c.holdoutShare, 0), held: number(Math.round(members * c.holdoutShare)) });
    clear(box, h('p.confirm', { 'data-testid': 'campaign-launch-confirm-text' }, text), problems,
      h('div.toolbar', {},
        h('button', { type: 'button', 'data-testid': 'campaign-launch-confirm', onclick: launch }, t('campaigns.w.launchYes')),
        h('button.secondary', { type: 'button', onclick: draw }, t('campaigns.w.no'))));
  }

  async function launch(event) {
    event.target.disabled = true;
    const { launchCampaign: result } = await ctx.gql(LAUNCH, { id: c.id });
    if (result.errors.length) {
      event.target.disabled = false;
      problems.textContent = result.errors.map((e) => e.message).join('; ');
      return;
    }
    const done = result.campaign;
    flash = t('campaigns.w.launched', { members: number(done.memberCount), sent: number(done.sentCount), held: number(done.heldOutCount) });
    await refresh();
  }

  function draw() { clear(box, h('p.hint', {}, t('campaigns.w.launchHint')), problems, start); }
  draw();
  return box;
}

function moveBox(ctx, c, refresh) {
  const note = h('input', { name: 'note', maxlength: 2000, 'data-testid': 'campaign-move-note' });
  const buttons = h('div.toolbar');
  const form = h('form.form', { 'data-testid': 'campaign-move', onsubmit: (event) => event.preventDefault() },
    h('div.form-error', { role: 'alert', 'data-testid': 'campaign-move-error' }),
    field(t('campaigns.w.note'), note, 'note'), h('span', { 'data-field': 'to' }, buttons, h('span.field-error', { role: 'alert' })),
    c.state === 'PREPARATION' || c.state === 'PROMOTION' ? h('p.hint', {}, t('campaigns.w.moveHint')) : null);

  async function move(to) {
    const { transitionCampaign: result } = await ctx.gql(MOVE, { input: { id: c.id, to, note: note.value.trim() || null } });
    if (showErrors(form, result.errors)) { draw(); return; }
    flash = t('campaigns.w.moved', { state: t(`campaigns.state.${result.campaign.state}`) });
    await refresh();
  }

  const button = (to) => h(to === 'CANCELLED' ? 'button.danger' : 'button.secondary', {
    type: 'button', 'data-testid': `campaign-move-${to}`, onclick: () => (to === 'CANCELLED' ? confirmCancel() : move(to)),
  }, t('campaigns.w.moveTo', { state: t(`campaigns.state.${to}`) }));

  function confirmCancel() {
    clear(buttons, h('span.confirm', {}, t('campaigns.w.cancelConfirm', { name: c.name })),
      h('button.danger', { type: 'button', 'data-testid': 'campaign-cancel-confirm', onclick: () => move('CANCELLED') }, t('campaigns.w.cancelYes')),
      h('button.secondary', { type: 'button', onclick: draw }, t('campaigns.w.no')));
  }

  function draw() { clear(buttons, MOVES[c.state].map(button)); }
  draw();
  return h('div', { 'data-write': true }, form);
}

// A campaign's write controls, each for the role the API requires; none once it is finished.
function campaignActions(ctx, c, segments, refresh) {
  const parts = [];
  if (EDITABLE.has(c.state) && ctx.can('ADMIN')) parts.push(card(t('campaigns.w.launch'), launchBox(ctx, c, refresh)));
  if (MOVES[c.state].length && ctx.can('AGENT')) parts.push(card(t('campaigns.w.move'), moveBox(ctx, c, refresh)));
  if (EDITABLE.has(c.state) && ctx.can('AGENT')) {
    const edit = card(null, h('details.campaign-edit', { 'data-write': true, 'data-testid': 'campaign-edit' },
      h('summary', {}, t('campaigns.w.editPlan')), planForm(ctx, segments, c, refresh)));
    edit.classList.add('campaign-edit-card');
    parts.push(edit);
  }
  return parts.length ? h('div.grid.campaign-actions', {}, parts) : null;
}

// Query and draw into `target`; `redraw` draws the page again after a write.
async function fill(target, ctx, redraw) {
  const id = ctx.params[0];
  if (id) {
    const withSegments = ctx.can('AGENT');
    const data = await ctx.gql(one(withSegments), { id });
    const segments = withSegments ? data.campaignSegments.edges.map((e) => e.node) : [];
    renderOne(target, data.campaign, ctx, segments, redraw);
  } else {
    renderList(target, await ctx.gql(LIST), ctx, redraw);
  }
}

export default {
  route: 'campaigns', title: 'campaigns.title', module: 'campaigns',
  async render(view, ctx) {
    // Drawn off-page, then swapped in: the view never shows half a page.
    const redraw = async () => { const fresh = h('div'); await fill(fresh, ctx, redraw); view.replaceChildren(...fresh.childNodes); };
    await fill(view, ctx, redraw);
  },
};
