// Campaigns (营销活动): the campaigns with their state, segment, channels,
// dates and messages sent / held out, and the saved segments they target
// (#/campaigns); a campaign's evaluation (#/campaigns/<id>): participation,
// conversion and revenue of the targeted group against the random holdout,
// the uplifts with their 95% intervals and p-values, and each group's
// satisfaction when that module is on. Read-only; one request either way.
import { register, t } from '../i18n.js';
import { h, card, stat, table, link } from '../ui.js';
import { money, number, percent, date, dateTime } from '../format.js';

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
const ONE = `query CampaignReport($id: ID!) {
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

function renderList(view, data) {
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

  view.append(card(t('campaigns.list'), list), card(t('campaigns.segments'), segmentTable));
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

function renderOne(view, c) {
  const back = h('p', {}, link('#/campaigns', t('campaigns.back')));
  if (!c) { view.append(back, h('p.empty', { 'data-testid': 'campaign-not-found' }, t('campaigns.notFound'))); return; }
  const transitions = table([
    { label: t('campaigns.at'), value: (m) => dateTime(m.at) },
    { label: t('campaigns.move'), value: (m) => `${t(`campaigns.state.${m.fromState}`)} → ${t(`campaigns.state.${m.toState}`)}` },
    { label: t('campaigns.actor'), value: (m) => m.actor },
    { label: t('campaigns.note'), value: (m) => m.note || '' },
  ], c.transitions, { testid: 'campaign-transitions' });
  view.append(back,
    h('h2.campaign-name', { 'data-testid': 'campaign-name' }, c.name, ' ', stateBadge(c.state)),
    report(c),
    h('div.grid.campaign-detail', {}, card(t('campaigns.plan'), plan(c)), card(t('campaigns.transitions'), transitions)));
}

export default {
  route: 'campaigns', title: 'campaigns.title', module: 'campaigns',
  async render(view, ctx) {
    const id = ctx.params[0];
    if (id) {
      const { campaign } = await ctx.gql(ONE, { id });
      renderOne(view, campaign);
    } else {
      renderList(view, await ctx.gql(LIST));
    }
  },
};
