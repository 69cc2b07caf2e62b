// Satisfaction (满意度): for one survey of the tenant's (the most recent
// active one unless the address names another), the satisfaction index
// (0–100) and NPS with their confidence intervals and counts, the index per
// dimension and the figures per indicator, the monthly trend with its
// significant peaks, troughs, rises and falls, and the drivers: the
// importance–performance matrix and what to fix first. Optionally for one
// store (the other stores' index and NPS side by side). Below, every survey
// with its status and responses.
//
// Below that, what the roles the API allows may write: admins define index
// models, create surveys from them and archive surveys; agents invite
// customers to the survey shown (the links shown once) and record an answer
// taken by phone or in store. The wave is a job (the Jobs page).
//
// Routes: #/satisfaction, #/satisfaction/<survey code>, #/satisfaction/<code>/<store>.
// Two requests: the surveys and index models, then the chosen survey's
// questions and analytics in one query. The models' indicators, a customer
// code's id and every write are asked for when needed.
import { register, t, getLang } from '../i18n.js';
import { h, card, stat, table, clear, field, showErrors } from '../ui.js';
import { number, percent, date, dateTime } from '../format.js';
import { chart, disposeAll } from '../charts.js';

register({
  zh: {
    'satisfaction.title': '满意度',
    'satisfaction.none': '还没有满意度调查问卷。管理员可以在本页、通过 API 或命令行（guanxi satisfaction create-survey）创建问卷。',
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
    'satisfaction.none.admin': '还没有满意度调查问卷：在下方从指数模型新建一个。',
    'satisfaction.done': '完成', 'satisfaction.actions': '操作', 'satisfaction.cancel': '取消',
    'satisfaction.archive': '归档', 'satisfaction.archive.confirm': '归档 {code}？之后不再发出新邀请（已发出的链接到期前仍可作答）。',
    'satisfaction.archived': '已归档问卷 {code}。',
    'satisfaction.models': '指数模型', 'satisfaction.models.hint': '模板随 Guanxi 提供；问卷创建时复制所用模型，之后修改模型不会改变已收回答的含义。',
    'satisfaction.model.template': '模板', 'satisfaction.model.own': '本租户', 'satisfaction.model.kind': '来源',
    'satisfaction.model.dimensions': '维度与指标',
    'satisfaction.model.create': '新建指数模型', 'satisfaction.model.code': '代码（大写字母与下划线）',
    'satisfaction.model.zh': '中文名称', 'satisfaction.model.en': '英文名称',
    'satisfaction.model.dimensionsJson': '维度（JSON）：[{code, zh, en, indicators: [{code, zh, en}]}]',
    'satisfaction.model.created': '已新建指数模型 {code}。', 'satisfaction.badJson': '不是有效的 JSON：{why}',
    'satisfaction.create': '新建问卷', 'satisfaction.create.submit': '创建问卷', 'satisfaction.titleZh': '中文标题', 'satisfaction.titleEn': '英文标题',
    'satisfaction.standard': '使用该模型的标准问卷（每项指标一题，加总体满意度、再购意愿、是否推荐、NPS 和留言）',
    'satisfaction.created.ok': '已创建问卷 {code}（{n} 道题）。',
    'satisfaction.questions': '题目', 'satisfaction.question': '第 {n} 题', 'satisfaction.q.code': '题目代码',
    'satisfaction.q.kind': '题型', 'satisfaction.q.target': '测量', 'satisfaction.q.dimension': '维度', 'satisfaction.q.indicator': '指标',
    'satisfaction.q.zh': '题目（中文）', 'satisfaction.q.en': '题目（英文）', 'satisfaction.q.required': '必答',
    'satisfaction.q.options': '选项：每行一个「代码 | 中文 | English」', 'satisfaction.q.multiple': '可多选',
    'satisfaction.q.add': '添加题目', 'satisfaction.q.remove': '删除', 'satisfaction.q.up': '上移',
    'satisfaction.kind.SCALE': '量表 1–5', 'satisfaction.kind.NPS': 'NPS 0–10', 'satisfaction.kind.RECOMMEND': '是否推荐',
    'satisfaction.kind.CHOICE': '选择题', 'satisfaction.kind.TEXT': '文字',
    'satisfaction.targetOf.INDICATOR': '指标', 'satisfaction.targetOf.OVERALL': '总体满意度', 'satisfaction.targetOf.REPURCHASE': '再购意愿',
    'satisfaction.invite': '邀请客户作答：{code}', 'satisfaction.invite.customers': '客户代码或客户 ID（空格、逗号或换行分隔）',
    'satisfaction.invite.source': '原因', 'satisfaction.invite.source.CAMPAIGN': '营销活动（不受免打扰期限制）',
    'satisfaction.invite.source.WAVE': '定期调查（免打扰期内邀请过的客户跳过）', 'satisfaction.invite.ref': '参考（如活动代码，可留空）',
    'satisfaction.invite.submit': '发送邀请', 'satisfaction.invite.hint': '每位客户通过其同意接收的第一个渠道收到链接；没有同意任何渠道的客户跳过。',
    'satisfaction.invite.result': '已邀请 {invited} 位 · 跳过：未同意任何渠道 {consent} · 免打扰期内 {quiet} · 非本租户客户 {unknown}',
    'satisfaction.invite.links': '作答链接只显示这一次（系统只保存其哈希），离开本页后无法再查看。请现在复制并发送：',
    'satisfaction.invite.customer': '客户', 'satisfaction.invite.channel': '渠道', 'satisfaction.invite.expires': '有效期至',
    'satisfaction.invite.link': '链接', 'satisfaction.invite.none': '请至少填写一位客户。',
    'satisfaction.invite.archived': '问卷 {code} 已归档，不再发出邀请。',
    'satisfaction.notFound': '找不到这些客户代码：{codes}',
    'satisfaction.record': '录入回答（电话、门店）：{code}', 'satisfaction.record.customer': '客户代码或客户 ID',
    'satisfaction.record.channel': '方式', 'satisfaction.record.store': '门店（可留空）', 'satisfaction.record.submit': '保存回答',
    'satisfaction.record.hint': '未作答的题目留空。低分会按设置转入投诉跟进。', 'satisfaction.record.ok': '已保存 {customer} 的回答。',
    'satisfaction.channel.PHONE': '电话', 'satisfaction.channel.STORE': '门店', 'satisfaction.channel.WECHAT': '微信',
    'satisfaction.channel.APP': 'App', 'satisfaction.channel.OTHER': '其他', 'satisfaction.unanswered': '（未作答）',
    'satisfaction.scale.5': '5 非常满意', 'satisfaction.scale.4': '4 满意', 'satisfaction.scale.3': '3 一般',
    'satisfaction.scale.2': '2 不满意', 'satisfaction.scale.1': '1 非常不满',
    'satisfaction.repurchase.5': '5 一定会', 'satisfaction.repurchase.4': '4 可能会', 'satisfaction.repurchase.3': '3 说不准',
    'satisfaction.repurchase.2': '2 可能不会', 'satisfaction.repurchase.1': '1 一定不会',
    'satisfaction.recommend.YES': '会', 'satisfaction.recommend.NO': '不会', 'satisfaction.recommend.DONT_KNOW': '不知道',
    'satisfaction.waveJob': '定期调查批次（guanxi satisfaction wave）是定时任务 satisfaction.wave：在“定时任务”页查看、调整计划或立即运行。',
  },
  en: {
    'satisfaction.title': 'Satisfaction',
    'satisfaction.none': 'No satisfaction surveys yet. Admins create one on this page, through the API or with the CLI (guanxi satisfaction create-survey).',
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
    'satisfaction.none.admin': 'No satisfaction surveys yet: create one from an index model below.',
    'satisfaction.done': 'Done', 'satisfaction.actions': 'Actions', 'satisfaction.cancel': 'Cancel',
    'satisfaction.archive': 'Archive', 'satisfaction.archive.confirm': 'Archive {code}? It sends no new invitations (links already sent can be answered until they expire).',
    'satisfaction.archived': 'Survey {code} archived.',
    'satisfaction.models': 'Index models', 'satisfaction.models.hint': 'Templates ship with Guanxi; a survey copies its model when created, so changing a model later never changes what stored answers mean.',
    'satisfaction.model.template': 'Template', 'satisfaction.model.own': 'This tenant', 'satisfaction.model.kind': 'Source',
    'satisfaction.model.dimensions': 'Dimensions and indicators',
    'satisfaction.model.create': 'New index model', 'satisfaction.model.code': 'Code (UPPER_SNAKE_CASE)',
    'satisfaction.model.zh': 'Chinese name', 'satisfaction.model.en': 'English name',
    'satisfaction.model.dimensionsJson': 'Dimensions (JSON): [{code, zh, en, indicators: [{code, zh, en}]}]',
    'satisfaction.model.created': 'Index model {code} created.', 'satisfaction.badJson': 'Not valid JSON: {why}',
    'satisfaction.create': 'New survey', 'satisfaction.create.submit': 'Create survey', 'satisfaction.titleZh': 'Title in Chinese', 'satisfaction.titleEn': 'Title in English',
    'satisfaction.standard': "The model's standard questionnaire (one question per indicator, then overall satisfaction, repurchase, recommend, NPS and a comment)",
    'satisfaction.created.ok': 'Survey {code} created ({n} questions).',
    'satisfaction.questions': 'Questions', 'satisfaction.question': 'Question {n}', 'satisfaction.q.code': 'Question code',
    'satisfaction.q.kind': 'Kind', 'satisfaction.q.target': 'Measures', 'satisfaction.q.dimension': 'Dimension', 'satisfaction.q.indicator': 'Indicator',
    'satisfaction.q.zh': 'Question (Chinese)', 'satisfaction.q.en': 'Question (English)', 'satisfaction.q.required': 'Required',
    'satisfaction.q.options': 'Options: one per line, "CODE | 中文 | English"', 'satisfaction.q.multiple': 'Several may be chosen',
    'satisfaction.q.add': 'Add a question', 'satisfaction.q.remove': 'Remove', 'satisfaction.q.up': 'Move up',
    'satisfaction.kind.SCALE': 'Scale 1–5', 'satisfaction.kind.NPS': 'NPS 0–10', 'satisfaction.kind.RECOMMEND': 'Would recommend',
    'satisfaction.kind.CHOICE': 'Choice', 'satisfaction.kind.TEXT': 'Text',
    'satisfaction.targetOf.INDICATOR': 'An indicator', 'satisfaction.targetOf.OVERALL': 'Overall satisfaction', 'satisfaction.targetOf.REPURCHASE': 'Repurchase intention',
    'satisfaction.invite': 'Invite customers: {code}', 'satisfaction.invite.customers': 'Customer codes or ids (separated by spaces, commas or lines)',
    'satisfaction.invite.source': 'Why', 'satisfaction.invite.source.CAMPAIGN': 'A campaign (no quiet period)',
    'satisfaction.invite.source.WAVE': 'A wave (customers invited within the quiet period are skipped)', 'satisfaction.invite.ref': 'Reference (e.g. the campaign code; optional)',
    'satisfaction.invite.submit': 'Send invitations', 'satisfaction.invite.hint': 'Each customer gets the link on the first channel they consented to; a customer with no consented channel is skipped.',
    'satisfaction.invite.result': 'Invited {invited} · skipped: no consent {consent} · quiet period {quiet} · not a customer here {unknown}',
    'satisfaction.invite.links': 'The answer links are shown this once (only their hash is stored): they cannot be seen again after you leave this page. Copy and send them now:',
    'satisfaction.invite.customer': 'Customer', 'satisfaction.invite.channel': 'Channel', 'satisfaction.invite.expires': 'Expires',
    'satisfaction.invite.link': 'Link', 'satisfaction.invite.none': 'Enter at least one customer.',
    'satisfaction.invite.archived': 'Survey {code} is archived: it sends no invitations.',
    'satisfaction.notFound': 'No customer with these codes: {codes}',
    'satisfaction.record': 'Record an answer (phone, store): {code}', 'satisfaction.record.customer': 'Customer code or id',
    'satisfaction.record.channel': 'How', 'satisfaction.record.store': 'Store (optional)', 'satisfaction.record.submit': 'Save answer',
    'satisfaction.record.hint': 'Leave unanswered questions empty. A low answer loops back into complaints as the settings say.', 'satisfaction.record.ok': 'Answer of {customer} saved.',
    'satisfaction.channel.PHONE': 'Phone', 'satisfaction.channel.STORE': 'In store', 'satisfaction.channel.WECHAT': 'WeChat',
    'satisfaction.channel.APP': 'App', 'satisfaction.channel.OTHER': 'Other', 'satisfaction.unanswered': '(not answered)',
    'satisfaction.scale.5': '5 Very satisfied', 'satisfaction.scale.4': '4 Satisfied', 'satisfaction.scale.3': '3 Neutral',
    'satisfaction.scale.2': '2 Dissatisfied', 'satisfaction.scale.1': '1 Very dissatisfied',
    'satisfaction.repurchase.5': '5 Definitely will', 'satisfaction.repurchase.4': '4 Probably will', 'satisfaction.repurchase.3': '3 Not sure',
    'satisfaction.repurchase.2': '2 Probably not', 'satisfaction.repurchase.1': '1 Definitely not',
    'satisfaction.recommend.YES': 'Yes', 'satisfaction.recommend.NO': 'No', 'satisfaction.recommend.DONT_KNOW': "Don't know",
    'satisfaction.waveJob': 'The periodic wave (guanxi satisfaction wave) is the job satisfaction.wave: see it, change its schedule or run it now on the Jobs page.',
  },
});

const SURVEYS = `query SatisfactionSurveys {
  satisfactionSurveys { code titleZh titleEn status createdAt responseCount
    indexModel { code zh en } invitations { sent answered expired responseRate } }
  satisfactionIndexModels { code zh en template dimensions { code zh en } }
}`;
// The models' indicators cost (lists in lists) more than a viewer's query
// budget allows beside the rest: asked for when shown or needed (new survey).
const MODEL_INDICATORS = `query SatisfactionIndexModelIndicators {
  satisfactionIndexModels { code zh en template dimensions { code zh en indicators { code zh en } } } }`;

const FIGURE = 'count mean ciLow ciHigh satisfied satisfiedCiLow satisfiedCiHigh';
const ANALYTICS = `query SatisfactionPage($survey: String!, $where: SatisfactionAnalyticsWhere, $lang: Lang!) {
  questionnaire: satisfactionSurvey(code: $survey) {
    questions { code kind target dimension indicator zh en required multiple options { code zh en } } }
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

function surveyTable(surveys, current, actions) {
  return h('table.data', { 'data-testid': 'satisfaction-surveys' },
    h('thead', {}, h('tr', {}, [
      t('satisfaction.code'), t('satisfaction.surveyTitle'), t('satisfaction.model'), t('satisfaction.status'),
      t('satisfaction.responses'), t('satisfaction.sent'), t('satisfaction.responseRate'), t('satisfaction.created'),
    ].map((label, i) => h(i >= 4 && i <= 6 ? 'th.num' : 'th', {}, label)), actions ? h('th', {}, t('satisfaction.actions')) : null)),
    h('tbody', {}, surveys.map((s) => h('tr', { 'data-survey': s.code },
      h('td', {}, h('a', { href: hashOf(s.code) }, s.code), s.code === current ? h('span.hint', {}, ` · ${t('satisfaction.current')}`) : null),
      h('td', {}, title(s)),
      h('td', {}, modelName(s.indexModel)),
      h('td', {}, h(`span.badge${s.status === 'ACTIVE' ? '.good' : ''}`, { 'data-status': s.status }, t(`satisfaction.status.${s.status}`))),
      h('td.num', { 'data-testid': 'survey-responses' }, number(s.responseCount)),
      h('td.num', { 'data-testid': 'survey-sent' }, number(s.invitations.sent)),
      h('td.num', {}, percent(s.invitations.responseRate)),
      h('td', {}, date(s.createdAt)),
      actions ? h('td', {}, actions(s)) : null))));
}

// -- writing: index models, new surveys, archive, invitations, answers by agents --------
// Each form sends one mutation; the API's errors go next to the field they name
// (payload errors[].field, e.g. questions[3].indicator, answers.OVERALL); on
// success the result is shown and the page is drawn again from the API.

const ERRORS = 'errors { field message code }';
const CREATE_MODEL = `mutation CreateSatisfactionIndexModel($input: CreateSatisfactionIndexModelInput!) {
  createSatisfactionIndexModel(input: $input) { indexModel { code } ${ERRORS} } }`;
const CREATE_SURVEY = `mutation CreateSatisfactionSurvey($input: CreateSatisfactionSurveyInput!) {
  createSatisfactionSurvey(input: $input) { survey { code questions { code } } ${ERRORS} } }`;
const ARCHIVE = `mutation ArchiveSatisfactionSurvey($code: String!) {
  archiveSatisfactionSurvey(input: {code: $code}) { survey { code status } ${ERRORS} } }`;
const INVITE = `mutation InviteToSatisfactionSurvey($input: InviteToSatisfactionSurveyInput!) {
  inviteToSatisfactionSurvey(input: $input) { invitations { invitationId customerId channel expiresAt path }
    skippedNoConsent skippedQuiet skippedUnknown ${ERRORS} } }`;
const RECORD = `mutation RecordSatisfactionAnswer($input: RecordSatisfactionAnswerInput!) {
  recordSatisfactionAnswer(input: $input) { response { id } ${ERRORS} } }`;
const FIND_CUSTOMERS = `query SatisfactionCustomersByCode($codes: [String!]!) {
  customers(first: 100, where: {code: {in: $codes}}) { edges { node { id code name } } } }`;

const KINDS = ['SCALE', 'NPS', 'RECOMMEND', 'CHOICE', 'TEXT'];
const TARGETS = ['INDICATOR', 'OVERALL', 'REPURCHASE'];
const AGENT_CHANNELS = ['PHONE', 'STORE', 'WECHAT', 'APP', 'OTHER'];
const INVITE_SOURCES = ['CAMPAIGN', 'WAVE'];

// A form's submit: one at a time; a failed request shows at the form's top, nothing is kept.
const onSubmit = (work) => async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    showErrors(form, [{ field: null, message: String(error.message || error) }]);
  } finally {
    button.disabled = false;
  }
};

const text = (node) => node.value.trim();
const options = (values, label, selected) => values.map((v) => h('option', { value: v, selected: v === selected }, label(v)));

// A customer's global id ("Customer:<pk>" in url-safe base64) as typed, else null: then it is a code.
function customerIdOf(token) {
  try {
    const raw = atob(token.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (token.length % 4)) % 4));
    return /^Customer:\d+$/.test(raw) ? token : null;
  } catch {
    return null;
  }
}

// Customer codes and ids as typed -> {ids, labels (id -> what to show), missing codes}.
async function resolveCustomers(ctx, tokens) {
  const ids = [];
  const labels = new Map();
  const codes = [];
  for (const token of tokens) {
    const id = customerIdOf(token);
    if (id) { ids.push(id); labels.set(id, token); } else codes.push(token);
  }
  const found = new Map();
  for (let start = 0; start < codes.length; start += 100) {  // customers(first:) takes at most 100
    const { customers } = await ctx.gql(FIND_CUSTOMERS, { codes: codes.slice(start, start + 100) });
    for (const { node } of customers.edges) found.set(node.code, node);
  }
  for (const code of codes) {
    const node = found.get(code);
    if (node) { ids.push(node.id); labels.set(node.id, node.name ? `${node.name} (${code})` : code); }
  }
  return { ids, labels, missing: codes.filter((c) => !found.has(c)) };
}

function splitTokens(value) {
  return [...new Set(value.split(/[\s,，;；]+/).filter(Boolean))];
}

// The model's standard questionnaire, as the API builds it when `questions` is
// omitted (plugins/satisfaction/templates.py template_questions): the start of
// a questionnaire of one's own.
function standardQuestions(model) {
  const questions = model.dimensions.flatMap((d) => d.indicators.map((i) => ({
    code: `${d.code}__${i.code}`, kind: 'SCALE', target: 'INDICATOR', dimension: d.code, indicator: i.code,
    zh: `您对${d.zh}的「${i.zh}」是否满意？`, en: `How satisfied are you with ${d.en.toLowerCase()}: ${i.en.toLowerCase()}?`, required: false,
  })));
  return questions.concat([
    { code: 'OVERALL', kind: 'SCALE', target: 'OVERALL', zh: '总体而言，您是否满意？', en: 'Overall, how satisfied are you?', required: true },
    { code: 'REPURCHASE', kind: 'SCALE', target: 'REPURCHASE', zh: '您是否会再次购买？', en: 'Will you buy from us again?', required: false },
    { code: 'RECOMMEND', kind: 'RECOMMEND', zh: '您会向亲友推荐我们吗？', en: 'Would you recommend us to friends and family?', required: false },
    { code: 'NPS', kind: 'NPS', zh: '您有多大可能向朋友推荐我们？（0–10）', en: 'How likely are you to recommend us to a friend? (0–10)', required: false },
    { code: 'COMMENT', kind: 'TEXT', zh: '还有什么想对我们说的？', en: 'Anything else you would like to tell us?', required: false },
  ]);
}

// One question of the editor: its inputs, each in a field named as the API
// names its errors (questions[<n>].<key>); renumbered when rows move.
function questionRow(question, model, editor) {
  const fields = {};
  const code = h('input', { value: question.code || '', maxlength: 32, 'data-testid': 'q-code' });
  const kind = h('select', { 'data-testid': 'q-kind' }, options(KINDS, (k) => t(`satisfaction.kind.${k}`), question.kind || 'SCALE'));
  const target = h('select', { 'data-testid': 'q-target' }, options(TARGETS, (k) => t(`satisfaction.targetOf.${k}`), question.target || 'INDICATOR'));
  const dimension = h('select', { 'data-testid': 'q-dimension' }, model.dimensions.map((d) =>
    h('option', { value: d.code, selected: d.code === question.dimension }, `${modelName(d)} (${d.code})`)));
  const indicator = h('select', { 'data-testid': 'q-indicator' });
  const fillIndicators = (chosen) => {
    const dim = model.dimensions.find((d) => d.code === dimension.value) || { indicators: [] };
    clear(indicator, dim.indicators.map((i) => h('option', { value: i.code, selected: i.code === chosen }, `${modelName(i)} (${i.code})`)));
  };
  dimension.addEventListener('change', () => fillIndicators(null));
  fillIndicators(question.indicator);
  const zh = h('input', { value: question.zh || '', maxlength: 500, 'data-testid': 'q-zh' });
  const en = h('input', { value: question.en || '', maxlength: 500, 'data-testid': 'q-en' });
  const required = h('input', { type: 'checkbox', checked: Boolean(question.required), 'data-testid': 'q-required' });
  const choices = h('textarea', { rows: 3, 'data-testid': 'q-options' },
    (question.options || []).map((o) => `${o.code} | ${o.zh} | ${o.en}`).join('\n'));
  const multiple = h('input', { type: 'checkbox', checked: Boolean(question.multiple), 'data-testid': 'q-multiple' });

  const put = (key, label, input) => { fields[key] = field(label, input, key); return fields[key]; };
  const heading = h('div.sat-q-head', {}, h('b', {}),
    h('button.link', { type: 'button', 'data-testid': 'q-up', onclick: () => editor.move(row, -1) }, t('satisfaction.q.up')),
    h('button.link', { type: 'button', 'data-testid': 'q-remove', onclick: () => editor.remove(row) }, t('satisfaction.q.remove')));
  const node = h('fieldset.sat-question', { 'data-testid': 'survey-question' }, heading,
    h('div.row', {}, put('code', t('satisfaction.q.code'), code), put('kind', t('satisfaction.q.kind'), kind),
      put('target', t('satisfaction.q.target'), target), put('dimension', t('satisfaction.q.dimension'), dimension),
      put('indicator', t('satisfaction.q.indicator'), indicator)),
    h('div.row', {}, put('zh', t('satisfaction.q.zh'), zh), put('en', t('satisfaction.q.en'), en)),
    put('options', t('satisfaction.q.options'), choices),
    h('div.checks', {}, h('label.inline', {}, required, ' ', t('satisfaction.q.required')),
      h('label.inline', { 'data-choice': true }, multiple, ' ', t('satisfaction.q.multiple'))));

  const showFor = () => {  // only the inputs the kind takes
    const scale = kind.value === 'SCALE';
    const indicatorQuestion = scale && target.value === 'INDICATOR';
    fields.target.hidden = !scale;
    fields.dimension.hidden = !indicatorQuestion;
    fields.indicator.hidden = !indicatorQuestion;
    fields.options.hidden = kind.value !== 'CHOICE';
    node.querySelector('[data-choice]').hidden = kind.value !== 'CHOICE';
  };
  kind.addEventListener('change', showFor);
  target.addEventListener('change', showFor);
  showFor();

  const row = {
    node,
    number(index) {
      heading.querySelector('b').textContent = t('satisfaction.question', { n: index + 1 });
      node.dataset.index = String(index);
      for (const [key, slot] of Object.entries(fields)) slot.dataset.field = `questions[${index}].${key}`;
    },
    read() {  // the question as the API takes it
      const q = { code: text(code), kind: kind.value, zh: text(zh), en: text(en), required: required.checked };
      if (kind.value === 'SCALE') {
        q.target = target.value;
        if (target.value === 'INDICATOR') Object.assign(q, { dimension: dimension.value, indicator: indicator.value });
      }
      if (kind.value === 'CHOICE') {
        q.options = choices.value.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
          const [c = '', z = '', e = ''] = line.split('|').map((part) => part.trim());
          return { code: c, zh: z, en: e };
        });
        q.multiple = multiple.checked;
      }
      return q;
    },
  };
  return row;
}

function questionEditor() {
  const list = h('div.sat-questions', { 'data-testid': 'survey-questions' });
  let rows = [];
  let model = null;
  const draw = () => { rows.forEach((r, i) => r.number(i)); clear(list, rows.map((r) => r.node)); };
  const editor = {
    node: h('div', {}, list, h('button.secondary', { type: 'button', 'data-testid': 'q-add', onclick: () => {
      rows.push(questionRow({ kind: 'SCALE', target: 'OVERALL' }, model, editor));
      draw();
    } }, t('satisfaction.q.add'))),
    fill(newModel) { model = newModel; rows = standardQuestions(model).map((q) => questionRow(q, model, editor)); draw(); },
    remove(row) { rows = rows.filter((r) => r !== row); draw(); },
    move(row, by) {
      const at = rows.indexOf(row);
      if (at + by < 0) return;
      rows.splice(at, 1);
      rows.splice(at + by, 0, row);
      draw();
    },
    read: () => rows.map((r) => r.read()),
  };
  return editor;
}

function createSurveyForm(ctx, models, withIndicators, done) {
  const code = h('input', { name: 'code', maxlength: 32, required: true, 'data-testid': 'survey-code' });
  const titleZh = h('input', { name: 'titleZh', maxlength: 200, 'data-testid': 'survey-title-zh' });
  const titleEn = h('input', { name: 'titleEn', maxlength: 200, 'data-testid': 'survey-title-en' });
  const model = h('select', { 'data-testid': 'survey-model' }, models.map((m) => h('option', { value: m.code }, `${modelName(m)} (${m.code})`)));
  const standard = h('input', { type: 'checkbox', checked: true, 'data-testid': 'survey-standard' });
  const editor = questionEditor();
  const custom = h('div.sat-custom', { hidden: true }, editor.node);
  // A questionnaire of one's own starts from the chosen model's standard one.
  const startFromModel = async () => {
    custom.hidden = standard.checked;
    if (standard.checked) return;
    const full = await withIndicators();
    editor.fill(full.find((m) => m.code === model.value));
  };
  standard.addEventListener('change', startFromModel);
  model.addEventListener('change', startFromModel);

  const form = h('form.form.sat-form', {
    'data-testid': 'survey-create', 'data-write': true,
    onsubmit: onSubmit(async () => {
      const input = { code: text(code), titleZh: text(titleZh), titleEn: text(titleEn), indexModel: model.value };
      if (!standard.checked) input.questions = editor.read();
      const { createSatisfactionSurvey: result } = await ctx.gql(CREATE_SURVEY, { input });
      if (showErrors(form, result.errors)) return;
      done(t('satisfaction.created.ok', { code: result.survey.code, n: number(result.survey.questions.length) }), hashOf(result.survey.code));
    }),
  },
  h('div.form-error', { role: 'alert' }),
  h('div.row', {}, field(t('satisfaction.code'), code, 'code'), field(t('satisfaction.model'), model, 'model')),
  h('div.row', {}, field(t('satisfaction.titleZh'), titleZh, 'titleZh'), field(t('satisfaction.titleEn'), titleEn, 'titleEn')),
  h('label.inline', {}, standard, ' ', t('satisfaction.standard')),
  custom,
  // After the questions: "questions" would otherwise catch questions[3].indicator first (showErrors takes the first match).
  h('div.field', { 'data-field': 'questions' }, h('span.field-error', { role: 'alert' })),
  h('button', { type: 'submit', 'data-testid': 'survey-submit' }, t('satisfaction.create.submit')));
  return form;
}

function modelsTable(models, withIndicators) {
  // Each model's indicators, listed when its row is opened.
  const indicators = (code) => async (event) => {
    const list = event.currentTarget.querySelector('ul');
    if (!event.currentTarget.open || list.childElementCount) return;
    const model = (await withIndicators()).find((m) => m.code === code);
    clear(list, model.dimensions.map((d) => h('li', {}, h('b', {}, `${modelName(d)} `), h('code.hint', {}, d.code), ': ',
      d.indicators.map((i) => `${modelName(i)} (${i.code})`).join(getLang() === 'zh' ? '、' : ', '))));
  };
  return h('table.data', { 'data-testid': 'satisfaction-models' },
    h('thead', {}, h('tr', {}, [t('satisfaction.code'), t('satisfaction.model'), t('satisfaction.model.kind'), t('satisfaction.model.dimensions')]
      .map((label) => h('th', {}, label)))),
    h('tbody', {}, models.map((m) => h('tr', { 'data-model': m.code },
      h('td', {}, h('code', {}, m.code)),
      h('td', {}, modelName(m)),
      h('td', {}, h(`span.badge${m.template ? '' : '.good'}`, { 'data-template': String(m.template) },
        t(m.template ? 'satisfaction.model.template' : 'satisfaction.model.own'))),
      h('td', {}, h('details', { ontoggle: indicators(m.code) },
        h('summary', {}, m.dimensions.map((d) => modelName(d)).join(' · ')), h('ul.sat-model', { 'data-testid': 'model-indicators' })))))));
}

function createModelForm(ctx, done) {
  const code = h('input', { maxlength: 32, 'data-testid': 'model-code' });
  const zh = h('input', { maxlength: 200, 'data-testid': 'model-zh' });
  const en = h('input', { maxlength: 200, 'data-testid': 'model-en' });
  const dimensions = h('textarea.json', { rows: 6, 'data-testid': 'model-dimensions',
    placeholder: '[{"code": "PRODUCT", "zh": "商品", "en": "Product", "indicators": [{"code": "QUALITY", "zh": "质量", "en": "Quality"}]}]' });
  const form = h('form.form.sat-form', {
    'data-testid': 'model-create', 'data-write': true,
    onsubmit: onSubmit(async () => {
      let parsed;
      try {
        parsed = JSON.parse(dimensions.value || 'null');
      } catch (error) {
        showErrors(form, [{ field: 'dimensions', message: t('satisfaction.badJson', { why: error.message }) }]);
        return;
      }
      const input = { code: text(code), zh: text(zh), en: text(en), dimensions: parsed };
      const { createSatisfactionIndexModel: result } = await ctx.gql(CREATE_MODEL, { input });
      if (showErrors(form, result.errors)) return;
      done(t('satisfaction.model.created', { code: result.indexModel.code }));
    }),
  },
  h('div.form-error', { role: 'alert' }),
  h('div.row', {}, field(t('satisfaction.model.code'), code, 'code'), field(t('satisfaction.model.zh'), zh, 'zh'),
    field(t('satisfaction.model.en'), en, 'en')),
  field(t('satisfaction.model.dimensionsJson'), dimensions, 'dimensions'),
  h('button', { type: 'submit', 'data-testid': 'model-submit' }, t('satisfaction.model.create')));
  return form;
}

// The links as the API hands them out, this once: the public URL is this
// installation's (the console is served under <base>/console/).
function linksResult(result, labels) {
  const base = window.location.href.split('/console/')[0];
  const summary = h('p', { 'data-testid': 'invite-summary' }, t('satisfaction.invite.result', {
    invited: number(result.invitations.length), consent: number(result.skippedNoConsent),
    quiet: number(result.skippedQuiet), unknown: number(result.skippedUnknown) }));
  if (!result.invitations.length) return h('div.notice', { role: 'status', 'data-testid': 'satisfaction-result' }, summary);
  const links = h('table.data', { 'data-testid': 'invite-links' },
    h('thead', {}, h('tr', {}, [t('satisfaction.invite.customer'), t('satisfaction.invite.channel'), t('satisfaction.invite.expires'),
      t('satisfaction.invite.link')].map((label) => h('th', {}, label)))),
    h('tbody', {}, result.invitations.map((i) => h('tr', { 'data-customer': i.customerId },
      h('td', {}, h('a', { href: `#/customer/${encodeURIComponent(i.customerId)}` }, labels.get(i.customerId) || i.customerId)),
      h('td', {}, i.channel), h('td', {}, dateTime(i.expiresAt)),
      h('td', {}, h('code.secret', { 'data-testid': 'invite-link' }, `${base}${i.path}`))))));
  return h('div.notice', { role: 'status', 'data-testid': 'satisfaction-result' }, summary,
    h('div.warning', { role: 'alert' }, t('satisfaction.invite.links')), links);
}

function inviteForm(ctx, survey, done) {
  const customers = h('textarea', { rows: 3, 'data-testid': 'invite-customers' });
  const source = h('select', { 'data-testid': 'invite-source' }, options(INVITE_SOURCES, (s) => t(`satisfaction.invite.source.${s}`), 'CAMPAIGN'));
  const ref = h('input', { maxlength: 64, 'data-testid': 'invite-ref' });
  const form = h('form.form.sat-form', {
    'data-testid': 'survey-invite', 'data-write': true,
    onsubmit: onSubmit(async () => {
      const tokens = splitTokens(customers.value);
      if (!tokens.length) { showErrors(form, [{ field: 'customerIds', message: t('satisfaction.invite.none') }]); return; }
      const { ids, labels, missing } = await resolveCustomers(ctx, tokens);
      if (missing.length) { showErrors(form, [{ field: 'customerIds', message: t('satisfaction.notFound', { codes: missing.join(', ') }) }]); return; }
      const input = { survey: survey.code, customerIds: ids, source: source.value, sourceRef: text(ref) || null };
      const { inviteToSatisfactionSurvey: result } = await ctx.gql(INVITE, { input });
      if (showErrors(form, result.errors)) return;
      done(linksResult(result, labels));
    }),
  },
  h('div.form-error', { role: 'alert' }),
  h('div.field', { 'data-field': 'survey' }, h('span.field-error', { role: 'alert' })),
  field(t('satisfaction.invite.customers'), customers, 'customerIds'),
  h('div.row', {}, field(t('satisfaction.invite.source'), source, 'source'), field(t('satisfaction.invite.ref'), ref, 'sourceRef')),
  h('p.hint', {}, t('satisfaction.invite.hint')),
  h('button', { type: 'submit', 'data-testid': 'invite-submit' }, t('satisfaction.invite.submit')));
  return form;
}

const questionLabel = (q) => `${getLang() === 'zh' ? q.zh : q.en}${q.required ? ' *' : ''}`;

// The input of one question, reading back as the API takes the answer (null: not answered).
function answerInput(q) {
  const none = h('option', { value: '' }, t('satisfaction.unanswered'));
  let input;
  if (q.kind === 'SCALE') {
    const scale = q.target === 'REPURCHASE' ? 'repurchase' : 'scale';
    input = h('select', {}, none, [5, 4, 3, 2, 1].map((v) => h('option', { value: v }, t(`satisfaction.${scale}.${v}`))));
    return { input, read: () => (input.value ? Number(input.value) : null) };
  }
  if (q.kind === 'NPS') {
    input = h('select', {}, none, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((v) => h('option', { value: v }, String(v))));
    return { input, read: () => (input.value ? Number(input.value) : null) };
  }
  if (q.kind === 'RECOMMEND') {
    input = h('select', {}, none, ['YES', 'NO', 'DONT_KNOW'].map((v) => h('option', { value: v }, t(`satisfaction.recommend.${v}`))));
    return { input, read: () => input.value || null };
  }
  if (q.kind === 'CHOICE' && q.multiple) {
    const boxes = q.options.map((o) => h('input', { type: 'checkbox', value: o.code }));
    input = h('span.checks', {}, q.options.map((o, i) => h('label.inline', {}, boxes[i], ' ', modelName(o))));
    return { input, read: () => { const chosen = boxes.filter((b) => b.checked).map((b) => b.value); return chosen.length ? chosen : null; } };
  }
  if (q.kind === 'CHOICE') {
    input = h('select', {}, none, q.options.map((o) => h('option', { value: o.code }, modelName(o))));
    return { input, read: () => input.value || null };
  }
  input = h('textarea', { rows: 2, maxlength: 2000 });
  return { input, read: () => text(input) || null };
}

function recordForm(ctx, survey, done) {
  const customer = h('input', { 'data-testid': 'answer-customer' });
  const channel = h('select', { 'data-testid': 'answer-channel' }, options(AGENT_CHANNELS, (c) => t(`satisfaction.channel.${c}`), 'PHONE'));
  const store = h('input', { maxlength: 64, 'data-testid': 'answer-store' });
  const answers = survey.questions.map((q) => ({ q, ...answerInput(q) }));
  for (const a of answers) a.input.dataset.testid = `answer-${a.q.code}`;
  const form = h('form.form.sat-form', {
    'data-testid': 'survey-answer', 'data-write': true,
    onsubmit: onSubmit(async () => {
      const tokens = splitTokens(customer.value);
      const { ids, labels, missing } = await resolveCustomers(ctx, tokens.slice(0, 1));
      if (!ids.length) {
        showErrors(form, [{ field: 'customerId', message: missing.length ? t('satisfaction.notFound', { codes: missing.join(', ') }) : t('satisfaction.invite.none') }]);
        return;
      }
      const given = {};
      for (const a of answers) { const value = a.read(); if (value !== null) given[a.q.code] = value; }
      const input = { survey: survey.code, customerId: ids[0], answers: given, channel: channel.value, store: text(store) || null };
      const { recordSatisfactionAnswer: result } = await ctx.gql(RECORD, { input });
      if (showErrors(form, result.errors)) return;
      done(t('satisfaction.record.ok', { customer: labels.get(ids[0]) }));
    }),
  },
  h('div.form-error', { role: 'alert' }),
  h('div.field', { 'data-field': 'survey' }, h('span.field-error', { role: 'alert' })),
  h('div.row', {}, field(t('satisfaction.record.customer'), customer, 'customerId'),
    field(t('satisfaction.record.channel'), channel, 'channel'), field(t('satisfaction.record.store'), store, 'store')),
  answers.map((a) => field(questionLabel(a.q), a.input, `answers.${a.q.code}`)),
  // After the questions: "answers" (answer at least one) must not catch answers.<CODE> first.
  h('div.field', { 'data-field': 'answers' }, h('span.field-error', { role: 'alert' })),
  h('p.hint', {}, t('satisfaction.record.hint')),
  h('button', { type: 'submit', 'data-testid': 'answer-submit' }, t('satisfaction.record.submit')));
  return form;
}

// Archive with a confirmation, in the survey's row.
function archiveControl(ctx, survey, done) {
  const cell = h('span.sat-archive', { 'data-write': true });
  const problem = h('span.field-error', { role: 'alert', 'data-testid': 'archive-error' });
  const button = h('button.danger', { type: 'button', 'data-testid': `archive-${survey.code}`, 'data-write': true, onclick: () => clear(cell,
    h('span.confirm', {}, t('satisfaction.archive.confirm', { code: survey.code })), ' ',
    h('button.danger', { type: 'button', 'data-testid': `archive-confirm-${survey.code}`, 'data-write': true, onclick: async (event) => {
      const confirm = event.currentTarget;
      confirm.disabled = true;
      try {
        const { archiveSatisfactionSurvey: result } = await ctx.gql(ARCHIVE, { code: survey.code });
        if (!result.errors.length) { await done(t('satisfaction.archived', { code: survey.code })); return; }
        problem.textContent = result.errors.map((e) => e.message).join('; ');
      } catch (error) {
        problem.textContent = String(error.message || error);
      }
      confirm.disabled = false;
    } }, t('satisfaction.archive')), ' ',
    h('button.secondary', { type: 'button', onclick: () => clear(cell, button) }, t('satisfaction.cancel')), problem) }, t('satisfaction.archive'));
  return clear(cell, button);
}

export default {
  route: 'satisfaction', title: 'satisfaction.title', module: 'satisfaction',
  render: (view, ctx) => drawPage(view, ctx, null),
};

// The page, drawn again after a write with the write's result (`flash`) on top.
async function drawPage(view, ctx, flash) {
  const { satisfactionSurveys: surveys, satisfactionIndexModels: models } = await ctx.gql(SURVEYS);
  const refresh = async (result) => {
    const shown = typeof result === 'string' ? h('p.notice', { role: 'status', 'data-testid': 'satisfaction-result' }, result) : result;
    disposeAll();
    clear(view);
    await drawPage(view, ctx, shown);
    shown.scrollIntoView({ block: 'nearest' });
  };
  if (flash) view.append(flash);
  let full = null;
  const withIndicators = () => { full = full || ctx.gql(MODEL_INDICATORS).then((d) => d.satisfactionIndexModels); return full; };
  const manage = manageCards(ctx, models, withIndicators, refresh);
  if (!surveys.length) {
    view.append(h('p.empty', { 'data-testid': 'satisfaction-none' }, t(ctx.can('ADMIN') ? 'satisfaction.none.admin' : 'satisfaction.none')), ...manage);
    return;
  }
  const [code = '', store = ''] = ctx.params;
  const survey = code ? surveys.find((s) => s.code === code) : defaultSurvey(surveys);
  const archive = ctx.can('ADMIN') ? (s) => (s.status === 'ACTIVE' ? archiveControl(ctx, s, refresh) : '') : null;
  const list = card(t('satisfaction.surveys'), surveyTable(surveys, survey && survey.code, archive));
  if (!survey) {
    view.append(h('p.empty', { 'data-testid': 'satisfaction-unknown' }, t('satisfaction.unknown', { code })), list, ...manage);
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
  const questions = data.questionnaire ? data.questionnaire.questions : [];
  view.append(list, ...surveyCards(ctx, { ...survey, questions }, refresh), ...manage);
  for (const draw of after) draw();
}

// An agent's work on the survey shown: record an answer, invite customers.
function surveyCards(ctx, survey, refresh) {
  if (!ctx.can('AGENT')) return [];
  return [
    card(t('satisfaction.record', { code: survey.code }), recordForm(ctx, survey, refresh)),
    card(t('satisfaction.invite', { code: survey.code }), survey.status === 'ACTIVE' ? inviteForm(ctx, survey, refresh)
      : h('p.empty', { 'data-testid': 'invite-archived' }, t('satisfaction.invite.archived', { code: survey.code }))),
  ];
}

// An admin's: a new survey, the index models (everyone sees them) and a new model; where the wave is.
function manageCards(ctx, models, withIndicators, refresh) {
  const admin = ctx.can('ADMIN');
  return [
    admin ? card(t('satisfaction.create'), createSurveyForm(ctx, models, withIndicators, refresh)) : null,
    card(t('satisfaction.models'), h('p.hint', {}, t('satisfaction.models.hint')), modelsTable(models, withIndicators),
      admin ? h('div', { 'data-write': true }, h('h3', {}, t('satisfaction.model.create')), createModelForm(ctx, refresh)) : null),
    ctx.can('ANALYST') ? h('p.hint', { 'data-testid': 'satisfaction-wave' }, h('a', { href: '#/jobs' }, t('satisfaction.waveJob'))) : null,
  ].filter(Boolean);
}
