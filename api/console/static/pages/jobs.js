// Jobs: the periodic jobs of the tenant's modules (interval, pause, next
// run, last run), their recorded runs in the tenant's time zone, and for an
// admin the schedule and "run now"; a run in progress is followed until it ends.
import { register, t } from '../i18n.js';
import { h, card, clear, table } from '../ui.js';
import { dateTime, number } from '../format.js';

register({
  zh: {
    'jobs.title': '定时任务', 'jobs.jobs': '任务', 'jobs.runs': '运行记录', 'jobs.job': '任务', 'jobs.module': '模块',
    'jobs.every': '间隔', 'jobs.everyMin': '每 {n} 分钟', 'jobs.everyHour': '每 {n} 小时', 'jobs.everyDay': '每 {n} 天', 'jobs.default': '默认{every}', 'jobs.override': '本租户自定义',
    'jobs.next': '下次运行', 'jobs.last': '上次运行', 'jobs.never': '从未运行', 'jobs.paused': '已暂停', 'jobs.running': '运行中',
    'jobs.actions': '操作', 'jobs.runNow': '立即运行', 'jobs.queued': '已排队：{job}', 'jobs.save': '保存',
    'jobs.minutes': '间隔（分钟，留空为默认）', 'jobs.pause': '暂停', 'jobs.reset': '恢复默认', 'jobs.saved': '已保存 {job} 的计划。',
    'jobs.trigger': '触发方式', 'jobs.status': '状态', 'jobs.by': '发起人', 'jobs.started': '开始', 'jobs.finished': '结束',
    'jobs.duration': '耗时', 'jobs.outcome': '结果', 'jobs.seconds': '{n} 秒',
    'jobs.none': '已启用的模块没有定时任务。', 'jobs.noRuns': '还没有运行记录。',
    'jobs.tz': '时间按租户时区（{tz}）显示。', 'jobs.score': '立即评分', 'jobs.scoreHint': '对所有已启用的评分模块（RFM、CLV 等）重新评分。',
    'jobs.status.QUEUED': '排队中', 'jobs.status.RUNNING': '运行中', 'jobs.status.SUCCEEDED': '成功', 'jobs.status.FAILED': '失败',
    'jobs.trigger.SCHEDULE': '定时', 'jobs.trigger.MANUAL': '命令行', 'jobs.trigger.API': '手动（控制台/API）',
    'jobs.about.rfm.rescore': 'RFM 定期重新评分', 'jobs.about.clv.rescore': 'CLV 定期重新评分',
    'jobs.about.loyalty.expire_points': '到期积分清理', 'jobs.about.loyalty.evaluate_tiers': '会员等级评定',
    'jobs.about.complaints.sla_sweep': '投诉 SLA 超时检查', 'jobs.about.webhooks.prune': '清理旧的 Webhook 投递记录',
    'jobs.about.satisfaction.wave': '定期满意度调查批次', 'jobs.about.lifecycle.update_stages': '更新客户生命周期阶段',
    'jobs.about.campaigns.daily_triggers': '营销触发规则（生日、节日等）', 'jobs.about.birthdays.queue_greetings': '生日祝福排队',
    'jobs.about.scoring': '评分',
    'jobs.analystsOnly': '定时任务及其运行记录只对分析员及以上角色开放。', 'jobs.scored': '{module}：评分 {n} 人', 'jobs.params': '参数',
  },
  en: {
    'jobs.title': 'Jobs', 'jobs.jobs': 'Jobs', 'jobs.runs': 'Runs', 'jobs.job': 'Job', 'jobs.module': 'Module',
    'jobs.every': 'Interval', 'jobs.everyMin': 'every {n} min', 'jobs.everyHour': 'every {n} h', 'jobs.everyDay': 'every {n} day(s)', 'jobs.default': 'default: {every}', 'jobs.override': 'set for this tenant',
    'jobs.next': 'Next run', 'jobs.last': 'Last run', 'jobs.never': 'never', 'jobs.paused': 'Paused', 'jobs.running': 'Running',
    'jobs.actions': 'Actions', 'jobs.runNow': 'Run now', 'jobs.queued': 'Queued: {job}', 'jobs.save': 'Save',
    'jobs.minutes': 'Interval (minutes; empty: default)', 'jobs.pause': 'Paused', 'jobs.reset': 'Default', 'jobs.saved': 'Schedule of {job} saved.',
    'jobs.trigger': 'Trigger', 'jobs.status': 'Status', 'jobs.by': 'Requested by', 'jobs.started': 'Started', 'jobs.finished': 'Finished',
    'jobs.duration': 'Took', 'jobs.outcome': 'Outcome', 'jobs.seconds': '{n} s',
    'jobs.none': 'The enabled modules have no periodic jobs.', 'jobs.noRuns': 'No runs yet.',
    'jobs.tz': 'Times in the tenant\'s time zone ({tz}).', 'jobs.score': 'Score now', 'jobs.scoreHint': 'Re-scores every enabled scoring module (RFM, CLV, ...).',
    'jobs.status.QUEUED': 'Queued', 'jobs.status.RUNNING': 'Running', 'jobs.status.SUCCEEDED': 'Succeeded', 'jobs.status.FAILED': 'Failed',
    'jobs.trigger.SCHEDULE': 'Schedule', 'jobs.trigger.MANUAL': 'Command line', 'jobs.trigger.API': 'By hand (console/API)',
    'jobs.about.rfm.rescore': 'Periodic RFM re-scoring', 'jobs.about.clv.rescore': 'Periodic CLV re-scoring',
    'jobs.about.loyalty.expire_points': 'Expire points', 'jobs.about.loyalty.evaluate_tiers': 'Evaluate tiers',
    'jobs.about.complaints.sla_sweep': 'Complaint SLA sweep', 'jobs.about.webhooks.prune': 'Prune old webhook deliveries',
    'jobs.about.satisfaction.wave': 'Periodic survey wave', 'jobs.about.lifecycle.update_stages': 'Update lifecycle stages',
    'jobs.about.campaigns.daily_triggers': 'Campaign triggers (birthdays, holidays, ...)', 'jobs.about.birthdays.queue_greetings': 'Queue birthday greetings',
    'jobs.about.scoring': 'Scoring',
    'jobs.analystsOnly': 'Jobs and their runs are shown to analysts and above.', 'jobs.scored': '{module}: {n} scored', 'jobs.params': 'Parameters',
  },
});

const RUN = `id job trigger status requestedBy params createdAt startedAt finishedAt result error reports { module scored }`;
const JOB = `name module everyMinutes defaultEveryMinutes overrideEveryMinutes paused nextDueAt running lastRun { id status startedAt createdAt }`;
const LIST = `query AdminJobs { jobs { ${JOB} } jobRuns(first: 30) { edges { node { ${RUN} } } } }`;
const RUN_JOB = `mutation RunJob($job: String!) { runJob(input: {job: $job}) { job { id } errors { field message code } } }`;
const SCORE = `mutation RunScoring { runScoring(input: {}) { job { id } errors { field message code } } }`;
const SCHEDULE = `mutation SetJobSchedule($job: String!, $every: Int, $paused: Boolean!) {
  setJobSchedule(input: {job: $job, everyMinutes: $every, paused: $paused}) { job { ${JOB} } errors { field message code } } }`;
const POLL_MS = 1500;
const ACTIVE = new Set(['QUEUED', 'RUNNING']);

// What a job is, for people (built-in jobs); its name stays shown as the code.
function about(name) {
  const key = `jobs.about.${name}`;
  const text = t(key);
  return text === key ? null : text;
}

// An interval for people: 1440 -> every day, 90 -> every 90 min.
function every(minutes) {
  if (minutes % 1440 === 0) return t('jobs.everyDay', { n: number(minutes / 1440) });
  if (minutes % 60 === 0) return t('jobs.everyHour', { n: number(minutes / 60) });
  return t('jobs.everyMin', { n: number(minutes) });
}

const STATUS_CLASS = { SUCCEEDED: 'good', FAILED: 'bad', RUNNING: 'warn', QUEUED: 'warn' };
const badge = (status) => h(`span.badge.${STATUS_CLASS[status] || ''}`, { 'data-status': status }, t(`jobs.status.${status}`));

// One line for the table; the whole result (or error) and the run's parameters on demand (as `guanxi jobs show`).
function outcome(run) {
  let line = '';
  if (run.status === 'FAILED') line = run.error || '';
  else if (run.reports && run.reports.length) line = run.reports.map((r) => t('jobs.scored', { module: r.module, n: number(r.scored) })).join('；');
  else if (run.result !== null && run.result !== undefined) line = typeof run.result === 'string' ? run.result : JSON.stringify(run.result);
  const short = line.length > 120 ? `${line.slice(0, 119)}…` : line;
  const full = run.status === 'FAILED' ? run.error
    : (run.result !== null && typeof run.result === 'object' ? JSON.stringify(run.result, null, 2) : line);
  const params = run.params && Object.keys(run.params).length ? JSON.stringify(run.params) : null;
  const node = run.status === 'FAILED' ? h('span.bad-text', {}, short) : h('span', {}, short);
  if (full === short && !params) return node;
  return h('details.run-detail', {}, h('summary', {}, node),
    params ? h('div.hint', {}, `${t('jobs.params')}: ${params}`) : null,
    full ? h('pre', {}, full) : null);
}

function took(run) {
  if (!run.startedAt || !run.finishedAt) return '—';
  return t('jobs.seconds', { n: number((new Date(run.finishedAt) - new Date(run.startedAt)) / 1000, 1) });
}

const runColumns = () => [
  { label: t('jobs.job'), value: (r) => h('span', { title: r.job }, about(r.job) || h('code', {}, r.job)) },
  { label: t('jobs.trigger'), value: (r) => t(`jobs.trigger.${r.trigger}`) },
  { label: t('jobs.status'), value: (r) => badge(r.status) },
  { label: t('jobs.by'), value: (r) => r.requestedBy || '—' },
  { label: t('jobs.started'), value: (r) => dateTime(r.startedAt || r.createdAt) },
  { label: t('jobs.finished'), value: (r) => dateTime(r.finishedAt) },
  { label: t('jobs.duration'), value: took, className: 'num' },
  { label: t('jobs.outcome'), value: outcome },
];

export default {
  route: 'jobs', title: 'jobs.title', module: null,
  async render(view, ctx) {
    if (!ctx.can('ANALYST')) {  // the API shows jobs and their runs to analysts and up: nothing to ask for
      view.append(h('p.empty', { 'data-testid': 'jobs-analysts-only' }, t('jobs.analystsOnly')));
      return;
    }
    const admin = ctx.can('ADMIN');
    const titles = Object.fromEntries((ctx.me.modules || []).map((m) => [m.name, m.title]));
    const notice = h('p.notice', { role: 'status', 'data-testid': 'jobs-notice' });
    const problems = h('div.form-error', { role: 'alert', 'data-testid': 'jobs-error' });
    const jobsBox = h('div');
    const runsBox = h('div');
    let timer = null;

    function show(data) {
      clear(jobsBox, jobsTable(data.jobs));
      const runs = data.jobRuns.edges.map((e) => e.node);
      const rows = runs.length ? runColumns() : null;
      clear(runsBox, rows ? table(rows, runs, { testid: 'job-runs' }) : h('p.empty', { 'data-testid': 'job-runs' }, t('jobs.noRuns')));
      for (const [index, tr] of [...runsBox.querySelectorAll('tbody tr')].entries()) {
        tr.dataset.runId = runs[index].id;
        tr.dataset.status = runs[index].status;
        tr.dataset.job = runs[index].job;
      }
      clearTimeout(timer);
      if (runs.some((r) => ACTIVE.has(r.status)) || data.jobs.some((j) => j.running)) timer = setTimeout(refresh, POLL_MS);
    }

    async function refresh() {
      if (!view.isConnected) return;  // another page is shown now
      try {
        show(await ctx.gql(LIST));
      } catch (error) {
        problems.textContent = String(error.message || error);
      }
    }

    async function act(query, variables, done) {
      problems.textContent = '';
      notice.textContent = '';
      let payload;
      try {
        payload = Object.values(await ctx.gql(query, variables))[0];
      } catch (error) {
        problems.textContent = String(error.message || error);
        return;
      }
      if (payload.errors.length) {
        problems.textContent = payload.errors.map((e) => e.message).join('; ');
        return;
      }
      notice.textContent = done;
      await refresh();
    }

    function scheduleControls(job) {
      const every = h('input', { type: 'number', min: 1, step: 1, value: job.overrideEveryMinutes ?? '', placeholder: String(job.defaultEveryMinutes),
        'aria-label': t('jobs.minutes'), 'data-testid': `job-every-${job.name}`, class: 'narrow', 'data-write': true });
      const paused = h('input', { type: 'checkbox', checked: job.paused, 'data-testid': `job-paused-${job.name}`, 'data-write': true });
      const save = h('button.secondary', { type: 'button', 'data-testid': `job-save-${job.name}`, 'data-write': true, onclick: () => {
        const minutes = every.value.trim() === '' ? null : Number(every.value);
        act(SCHEDULE, { job: job.name, every: minutes, paused: paused.checked }, t('jobs.saved', { job: about(job.name) || job.name }));
      } }, t('jobs.save'));
      const reset = h('button.link', { type: 'button', 'data-testid': `job-default-${job.name}`, 'data-write': true, onclick: () =>
        act(SCHEDULE, { job: job.name, every: null, paused: false }, t('jobs.saved', { job: about(job.name) || job.name })) }, t('jobs.reset'));
      const run = h('button', { type: 'button', 'data-testid': `job-run-${job.name}`, disabled: job.running, 'data-write': true, onclick: () =>
        act(RUN_JOB, { job: job.name }, t('jobs.queued', { job: about(job.name) || job.name })) }, t('jobs.runNow'));
      return h('div.job-actions', {}, run, h('label.inline', {}, every), h('label.inline', {}, paused, ' ', t('jobs.pause')), save, reset);
    }

    function jobsTable(jobs) {
      if (!jobs.length) return h('p.empty', { 'data-testid': 'jobs' }, t('jobs.none'));
      const columns = [
        { label: t('jobs.job'), value: (j) => h('div', {}, about(j.name) ? h('div', {}, about(j.name)) : null, h('code.hint', {}, j.name)) },
        { label: t('jobs.module'), value: (j) => titles[j.module] || j.module },
        { label: t('jobs.every'), value: (j) => h('span', {}, every(j.everyMinutes),
          j.overrideEveryMinutes !== null ? h('span.hint', {}, ` (${t('jobs.override')}; ${t('jobs.default', { every: every(j.defaultEveryMinutes) })})`) : null) },
        { label: t('jobs.next'), value: (j) => (j.running ? h('span.badge.warn', {}, t('jobs.running'))
          : j.paused ? h('span.badge', { 'data-testid': `job-paused-badge-${j.name}` }, t('jobs.paused')) : dateTime(j.nextDueAt)) },
        { label: t('jobs.last'), value: (j) => (j.lastRun ? h('span', {}, badge(j.lastRun.status), ' ', dateTime(j.lastRun.startedAt || j.lastRun.createdAt)) : t('jobs.never')) },
      ];
      if (admin) columns.push({ label: t('jobs.actions'), value: scheduleControls });
      const node = table(columns, jobs, { testid: 'jobs' });
      for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) tr.dataset.job = jobs[index].name;
      return node;
    }

    const data = await ctx.gql(LIST);
    show(data);
    const tools = ctx.can('ANALYST') ? h('div.toolbar', {},
      h('button.secondary', { type: 'button', 'data-testid': 'jobs-score', 'data-write': true, onclick: () => act(SCORE, {}, t('jobs.queued', { job: about('scoring') })) }, t('jobs.score')),
      h('span.hint', {}, t('jobs.scoreHint'))) : null;
    view.append(
      h('p.hint', {}, t('jobs.tz', { tz: ctx.me.tenant.timezone })),
      notice, problems,
      card(t('jobs.jobs'), jobsBox),
      card(t('jobs.runs'), tools, runsBox));
  },
};
