// The loyalty programme at a glance (会员积分): the tiers and their members,
// points outstanding and what they are worth, how much gets redeemed, and the
// points about to expire in the next 30/60/90 days (who holds them, which week)
// — the list a store calls before points lapse; the reward catalogue, to which
// admins add rewards. One request.
import { register, t, getLang } from '../i18n.js';
import { h, card, stat, table, field, showErrors, clear } from '../ui.js';
import { money, number, percent, date } from '../format.js';
import { chart } from '../charts.js';

register({
  zh: {
    'loyalty.title': '会员积分', 'loyalty.members': '会员总数', 'loyalty.outstanding': '未兑换积分',
    'loyalty.liability': '积分负债', 'loyalty.liability.hint': '未兑换积分按兑换比例折算的金额',
    'loyalty.redemption': '兑换率', 'loyalty.redemption.hint': '已兑换积分 ÷ 已发放积分',
    'loyalty.tiers': '会员等级', 'loyalty.tier': '等级', 'loyalty.code': '代码', 'loyalty.threshold': '升级门槛',
    'loyalty.multiplier': '积分倍率', 'loyalty.discount': '会员折扣', 'loyalty.tierMembers': '会员数', 'loyalty.share': '占比',
    'loyalty.perTier': '各等级会员数',
    'loyalty.metric.SPEND_12M': '门槛按近 12 个月净消费计', 'loyalty.metric.POINTS_12M': '门槛按近 12 个月所得积分计',
    'loyalty.metric.PURCHASES_12M': '门槛按近 12 个月购买次数计',
    'loyalty.unit.points': '{n} 积分', 'loyalty.unit.purchases': '{n} 次',
    'loyalty.expiring': '即将过期的积分', 'loyalty.within': '{days} 天内过期',
    'loyalty.holders': '{members} 位会员 · 价值 {value}',
    'loyalty.byWeek': '未来 90 天按周过期积分', 'loyalty.week': '过期时间', 'loyalty.points': '积分', 'loyalty.value': '价值',
    'loyalty.weekRange': '{from} – {to}', 'loyalty.noneExpiring': '未来 90 天没有积分过期',
    'loyalty.expiring.hint': '提醒这些会员在积分过期前到店消费或兑换。',
    'loyalty.rewards': '奖励目录', 'loyalty.rewards.none': '奖励目录为空', 'loyalty.reward.code': '代码', 'loyalty.reward.name': '名称',
    'loyalty.reward.kind': '类型', 'loyalty.reward.price': '所需积分', 'loyalty.reward.stock': '库存', 'loyalty.reward.unlimited': '不限',
    'loyalty.reward.value': '面值', 'loyalty.reward.validDays': '券有效天数', 'loyalty.reward.days': '{n} 天',
    'loyalty.kind.COUPON': '优惠券', 'loyalty.kind.GIFT': '礼品', 'loyalty.kind.ORDER_DISCOUNT': '订单折扣',
    'loyalty.reward.create': '新增奖励', 'loyalty.reward.nameZh': '中文名称', 'loyalty.reward.nameEn': '英文名称',
    'loyalty.reward.stock.hint': '留空：不限', 'loyalty.reward.value.hint': '优惠券和订单折扣填写', 'loyalty.reward.wholeNumber': '请输入整数',
    'loyalty.reward.created': '已新增奖励 {code}。',
  },
  en: {
    'loyalty.title': 'Loyalty', 'loyalty.members': 'Members', 'loyalty.outstanding': 'Points outstanding',
    'loyalty.liability': 'Points liability', 'loyalty.liability.hint': 'Outstanding points at the redemption rate',
    'loyalty.redemption': 'Redemption rate', 'loyalty.redemption.hint': 'Points redeemed ÷ points earned',
    'loyalty.tiers': 'Tiers', 'loyalty.tier': 'Tier', 'loyalty.code': 'Code', 'loyalty.threshold': 'Threshold',
    'loyalty.multiplier': 'Points multiplier', 'loyalty.discount': 'Discount', 'loyalty.tierMembers': 'Members', 'loyalty.share': 'Share',
    'loyalty.perTier': 'Members per tier',
    'loyalty.metric.SPEND_12M': 'Thresholds are net spend over the last 12 months',
    'loyalty.metric.POINTS_12M': 'Thresholds are points earned over the last 12 months',
    'loyalty.metric.PURCHASES_12M': 'Thresholds are purchases over the last 12 months',
    'loyalty.unit.points': '{n} points', 'loyalty.unit.purchases': '{n} purchases',
    'loyalty.expiring': 'Points about to expire', 'loyalty.within': 'Expiring within {days} days',
    'loyalty.holders': '{members} members · worth {value}',
    'loyalty.byWeek': 'Points expiring per week, next 90 days', 'loyalty.week': 'Expiring', 'loyalty.points': 'Points', 'loyalty.value': 'Value',
    'loyalty.weekRange': '{from} – {to}', 'loyalty.noneExpiring': 'No points expire in the next 90 days',
    'loyalty.expiring.hint': 'Remind these members to shop or redeem before their points lapse.',
    'loyalty.rewards': 'Reward catalogue', 'loyalty.rewards.none': 'The reward catalogue is empty', 'loyalty.reward.code': 'Code', 'loyalty.reward.name': 'Name',
    'loyalty.reward.kind': 'Kind', 'loyalty.reward.price': 'Points', 'loyalty.reward.stock': 'Stock', 'loyalty.reward.unlimited': 'unlimited',
    'loyalty.reward.value': 'Value', 'loyalty.reward.validDays': 'Coupon valid for', 'loyalty.reward.days': '{n} days',
    'loyalty.kind.COUPON': 'Coupon', 'loyalty.kind.GIFT': 'Gift', 'loyalty.kind.ORDER_DISCOUNT': 'Order discount',
    'loyalty.reward.create': 'Add a reward', 'loyalty.reward.nameZh': 'Name in Chinese', 'loyalty.reward.nameEn': 'Name in English',
    'loyalty.reward.stock.hint': 'Empty: unlimited', 'loyalty.reward.value.hint': 'For coupons and order discounts', 'loyalty.reward.wholeNumber': 'Enter a whole number',
    'loyalty.reward.created': 'Reward {code} added.',
  },
});

const REWARD = 'code nameZh nameEn kind pointsPrice stock value validDays';

const QUERY = `query LoyaltyPage {
  loyaltyProgram {
    qualifyingMetric
    tiers { code zh: label(lang: ZH) en: label(lang: EN) threshold multiplier benefits { discountPercent } }
    membersPerTier { tier { code } members }
    pointsOutstanding liability redemptionRate
    e30: expiringPoints(withinDays: 30) { points members liability }
    e60: expiringPoints(withinDays: 60) { points members liability }
    e90: expiringPoints(withinDays: 90) { points members liability weeks { start end points members } }
  }
  loyaltyRewards { ${REWARD} }
}`;

const CREATE_REWARD = `mutation ConsoleCreateReward($input: CreateRewardInput!) {
  createReward(input: $input) { reward { ${REWARD} } errors { field message code } }
}`;

function threshold(metric, value) {
  if (metric === 'SPEND_12M') return money(value);
  if (metric === 'POINTS_12M') return t('loyalty.unit.points', { n: number(value) });
  return t('loyalty.unit.purchases', { n: number(value) });
}

// A tier's name in the console's language, the other language beside it.
const tierName = (tier) => (getLang() === 'zh' ? tier.zh : tier.en);
const otherName = (tier) => (getLang() === 'zh' ? tier.en : tier.zh);

function tierTable(program, counts, total) {
  const metric = program.qualifyingMetric;
  const rows = program.tiers.map((tier) => ({ ...tier, members: counts.get(tier.code) || 0 }));
  return h('table.data', { 'data-testid': 'loyalty-tiers' },
    h('thead', {}, h('tr', {},
      h('th', {}, t('loyalty.tier')), h('th', {}, t('loyalty.code')), h('th.num', {}, t('loyalty.threshold')),
      h('th.num', {}, t('loyalty.multiplier')), h('th.num', {}, t('loyalty.discount')),
      h('th.num', {}, t('loyalty.tierMembers')), h('th.num', {}, t('loyalty.share')))),
    h('tbody', {}, rows.map((r) => h('tr', { 'data-tier': r.code },
      h('td', {}, tierName(r), otherName(r) !== tierName(r) ? h('span.hint', {}, ` ${otherName(r)}`) : null),
      h('td', {}, h('code', {}, r.code)),
      h('td.num', {}, threshold(metric, r.threshold)),
      h('td.num', {}, `×${number(r.multiplier, 2)}`),
      h('td.num', {}, Number(r.benefits.discountPercent) ? percent(Number(r.benefits.discountPercent) / 100, 0) : '—'),
      h('td.num', { 'data-testid': 'tier-members' }, number(r.members)),
      h('td.num', {}, total ? percent(r.members / total) : '—')))));
}

function expiringStat(days, figures) {
  return stat(t('loyalty.within', { days }), t('loyalty.unit.points', { n: number(figures.points) }), {
    testid: `loyalty-expiring-${days}`,
  });
}

// -- the reward catalogue; admins add to it ---------------------------------------------------

const KINDS = ['COUPON', 'GIFT', 'ORDER_DISCOUNT'];

function rewardTable(rewards) {
  const node = table([
    { label: t('loyalty.reward.code'), value: (r) => h('code', {}, r.code) },
    { label: t('loyalty.reward.name'), value: (r) => (getLang() === 'zh' ? r.nameZh : r.nameEn) },
    { label: t('loyalty.reward.kind'), value: (r) => t(`loyalty.kind.${r.kind}`) },
    { label: t('loyalty.reward.price'), value: (r) => number(r.pointsPrice), className: 'num' },
    { label: t('loyalty.reward.stock'), value: (r) => (r.stock === null ? t('loyalty.reward.unlimited') : number(r.stock)), className: 'num' },
    { label: t('loyalty.reward.value'), value: (r) => money(r.value, 2), className: 'num' },
    { label: t('loyalty.reward.validDays'), value: (r) => t('loyalty.reward.days', { n: number(r.validDays) }), className: 'num' },
  ], rewards, { testid: 'loyalty-rewards', empty: t('loyalty.rewards.none') });
  for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) tr.dataset.reward = rewards[index].code;
  return node;
}

// Optional whole numbers are checked here (the API takes an Int, and a
// malformed one would fail the whole request); everything else is the API's.
function optionalInt(form, input, name) {
  const value = input.value.trim();
  if (!value) return undefined;
  if (/^[+-]?\d+$/.test(value)) return Number(value);
  showErrors(form, [{ field: name, message: t('loyalty.reward.wholeNumber') }]);
  return null;
}

function createRewardForm(ctx, onCreated) {
  const input = (name, attrs = {}) => h('input', { name, autocomplete: 'off', 'data-testid': `reward-${name}`, ...attrs });
  const inputs = {
    code: input('code', { maxlength: 64 }), nameZh: input('nameZh'), nameEn: input('nameEn'),
    pointsPrice: input('pointsPrice', { inputmode: 'numeric' }),
    stock: input('stock', { inputmode: 'numeric', placeholder: t('loyalty.reward.stock.hint') }),
    value: input('value', { inputmode: 'decimal', placeholder: t('loyalty.reward.value.hint') }),
    validDays: input('validDays', { inputmode: 'numeric', value: '90' }),
  };
  const kind = h('select', { name: 'kind', 'data-testid': 'reward-kind' }, KINDS.map((k) => h('option', { value: k }, t(`loyalty.kind.${k}`))));
  const notice = h('p.notice', { role: 'status', 'data-testid': 'reward-notice' });
  const form = h('form.form', {
    'data-testid': 'reward-create', 'data-write': true,
    onsubmit: async (event) => {
      event.preventDefault();
      notice.textContent = '';
      showErrors(form, []);
      const numbers = {};
      for (const name of ['pointsPrice', 'stock', 'validDays']) {
        numbers[name] = optionalInt(form, inputs[name], name);
        if (numbers[name] === null) return;
      }
      const payload = { code: inputs.code.value.trim(), nameZh: inputs.nameZh.value.trim(), nameEn: inputs.nameEn.value.trim(),
                        kind: kind.value, pointsPrice: numbers.pointsPrice ?? 0, validDays: numbers.validDays ?? 90 };
      if (numbers.stock !== undefined) payload.stock = numbers.stock;
      if (inputs.value.value.trim()) payload.value = inputs.value.value.trim();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const { createReward: result } = await ctx.gql(CREATE_REWARD, { input: payload });
        if (showErrors(form, result.errors)) return;
        notice.textContent = t('loyalty.reward.created', { code: result.reward.code });
        form.reset();
        onCreated(result.reward);
      } catch (error) {
        showErrors(form, [{ field: null, message: error.message }]);
      } finally {
        button.disabled = false;
      }
    },
  },
  h('div.form-error', { role: 'alert' }),
  h('div.row', {},
    field(t('loyalty.reward.code'), inputs.code, 'code'),
    field(t('loyalty.reward.nameZh'), inputs.nameZh, 'nameZh'),
    field(t('loyalty.reward.nameEn'), inputs.nameEn, 'nameEn'),
    field(t('loyalty.reward.kind'), kind, 'kind'),
    field(t('loyalty.reward.price'), inputs.pointsPrice, 'pointsPrice'),
    field(t('loyalty.reward.stock'), inputs.stock, 'stock'),
    field(t('loyalty.reward.value'), inputs.value, 'value'),
    field(t('loyalty.reward.validDays'), inputs.validDays, 'validDays')),
  h('div', {}, h('button', { type: 'submit', 'data-testid': 'reward-submit' }, t('loyalty.reward.create'))));
  return h('div.cw-reward-create', { 'data-write': true }, h('h2', {}, t('loyalty.reward.create')), form, notice);
}

function rewardsCard(ctx, rewards) {
  const slot = h('div.lifecycle-scroll', {}, rewardTable(rewards));
  const added = (reward) => {
    rewards.push(reward);
    rewards.sort((a, b) => (a.code < b.code ? -1 : 1));  // the API's order (by code)
    clear(slot, rewardTable(rewards));
  };
  return card(t('loyalty.rewards'), slot, ctx.can('ADMIN') ? createRewardForm(ctx, added) : null);
}

export default {
  route: 'loyalty', title: 'loyalty.title', module: 'loyalty',
  async render(view, ctx) {
    const { loyaltyProgram: program, loyaltyRewards: rewards } = await ctx.gql(QUERY);
    const counts = new Map(program.membersPerTier.map((c) => [c.tier.code, c.members]));
    const total = program.membersPerTier.reduce((sum, c) => sum + c.members, 0);

    const figures = h('div.stats', {},
      stat(t('loyalty.members'), number(total), { testid: 'loyalty-members' }),
      stat(t('loyalty.outstanding'), number(program.pointsOutstanding), { testid: 'loyalty-outstanding' }),
      stat(t('loyalty.liability'), money(program.liability, 2), { testid: 'loyalty-liability' }),
      stat(t('loyalty.redemption'), percent(program.redemptionRate), { testid: 'loyalty-redemption' }));
    figures.children[2].title = t('loyalty.liability.hint');
    figures.children[3].title = t('loyalty.redemption.hint');

    const perTier = h('div.chart', { 'data-testid': 'loyalty-tier-chart' });
    const tiers = h('div.loyalty-tiers', {},
      h('div', {}, tierTable(program, counts, total), h('p.hint', {}, t(`loyalty.metric.${program.qualifyingMetric}`))),
      perTier);

    const windows = [[30, program.e30], [60, program.e60], [90, program.e90]];
    const expiringFigures = h('div.stats', {}, windows.map(([days, f]) => {
      const node = expiringStat(days, f);
      node.append(h('div.stat-compare', { 'data-testid': `loyalty-expiring-${days}-holders` },
        t('loyalty.holders', { members: number(f.members), value: money(f.liability, 2) })));
      return node;
    }));
    const weeks = program.e90.weeks;
    const weekLabel = (w) => t('loyalty.weekRange', { from: date(w.start), to: date(w.end) });
    const byWeek = h('div.chart', { 'data-testid': 'loyalty-expiry-chart' });
    const weekTable = table([
      { label: t('loyalty.week'), value: weekLabel },
      { label: t('loyalty.points'), value: (w) => number(w.points), className: 'num' },
      { label: t('loyalty.tierMembers'), value: (w) => number(w.members), className: 'num' },
    ], weeks.filter((w) => w.points > 0), { testid: 'loyalty-expiry-weeks', empty: t('loyalty.noneExpiring') });

    view.append(
      figures,
      card(t('loyalty.tiers'), tiers),
      card(t('loyalty.expiring'), expiringFigures, h('p.hint', {}, t('loyalty.expiring.hint')),
        h('h2', {}, t('loyalty.byWeek')), byWeek, weekTable),
      rewardsCard(ctx, rewards));

    chart(perTier, {
      title: { text: t('loyalty.perTier'), left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'item' },
      series: [{
        type: 'pie', radius: ['40%', '65%'], top: 24,
        label: { formatter: (p) => `${p.name}\n${number(p.value)}` },
        data: program.tiers.map((tier) => ({ name: tierName(tier), value: counts.get(tier.code) || 0 })),
      }],
    });
    chart(byWeek, {
      grid: { left: 60, right: 20, top: 20, bottom: 60 },
      tooltip: {
        trigger: 'axis',
        formatter: (items) => {
          const w = weeks[items[0].dataIndex];
          return `${weekLabel(w)}<br>${t('loyalty.points')}: ${number(w.points)}<br>${t('loyalty.tierMembers')}: ${number(w.members)}`;
        },
      },
      xAxis: { type: 'category', data: weeks.map((w) => date(w.end)), axisLabel: { rotate: 40 } },
      yAxis: { type: 'value', axisLabel: { formatter: (v) => number(v) } },
      series: [{ type: 'bar', name: t('loyalty.points'), data: weeks.map((w) => w.points), itemStyle: { color: '#ef6c00' } }],
    });
  },
};
