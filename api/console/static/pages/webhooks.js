// Webhooks (admins: the API keeps every webhooks field to them, since an
// endpoint's URL and deliveries say where the tenant's data goes): the
// endpoints with their events, state and deliveries by status; add one (its
// signing secret shown once, with how to verify a signature); enable,
// disable, rotate the secret (shown once), delete after typing its host; an
// endpoint's deliveries newest first, paged, and replaying the dead ones.
import { register, t } from '../i18n.js';
import { h, card, clear, table, field, showErrors } from '../ui.js';
import { dateTime, number } from '../format.js';

register({
  zh: {
    'webhooks.title': 'Webhook 推送', 'webhooks.endpoints': '接收地址',
    'webhooks.hint': '发生的事（新客户、消费、会员升级、投诉进展、营销消息等）会以签名的 JSON 通过 POST 发送到这里登记的地址。投递失败会自动重试，多次失败后成为“失败”，修好接收方后可重新投递。',
    'webhooks.url': '地址', 'webhooks.description': '用途', 'webhooks.events': '事件', 'webhooks.allEvents': '全部事件',
    'webhooks.state': '状态', 'webhooks.enabled': '启用', 'webhooks.disabled': '已停用', 'webhooks.deliveries': '投递',
    'webhooks.created': '创建时间', 'webhooks.actions': '操作', 'webhooks.none': '还没有接收地址。',
    'webhooks.overlap': '旧密钥签名至 {when}',
    'webhooks.count.pending': '待发 {n}', 'webhooks.count.delivering': '发送中 {n}', 'webhooks.count.delivered': '已送达 {n}', 'webhooks.count.dead': '失败 {n}',
    'webhooks.show': '查看投递', 'webhooks.enable': '启用', 'webhooks.disable': '停用', 'webhooks.rotate': '更换密钥', 'webhooks.delete': '删除',
    'webhooks.enabledDone': '已启用 {url}。', 'webhooks.disabledDone': '已停用 {url}：新事件不再发给它，待发的投递等它重新启用后再发。',
    'webhooks.add': '添加接收地址', 'webhooks.urlPlaceholder': 'HTTPS: sms.example.com/guanxi',
    'webhooks.eventsPlaceholder': '例如：customer.created, campaign.*', 'webhooks.eventsHint': '多个用逗号分隔；“customer.*”表示一类；留空接收全部事件。',
    'webhooks.descriptionPlaceholder': '例如：短信网关', 'webhooks.startEnabled': '立即开始接收', 'webhooks.create': '添加',
    'webhooks.createdDone': '已添加 {url}。',
    'webhooks.secretOnce': '签名密钥只显示这一次，离开本页后无法再查看。请立即复制并安装到接收方：',
    'webhooks.secretOf': '{url} 的签名密钥', 'webhooks.copy': '复制', 'webhooks.copied': '已复制',
    'webhooks.verify': '接收方如何验证签名（Standard Webhooks）', 'webhooks.verify.1': '每个请求带有 webhook-id、webhook-timestamp 和 webhook-signature 三个请求头。',
    'webhooks.verify.2': '密钥是 whsec_ 之后的部分，先做 base64 解码得到 HMAC 的 key。',
    'webhooks.verify.3': '对“{webhook-id}.{webhook-timestamp}.{原始请求体字节}”计算 HMAC-SHA256 并 base64 编码；请求头里是“v1,<该值>”（更换密钥期间有两个，用空格分隔），任一相符即可，用常数时间比较。',
    'webhooks.verify.4': '拒绝与本机时间相差超过 5 分钟的时间戳；同一事件可能到达不止一次，按 webhook-id 去重。',
    'webhooks.verify.example': 'Python 示例（只用标准库）',
    'webhooks.rotateTitle': '更换 {url} 的签名密钥', 'webhooks.overlapHours': '旧密钥继续签名的小时数',
    'webhooks.overlapHint': '留空为模块设置（默认 24 小时）；密钥泄露时填 0 立即停用旧密钥。', 'webhooks.rotateGo': '更换密钥',
    'webhooks.rotatedDone': '已更换 {url} 的密钥。', 'webhooks.rotatedOverlap': '旧密钥继续签名至 {when}：请在此之前把新密钥安装到接收方。',
    'webhooks.deleteTitle': '删除 {url}', 'webhooks.deleteHint': '删除接收地址及其全部投递记录，不可撤销。请输入“{word}”确认：',
    'webhooks.confirm': '确认', 'webhooks.deleteGo': '永久删除', 'webhooks.deletedDone': '已删除 {url}。', 'webhooks.cancel': '取消',
    'webhooks.deliveriesOf': '{url} 的投递（最新在前）', 'webhooks.notFound': '没有这个接收地址（可能已被删除）。',
    'webhooks.filter.all': '全部', 'webhooks.filter.pending': '待发', 'webhooks.filter.delivering': '发送中', 'webhooks.filter.delivered': '已送达', 'webhooks.filter.dead': '失败',
    'webhooks.status.PENDING': '待发', 'webhooks.status.DELIVERING': '发送中', 'webhooks.status.DELIVERED': '已送达', 'webhooks.status.DEAD': '失败',
    'webhooks.when': '事件时间', 'webhooks.event': '事件', 'webhooks.status': '状态', 'webhooks.attempts': '尝试次数', 'webhooks.lastCode': '最近响应',
    'webhooks.lastError': '最近错误', 'webhooks.lastAttempt': '最近尝试', 'webhooks.nextAttempt': '下次尝试', 'webhooks.noAnswer': '无响应',
    'webhooks.noDeliveries': '没有投递记录。', 'webhooks.replay': '重新投递', 'webhooks.replayAll': '重新投递全部 {n} 条失败投递',
    'webhooks.replayedDone': '已重新排队 {n} 条投递。', 'webhooks.newer': '较新', 'webhooks.older': '较早',
    'webhooks.pageOf': '第 {page} 页 · 共 {total} 条', 'webhooks.tz': '时间按租户时区（{tz}）显示。',
  },
  en: {
    'webhooks.title': 'Webhooks', 'webhooks.endpoints': 'Endpoints',
    'webhooks.hint': 'What happens (a new customer, a purchase, a tier change, a complaint\'s progress, a campaign message...) is POSTed as signed JSON to the addresses registered here. Failed deliveries are retried; after the last attempt they are dead, and can be replayed once the receiver works.',
    'webhooks.url': 'URL', 'webhooks.description': 'Description', 'webhooks.events': 'Events', 'webhooks.allEvents': 'every event',
    'webhooks.state': 'State', 'webhooks.enabled': 'Enabled', 'webhooks.disabled': 'Disabled', 'webhooks.deliveries': 'Deliveries',
    'webhooks.created': 'Created', 'webhooks.actions': 'Actions', 'webhooks.none': 'No endpoints yet.',
    'webhooks.overlap': 'old secret signs until {when}',
    'webhooks.count.pending': '{n} pending', 'webhooks.count.delivering': '{n} delivering', 'webhooks.count.delivered': '{n} delivered', 'webhooks.count.dead': '{n} dead',
    'webhooks.show': 'Deliveries', 'webhooks.enable': 'Enable', 'webhooks.disable': 'Disable', 'webhooks.rotate': 'Rotate secret', 'webhooks.delete': 'Delete',
    'webhooks.enabledDone': '{url} is enabled.', 'webhooks.disabledDone': '{url} is disabled: new events skip it; its pending deliveries wait until it is enabled again.',
    'webhooks.add': 'Add an endpoint', 'webhooks.urlPlaceholder': 'HTTPS: sms.example.com/guanxi',
    'webhooks.eventsPlaceholder': 'e.g. customer.created, campaign.*', 'webhooks.eventsHint': 'Comma-separated; "customer.*" for a family; empty: every event.',
    'webhooks.descriptionPlaceholder': 'e.g. SMS gateway', 'webhooks.startEnabled': 'Start receiving at once', 'webhooks.create': 'Add',
    'webhooks.createdDone': '{url} is added.',
    'webhooks.secretOnce': 'The signing secret is shown this once only: it cannot be seen again after you leave this page. Copy it and install it at the receiver now:',
    'webhooks.secretOf': 'The signing secret of {url}', 'webhooks.copy': 'Copy', 'webhooks.copied': 'Copied',
    'webhooks.verify': 'How the receiver verifies a signature (Standard Webhooks)', 'webhooks.verify.1': 'Each request carries the headers webhook-id, webhook-timestamp and webhook-signature.',
    'webhooks.verify.2': 'The HMAC key is the part after whsec_, base64-decoded.',
    'webhooks.verify.3': 'Compute HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{raw body bytes}" and base64 it; the header holds "v1,<that>" (two, space-separated, during a rotation): accept if any matches, compared in constant time.',
    'webhooks.verify.4': 'Refuse timestamps more than 5 minutes from your clock; an event may arrive more than once: deduplicate on webhook-id.',
    'webhooks.verify.example': 'Python example (standard library only)',
    'webhooks.rotateTitle': 'Rotate the signing secret of {url}', 'webhooks.overlapHours': 'Hours the old secret also signs',
    'webhooks.overlapHint': 'Empty: the module setting (24 hours by default); 0 stops the old secret at once (a leaked secret).', 'webhooks.rotateGo': 'Rotate',
    'webhooks.rotatedDone': 'The secret of {url} is rotated.', 'webhooks.rotatedOverlap': 'The old secret also signs until {when}: install the new one at the receiver before then.',
    'webhooks.deleteTitle': 'Delete {url}', 'webhooks.deleteHint': 'Deletes the endpoint and all its deliveries; this cannot be undone. Type "{word}" to confirm:',
    'webhooks.confirm': 'Confirm', 'webhooks.deleteGo': 'Delete for good', 'webhooks.deletedDone': '{url} is deleted.', 'webhooks.cancel': 'Cancel',
    'webhooks.deliveriesOf': 'Deliveries to {url} (newest first)', 'webhooks.notFound': 'No such endpoint (it may have been deleted).',
    'webhooks.filter.all': 'All', 'webhooks.filter.pending': 'Pending', 'webhooks.filter.delivering': 'Delivering', 'webhooks.filter.delivered': 'Delivered', 'webhooks.filter.dead': 'Dead',
    'webhooks.status.PENDING': 'Pending', 'webhooks.status.DELIVERING': 'Delivering', 'webhooks.status.DELIVERED': 'Delivered', 'webhooks.status.DEAD': 'Dead',
    'webhooks.when': 'Event at', 'webhooks.event': 'Event', 'webhooks.status': 'Status', 'webhooks.attempts': 'Attempts', 'webhooks.lastCode': 'Last answer',
    'webhooks.lastError': 'Last error', 'webhooks.lastAttempt': 'Last attempt', 'webhooks.nextAttempt': 'Next attempt', 'webhooks.noAnswer': 'none',
    'webhooks.noDeliveries': 'No deliveries.', 'webhooks.replay': 'Replay', 'webhooks.replayAll': 'Replay all {n} dead deliveries',
    'webhooks.replayedDone': '{n} deliveries queued again.', 'webhooks.newer': 'Newer', 'webhooks.older': 'Older',
    'webhooks.pageOf': 'page {page} · {total} in all', 'webhooks.tz': 'Times in the tenant\'s time zone ({tz}).',
  },
});

const PAGE_SIZE = 20;
const STATUSES = ['pending', 'delivering', 'delivered', 'dead'];  // route words; the API's enum is their upper case
const ERRORS = 'errors { field message code }';
const ENDPOINT = `id url description eventTypes enabled previousSecretExpiresAt createdAt updatedAt
  deliveryCounts { pending delivering delivered dead }`;
const DELIVERIES = `totalCount pageInfo { hasNextPage endCursor }
  edges { node { id eventId eventType status attempts nextAttemptAt lastStatusCode lastError lastAttemptAt deliveredAt createdAt } }`;
// The page's one request: the endpoints, and the chosen endpoint's deliveries when one is chosen.
const LOAD = `query Webhooks($endpoint: ID, $chosen: Boolean!, $status: WebhookDeliveryStatus, $first: Int!, $after: String) {
  webhookEndpoints { ${ENDPOINT} }
  webhookDeliveries(endpointId: $endpoint, status: $status, first: $first, after: $after) @include(if: $chosen) { ${DELIVERIES} } }`;
const PAGE = `query WebhookDeliveriesPage($endpoint: ID!, $status: WebhookDeliveryStatus, $first: Int!, $after: String) {
  webhookDeliveries(endpointId: $endpoint, status: $status, first: $first, after: $after) { ${DELIVERIES} } }`;
const CREATE = `mutation CreateWebhookEndpoint($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url } ${ERRORS} } }`;
const ENABLE = `mutation EnableWebhookEndpoint($id: ID!) { updateWebhookEndpoint(input: {id: $id, enabled: true}) { endpoint { id enabled } ${ERRORS} } }`;
const DISABLE = `mutation DisableWebhookEndpoint($id: ID!) { disableWebhookEndpoint(input: {id: $id}) { endpoint { id enabled } ${ERRORS} } }`;
const ROTATE = `mutation RotateWebhookSecret($input: RotateWebhookSecretInput!) {
  rotateWebhookSecret(input: $input) { secret endpoint { id previousSecretExpiresAt } ${ERRORS} } }`;
const DELETE = `mutation DeleteWebhookEndpoint($id: ID!) { deleteWebhookEndpoint(input: {id: $id}) { deletedId ${ERRORS} } }`;
const REPLAY = `mutation ReplayWebhookDeliveries($input: ReplayWebhookDeliveriesInput!) { replayWebhookDeliveries(input: $input) { replayed ${ERRORS} } }`;

// The docs' receiver check (docs/webhooks.md, tested against the signer there); code, not prose.
const PYTHON_VERIFY = `import base64, hashlib, hmac, time

def verify(secret: str, headers, body: bytes, tolerance: int = 300) -> str:
    event_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        raise ValueError("timestamp too old or too new")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{event_id}.{stamp}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if not any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split(" ")):
        raise ValueError("bad signature")
    return event_id  # process it unless this id was processed already`;

const STATUS_CLASS = { DELIVERED: 'good', DEAD: 'bad', PENDING: 'warn', DELIVERING: 'warn' };

// What a person types to confirm a delete: the URL's host (short, and says which receiver).
function hostOf(url) {
  try { return new URL(url).host || url; } catch { return url; }
}

function parseTypes(text) {
  return text.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
}

// The signing secret, shown this once, and how a receiver checks a request with it.
function secretNotice(secret, extra) {
  const copy = h('button.secondary', { type: 'button', onclick: async () => {
    try { await navigator.clipboard.writeText(secret); copy.textContent = t('webhooks.copied'); } catch { /* no clipboard over plain http: select it by hand */ }
  } }, t('webhooks.copy'));
  return h('div.wh-secret', { 'data-testid': 'webhooks-secret-box' },
    h('div.warning', { role: 'alert' }, t('webhooks.secretOnce')),
    h('code.secret', { 'data-testid': 'webhooks-secret' }, secret),
    navigator.clipboard ? copy : null,
    extra ? h('p', { 'data-testid': 'webhooks-overlap' }, extra) : null,
    h('h3', {}, t('webhooks.verify')),
    h('ol.wh-verify', {}, [1, 2, 3, 4].map((n) => h('li', {}, t(`webhooks.verify.${n}`)))),
    h('details', {}, h('summary', {}, t('webhooks.verify.example')), h('pre.wh-code', {}, PYTHON_VERIFY)));
}

function counts(endpoint) {
  const c = endpoint.deliveryCounts;
  return h('span.wh-counts', {}, STATUSES.map((s) => h(`span.badge${c[s] && s === 'dead' ? '.bad' : ''}`,
    { 'data-count': s }, t(`webhooks.count.${s}`, { n: number(c[s]) }))));
}

function stateOf(endpoint) {
  return h('span', {},
    endpoint.enabled ? h('span.badge.good', { 'data-testid': 'webhooks-state' }, t('webhooks.enabled'))
      : h('span.badge', { 'data-testid': 'webhooks-state' }, t('webhooks.disabled')),
    endpoint.previousSecretExpiresAt && new Date(endpoint.previousSecretExpiresAt) > new Date()
      ? h('div.hint', {}, t('webhooks.overlap', { when: dateTime(endpoint.previousSecretExpiresAt) })) : null);
}

function deliveryColumns(replayOne) {
  const columns = [
    { label: t('webhooks.when'), value: (d) => dateTime(d.createdAt) },
    { label: t('webhooks.event'), value: (d) => h('code', { title: d.eventId }, d.eventType) },
    { label: t('webhooks.status'), value: (d) => h(`span.badge.${STATUS_CLASS[d.status]}`, { 'data-testid': 'delivery-status' }, t(`webhooks.status.${d.status}`)) },
    { label: t('webhooks.attempts'), value: (d) => number(d.attempts), className: 'num' },
    { label: t('webhooks.lastCode'), value: (d) => (d.lastStatusCode ?? (d.attempts ? t('webhooks.noAnswer') : '—')) },
    { label: t('webhooks.lastError'), value: (d) => (d.lastError ? h('span.bad-text.wh-error', {}, d.lastError) : '—') },
    { label: t('webhooks.lastAttempt'), value: (d) => dateTime(d.lastAttemptAt) },
    { label: t('webhooks.nextAttempt'), value: (d) => dateTime(d.nextAttemptAt) },
  ];
  if (replayOne) columns.push({ label: '', value: (d) => (d.status === 'DEAD' ? replayOne(d) : '') });
  return columns;
}

export default {
  route: 'webhooks', title: 'webhooks.title', module: 'webhooks', minRole: 'ADMIN',
  async render(view, ctx) {
    const admin = ctx.can('ADMIN');  // every webhooks field is the API's admins'; the page is theirs too
    const chosenId = ctx.params[0] || null;
    const status = STATUSES.includes(ctx.params[1]) ? ctx.params[1] : null;
    const notice = h('p.notice', { role: 'status', 'data-testid': 'webhooks-notice' });
    const problems = h('div.form-error', { role: 'alert', 'data-testid': 'webhooks-error' });
    const endpointsBox = h('div.wh-scroll');
    const panel = h('div', { 'data-testid': 'webhooks-panel' });  // the rotate or delete form, or a secret shown once
    const deliveriesBox = h('div');
    let endpoints = [];
    let cursors = [null];  // the `after` of each page seen so far: the last is the page shown

    const variables = (after) => ({ endpoint: chosenId, chosen: Boolean(chosenId), status: status ? status.toUpperCase() : null,
                                    first: PAGE_SIZE, after });

    function say(text) { problems.textContent = ''; notice.textContent = text; }
    function fail(error) { notice.textContent = ''; problems.textContent = String(error.message || error); }

    // After a write: the endpoints and the first page of deliveries again, in one request.
    async function reload() {
      const data = await ctx.gql(LOAD, variables(null));
      cursors = [null];
      draw(data);
    }

    // A write without a form of its own: its errors go to the page's error line.
    async function act(query, vars, done) {
      problems.textContent = '';
      notice.textContent = '';
      try {
        const payload = Object.values(await ctx.gql(query, vars))[0];
        if (payload.errors.length) { problems.textContent = payload.errors.map((e) => e.message).join('; '); return; }
        clear(panel);
        say(done(payload));
        await reload();
      } catch (error) { fail(error); }
    }

    function rotateForm(endpoint) {
      const hours = h('input', { name: 'overlapHours', type: 'number', min: 0, step: 'any', 'data-testid': 'webhooks-overlap-hours' });
      const form = h('form.form', {
        'data-testid': 'webhooks-rotate', 'data-write': true,
        onsubmit: async (event) => {
          event.preventDefault();
          const input = { id: endpoint.id, overlapHours: hours.value.trim() === '' ? null : Number(hours.value) };
          try {
            const { rotateWebhookSecret: payload } = await ctx.gql(ROTATE, { input });
            if (showErrors(form, payload.errors)) return;
            const until = payload.endpoint.previousSecretExpiresAt;
            say(t('webhooks.rotatedDone', { url: endpoint.url }));
            clear(panel, card(t('webhooks.rotateTitle', { url: endpoint.url }),
              secretNotice(payload.secret, until ? t('webhooks.rotatedOverlap', { when: dateTime(until) }) : null)));
            await reload();
          } catch (error) { showErrors(form, [{ field: null, message: error.message }]); }
        },
      },
      h('div.form-error', { role: 'alert' }),
      field(t('webhooks.overlapHours'), hours, 'overlapHours'),
      h('p.hint', {}, t('webhooks.overlapHint')),
      h('div.toolbar', {}, h('button', { type: 'submit', 'data-testid': 'webhooks-rotate-go' }, t('webhooks.rotateGo')),
        h('button.secondary', { type: 'button', onclick: () => clear(panel) }, t('webhooks.cancel'))));
      return card(t('webhooks.rotateTitle', { url: endpoint.url }), form);
    }

    function deleteForm(endpoint) {
      const word = hostOf(endpoint.url);
      const typed = h('input', { name: 'confirm', autocomplete: 'off', 'data-testid': 'webhooks-delete-confirm' });
      const go = h('button.danger', { type: 'submit', disabled: true, 'data-testid': 'webhooks-delete-go' }, t('webhooks.deleteGo'));
      typed.addEventListener('input', () => { go.disabled = typed.value.trim() !== word; });
      const form = h('form.form', {
        'data-testid': 'webhooks-delete', 'data-write': true,
        onsubmit: async (event) => {
          event.preventDefault();
          if (typed.value.trim() !== word) return;
          go.disabled = true;
          try {
            const { deleteWebhookEndpoint: payload } = await ctx.gql(DELETE, { id: endpoint.id });
            if (showErrors(form, payload.errors)) { go.disabled = false; return; }
            clear(panel);
            say(t('webhooks.deletedDone', { url: endpoint.url }));
            if (chosenId === endpoint.id) ctx.navigate('#/webhooks');  // its deliveries are gone with it
            else await reload();
          } catch (error) { showErrors(form, [{ field: null, message: error.message }]); go.disabled = false; }
        },
      },
      h('div.form-error', { role: 'alert' }),
      h('p', {}, t('webhooks.deleteHint', { word })),
      field(t('webhooks.confirm'), typed, 'id'),
      h('div.toolbar', {}, go, h('button.secondary', { type: 'button', onclick: () => clear(panel) }, t('webhooks.cancel'))));
      return h('section.card.danger-zone', {}, h('h2', {}, t('webhooks.deleteTitle', { url: endpoint.url })), form);
    }

    function actions(endpoint) {
      const open = (make) => { clear(panel, make(endpoint)); panel.scrollIntoView({ block: 'nearest' }); };
      return h('div.wh-actions', { 'data-write': true },
        endpoint.enabled
          ? h('button.secondary', { type: 'button', 'data-testid': 'webhooks-disable', onclick: () =>
            act(DISABLE, { id: endpoint.id }, () => t('webhooks.disabledDone', { url: endpoint.url })) }, t('webhooks.disable'))
          : h('button.secondary', { type: 'button', 'data-testid': 'webhooks-enable', onclick: () =>
            act(ENABLE, { id: endpoint.id }, () => t('webhooks.enabledDone', { url: endpoint.url })) }, t('webhooks.enable')),
        h('button.secondary', { type: 'button', 'data-testid': 'webhooks-rotate-open', onclick: () => open(rotateForm) }, t('webhooks.rotate')),
        h('button.danger', { type: 'button', 'data-testid': 'webhooks-delete-open', onclick: () => open(deleteForm) }, t('webhooks.delete')));
    }

    function endpointsTable() {
      const columns = [
        { label: t('webhooks.url'), value: (e) => h('div', {}, h('code.wh-url', {}, e.url), e.description ? h('div.hint', {}, e.description) : null) },
        { label: t('webhooks.events'), value: (e) => (e.eventTypes.length ? h('span.wh-types', {}, e.eventTypes.map((x) => h('code', {}, x)))
          : h('span.hint', {}, t('webhooks.allEvents'))) },
        { label: t('webhooks.state'), value: stateOf },
        { label: t('webhooks.deliveries'), value: (e) => h('div', {}, counts(e),
          h('div', {}, h('a', { href: `#/webhooks/${encodeURIComponent(e.id)}`, 'data-testid': 'webhooks-show' }, t('webhooks.show')))) },
        { label: t('webhooks.created'), value: (e) => dateTime(e.createdAt) },
      ];
      if (admin) columns.push({ label: t('webhooks.actions'), value: actions });
      const node = table(columns, endpoints, { testid: 'webhooks-endpoints', empty: t('webhooks.none') });
      for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) {
        tr.dataset.endpoint = endpoints[index].id;
        tr.classList.toggle('wh-chosen', endpoints[index].id === chosenId);
      }
      return node;
    }

    function filters(endpoint) {
      const base = `#/webhooks/${encodeURIComponent(endpoint.id)}`;
      const c = endpoint.deliveryCounts;
      const total = STATUSES.reduce((sum, s) => sum + c[s], 0);
      const item = (word, n) => h(`a.button${(word || null) === status ? '.active' : ''}`,
        { href: word ? `${base}/${word}` : base, 'data-testid': `webhooks-filter-${word || 'all'}`, 'aria-current': (word || null) === status ? 'true' : null },
        `${t(`webhooks.filter.${word || 'all'}`)} ${number(n)}`);
      return h('div.toolbar.wh-filters', {}, item(null, total), STATUSES.map((s) => item(s, c[s])));
    }

    function replayOne(endpoint) {
      return (delivery) => h('button.secondary', { type: 'button', 'data-testid': 'webhooks-replay-one', 'data-write': true, onclick: () =>
        act(REPLAY, { input: { endpointId: endpoint.id, deliveryId: delivery.id } }, (p) => t('webhooks.replayedDone', { n: number(p.replayed) })) },
      t('webhooks.replay'));
    }

    function deliveriesTable(endpoint, connection) {
      const rows = connection.edges.map((e) => e.node);
      const node = table(deliveryColumns(admin ? replayOne(endpoint) : null), rows, { testid: 'webhooks-deliveries', empty: t('webhooks.noDeliveries') });
      for (const [index, tr] of [...node.querySelectorAll('tbody tr')].entries()) {
        tr.dataset.delivery = rows[index].id;
        tr.dataset.status = rows[index].status;
      }
      return node;
    }

    async function turn(after, push) {
      try {
        const { webhookDeliveries } = await ctx.gql(PAGE, { ...variables(after), endpoint: chosenId });
        if (push) cursors.push(after); else cursors.pop();
        drawDeliveries(endpoints.find((e) => e.id === chosenId), webhookDeliveries);
      } catch (error) { fail(error); }
    }

    function pager(connection) {
      const page = cursors.length;
      return h('div.toolbar.wh-pager', {},
        h('button.secondary', { type: 'button', 'data-testid': 'webhooks-newer', disabled: page === 1, onclick: () => turn(cursors[cursors.length - 2], false) }, t('webhooks.newer')),
        h('span.hint', { 'data-testid': 'webhooks-page' }, t('webhooks.pageOf', { page: number(page), total: number(connection.totalCount) })),
        h('button.secondary', { type: 'button', 'data-testid': 'webhooks-older', disabled: !connection.pageInfo.hasNextPage, onclick: () => turn(connection.pageInfo.endCursor, true) }, t('webhooks.older')));
    }

    function drawDeliveries(endpoint, connection) {
      const dead = endpoint.deliveryCounts.dead;
      const replayAll = admin && dead ? h('button', { type: 'button', 'data-testid': 'webhooks-replay-all', 'data-write': true, onclick: () =>
        act(REPLAY, { input: { endpointId: endpoint.id } }, (p) => t('webhooks.replayedDone', { n: number(p.replayed) })) },
      t('webhooks.replayAll', { n: number(dead) })) : null;
      clear(deliveriesBox, card(t('webhooks.deliveriesOf', { url: endpoint.url }),
        filters(endpoint), replayAll ? h('div.toolbar', {}, replayAll) : null,
        h('div.wh-scroll', {}, deliveriesTable(endpoint, connection)), pager(connection)));
    }

    function draw(data) {
      endpoints = data.webhookEndpoints;
      clear(endpointsBox, endpointsTable());
      if (!chosenId) return;
      const endpoint = endpoints.find((e) => e.id === chosenId);
      if (!endpoint) clear(deliveriesBox, h('p.empty', { 'data-testid': 'webhooks-not-found' }, t('webhooks.notFound')));
      else drawDeliveries(endpoint, data.webhookDeliveries);
    }

    function createForm() {
      const url = h('input', { name: 'url', type: 'url', required: true, maxlength: 2000, placeholder: t('webhooks.urlPlaceholder'), 'data-testid': 'webhooks-url' });
      const types = h('input', { name: 'eventTypes', placeholder: t('webhooks.eventsPlaceholder'), 'data-testid': 'webhooks-events' });
      const description = h('input', { name: 'description', maxlength: 500, placeholder: t('webhooks.descriptionPlaceholder'), 'data-testid': 'webhooks-description' });
      const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: true, 'data-testid': 'webhooks-enabled' });
      const form = h('form.form', {
        'data-testid': 'webhooks-create', 'data-write': true, novalidate: true,  // the API checks the URL and says why
        onsubmit: async (event) => {
          event.preventDefault();
          const input = { url: url.value.trim(), eventTypes: parseTypes(types.value), description: description.value.trim() || null, enabled: enabled.checked };
          try {
            const { createWebhookEndpoint: payload } = await ctx.gql(CREATE, { input });
            if (showErrors(form, payload.errors)) return;
            say(t('webhooks.createdDone', { url: payload.endpoint.url }));
            clear(panel, card(t('webhooks.secretOf', { url: payload.endpoint.url }), secretNotice(payload.secret)));
            for (const box of [url, types, description]) box.value = '';
            await reload();
          } catch (error) { showErrors(form, [{ field: null, message: error.message }]); }
        },
      },
      h('div.form-error', { role: 'alert' }),
      h('div.row', {},
        field(t('webhooks.url'), url, 'url'),
        field(t('webhooks.events'), types, 'eventTypes'),
        field(t('webhooks.description'), description, 'description')),
      h('p.hint', {}, t('webhooks.eventsHint')),
      h('label.inline', {}, enabled, ' ', t('webhooks.startEnabled')),
      h('div', {}, h('button', { type: 'submit', 'data-testid': 'webhooks-create-go' }, t('webhooks.create'))));
      return card(t('webhooks.add'), form);
    }

    draw(await ctx.gql(LOAD, variables(null)));
    view.append(
      h('p.hint', {}, t('webhooks.hint')),
      h('p.hint', {}, t('webhooks.tz', { tz: ctx.me.tenant.timezone })),
      notice, problems,
      card(t('webhooks.endpoints'), endpointsBox),
      panel,
      deliveriesBox,
      admin ? createForm() : null);
  },
};
