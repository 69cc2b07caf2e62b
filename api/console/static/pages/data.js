// Data: downloads of the tenant's customers, an RFM segment or its
// interactions (CSV or Excel), and for an admin the import of a CSV/XLSX file
// of customers or interactions, with its outcome row by row.
import { register, t } from '../i18n.js';
import { h, card, clear, table, field, showErrors, stat } from '../ui.js';
import { number, dateTime } from '../format.js';
import { session } from '../gql.js';

const KINDS = ['PURCHASE', 'REFUND', 'VISIT', 'CONTACT', 'REVISIT', 'EVENT', 'REFERRAL', 'FEEDBACK', 'COMPLAINT', 'SURVEY'];

register({
  zh: {
    'data.title': '导入导出', 'data.export': '导出', 'data.import': '导入', 'data.what': '导出内容', 'data.format': '格式',
    'data.what.customers': '全部客户（{n} 人）', 'data.what.segment': 'RFM 分群的客户', 'data.what.interactions': '互动记录（{n} 条）',
    'data.segment': '分群', 'data.segmentOption': '{label}（{n} 人）', 'data.noSegments': '还没有 RFM 评分结果，无法按分群导出。',
    'data.store': '门店（留空为全部）', 'data.since': '开始日期', 'data.until': '结束日期', 'data.kinds': '类型（不选为全部）',
    'data.download': '下载', 'data.downloading': '正在准备文件…', 'data.downloaded': '已下载 {file}（{size}）。',
    'data.exportHint': '文件包含本租户的数据；CSV 为 UTF-8（带 BOM，Excel 可直接打开）。每次导出都会记入审计日志。',
    'data.file': '文件（CSV 或 Excel .xlsx）', 'data.kind': '导入内容', 'data.kind.customers': '客户', 'data.kind.interactions': '互动记录（消费、退款、到店等）',
    'data.mode': '已存在的客户编号', 'data.mode.upsert': '更新有变化的字段', 'data.mode.insert': '跳过（算作重复）',
    'data.run': '开始导入', 'data.running': '正在导入…', 'data.stored': '新增', 'data.updated': '更新', 'data.duplicates': '重复', 'data.rejected': '拒绝',
    'data.rows': '共 {n} 行（{file}，{encoding}）', 'data.already': '这个文件之前已经导入过，本次没有再存储任何数据。',
    'data.line': '行号', 'data.field': '列', 'data.reason': '原因', 'data.rejects': '下载被拒绝的行（修正后可直接重新导入）',
    'data.columns.customers': '第一行为列名：code、name、phone、email、birthday、gender、city、store、owner、tags 和 consent（用 | 分隔）、attributes（JSON）、referrer_code。',
    'data.columns.interactions': '第一行为列名：customer_code 或 customer_id、kind、occurred_at（不带时区即为租户本地时间）、amount、quantity、channel、store、staff、external_id、reverses_external_id、payload。',
    'data.importHint': '有问题的行单独拒绝并列出原因，其余行照常存储；同一文件重复导入不会重复存储。文件不超过 10 MB，更大的文件请用命令行 guanxi import。',
    'data.noFile': '请选择一个文件', 'data.readOnly': '只有管理员可以导入数据。',
    'data.k.PURCHASE': '消费', 'data.k.REFUND': '退款', 'data.k.VISIT': '到店', 'data.k.CONTACT': '联系', 'data.k.REVISIT': '回访',
    'data.k.EVENT': '活动', 'data.k.REFERRAL': '推荐', 'data.k.FEEDBACK': '反馈', 'data.k.COMPLAINT': '投诉', 'data.k.SURVEY': '问卷',
    'data.bytes': '{n} 字节', 'data.kb': '{n} KB', 'data.mb': '{n} MB', 'data.lastRun': '最近一次评分：{when}',
  },
  en: {
    'data.title': 'Import & export', 'data.export': 'Export', 'data.import': 'Import', 'data.what': 'What', 'data.format': 'Format',
    'data.what.customers': 'All customers ({n})', 'data.what.segment': 'Customers of an RFM segment', 'data.what.interactions': 'Interactions ({n})',
    'data.segment': 'Segment', 'data.segmentOption': '{label} ({n})', 'data.noSegments': 'No RFM scores yet: nothing to export by segment.',
    'data.store': 'Store (empty: all)', 'data.since': 'From', 'data.until': 'To', 'data.kinds': 'Kinds (none ticked: all)',
    'data.download': 'Download', 'data.downloading': 'Preparing the file…', 'data.downloaded': 'Downloaded {file} ({size}).',
    'data.exportHint': 'Files hold this tenant\'s data; CSV is UTF-8 with a BOM, so Excel opens it. Every export is recorded in the audit log.',
    'data.file': 'File (CSV or Excel .xlsx)', 'data.kind': 'What', 'data.kind.customers': 'Customers', 'data.kind.interactions': 'Interactions (purchases, refunds, visits, ...)',
    'data.mode': 'Customer codes already stored', 'data.mode.upsert': 'update the changed fields', 'data.mode.insert': 'skip them (duplicates)',
    'data.run': 'Import', 'data.running': 'Importing…', 'data.stored': 'Stored', 'data.updated': 'Updated', 'data.duplicates': 'Duplicates', 'data.rejected': 'Rejected',
    'data.rows': '{n} rows ({file}, {encoding})', 'data.already': 'This file was imported before: nothing was stored again.',
    'data.line': 'Line', 'data.field': 'Column', 'data.reason': 'Reason', 'data.rejects': 'Download the rejected rows (fix them and import that file)',
    'data.columns.customers': 'The first row names the columns: code, name, phone, email, birthday, gender, city, store, owner, tags and consent (separated by |), attributes (JSON), referrer_code.',
    'data.columns.interactions': 'The first row names the columns: customer_code or customer_id, kind, occurred_at (without an offset: the tenant\'s local time), amount, quantity, channel, store, staff, external_id, reverses_external_id, payload.',
    'data.importHint': 'A bad row is rejected on its own, with its reason; the other rows are stored. Importing the same file again stores nothing twice. Files up to 10 MB; larger ones with the command line (guanxi import).',
    'data.noFile': 'Choose a file', 'data.readOnly': 'Only an admin can import data.',
    'data.k.PURCHASE': 'Purchase', 'data.k.REFUND': 'Refund', 'data.k.VISIT': 'Visit', 'data.k.CONTACT': 'Contact', 'data.k.REVISIT': 'Revisit',
    'data.k.EVENT': 'Event', 'data.k.REFERRAL': 'Referral', 'data.k.FEEDBACK': 'Feedback', 'data.k.COMPLAINT': 'Complaint', 'data.k.SURVEY': 'Survey',
    'data.bytes': '{n} bytes', 'data.kb': '{n} KB', 'data.mb': '{n} MB', 'data.lastRun': 'Latest scoring: {when}',
  },
});

// rfmSegments exists in the tenant's schema only while rfm is on: asked for only then.
const COUNTS = `query AdminData { customers(first: 0) { totalCount } interactions(first: 0) { totalCount } }`;
const COUNTS_RFM = `query AdminData($lang: Lang!) { customers(first: 0) { totalCount } interactions(first: 0) { totalCount }
  rfmSegments { computedAt segments { segment { code label(lang: $lang) } customers } } }`;

function size(bytes) {
  if (bytes < 1024) return t('data.bytes', { n: number(bytes) });
  if (bytes < 1024 * 1024) return t('data.kb', { n: number(bytes / 1024, 1) });
  return t('data.mb', { n: number(bytes / 1024 / 1024, 1) });
}

// A response's API errors as {field, message}; fields the form has no input for go to `fallback`.
async function apiErrors(response, known, fallback) {
  let payload = null;
  try { payload = await response.json(); } catch { payload = null; }
  const errors = (payload && payload.errors) || [{ message: `HTTP ${response.status}` }];
  return errors.map((e) => {
    const name = (e.extensions && e.extensions.field) || '';
    const root = name.split('.')[0];
    return { field: known.includes(root) ? name : fallback, message: e.message };
  });
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function exportCard(ctx, counts) {
  const segments = counts.rfmSegments ? counts.rfmSegments.segments.filter((s) => s.customers > 0) : [];
  const what = h('select', { name: 'what', 'data-testid': 'export-what' },
    h('option', { value: 'customers' }, t('data.what.customers', { n: number(counts.customers.totalCount) })),
    ctx.enabled('rfm') ? h('option', { value: 'segment' }, t('data.what.segment')) : null,
    h('option', { value: 'interactions' }, t('data.what.interactions', { n: number(counts.interactions.totalCount) })));
  const format = h('select', { name: 'format', 'data-testid': 'export-format' }, h('option', { value: 'csv' }, 'CSV'), h('option', { value: 'xlsx' }, 'Excel (.xlsx)'));
  const segment = segments.length
    ? h('select', { name: 'segment', 'data-testid': 'export-segment' }, segments.map((s) =>
      h('option', { value: s.segment.code }, t('data.segmentOption', { label: s.segment.label, n: number(s.customers) }))))
    : h('p.hint', {}, t('data.noSegments'));
  const store = h('input', { name: 'store', 'data-testid': 'export-store', autocomplete: 'off' });
  const since = h('input', { type: 'date', name: 'since', 'data-testid': 'export-since' });
  const until = h('input', { type: 'date', name: 'until', 'data-testid': 'export-until' });
  const kinds = KINDS.map((k) => h('input', { type: 'checkbox', value: k, 'data-testid': `export-kind-${k}` }));
  const parts = {
    customers: [field(t('data.store'), store, 'where')],
    segment: [field(t('data.segment'), segment, 'segment'), counts.rfmSegments && counts.rfmSegments.computedAt
      ? h('p.hint', {}, t('data.lastRun', { when: dateTime(counts.rfmSegments.computedAt) })) : null],
    interactions: [h('div.row', {}, field(t('data.since'), since, 'since'), field(t('data.until'), until, 'until')),
      h('div.field', { 'data-field': 'kind' }, h('span.field-label', {}, t('data.kinds')),
        h('div.checks', {}, kinds.map((box) => h('label.inline', {}, box, ' ', t(`data.k.${box.value}`)))), h('span.field-error', { role: 'alert' }))],
  };
  const options = h('div.export-options');
  const done = h('p.notice', { role: 'status', 'data-testid': 'export-done' });
  const button = h('button', { type: 'submit', 'data-testid': 'export-download' }, t('data.download'));
  const showOptions = () => clear(options, parts[what.value].filter(Boolean));
  what.addEventListener('change', showOptions);
  showOptions();
  const form = h('form.form', {
    'data-testid': 'export',
    onsubmit: async (event) => {
      event.preventDefault();
      showErrors(form, []);
      done.textContent = '';
      const params = new URLSearchParams();
      let path = `${what.value}.${format.value}`;
      if (what.value === 'segment') {
        if (!segments.length) return;
        path = `segments/${encodeURIComponent(segment.value)}.${format.value}`;
      }
      if (what.value === 'customers' && store.value.trim()) params.set('where', JSON.stringify({ store: { eq: store.value.trim() } }));
      if (what.value === 'interactions') {
        if (since.value) params.set('since', since.value);
        if (until.value) params.set('until', until.value);
        const ticked = kinds.filter((b) => b.checked).map((b) => b.value);
        if (ticked.length) params.set('kind', ticked.join(','));
      }
      button.disabled = true;
      done.textContent = t('data.downloading');
      try {
        const query = params.toString();
        const response = await fetch(`export/${path}${query ? `?${query}` : ''}`, { credentials: 'same-origin' });
        if (!response.ok) {
          done.textContent = '';
          showErrors(form, await apiErrors(response, ['where', 'since', 'until', 'kind', 'segment'], 'what'));
          return;
        }
        const blob = await response.blob();
        const named = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') || '');
        const filename = named ? named[1] : path.replace('/', '-');
        saveBlob(blob, filename);
        done.textContent = t('data.downloaded', { file: filename, size: size(blob.size) });
        done.dataset.file = filename;
      } catch (error) {
        done.textContent = '';
        showErrors(form, [{ field: 'what', message: String(error.message || error) }]);
      } finally {
        button.disabled = false;
      }
    },
  },
  h('div.row', {}, field(t('data.what'), what, 'what'), field(t('data.format'), format, 'format')),
  options, button);
  return card(t('data.export'), h('p.hint', {}, t('data.exportHint')), form, done);
}

function outcome(result) {
  const box = h('div.import-outcome', { 'data-testid': 'import-outcome', 'data-stored': result.stored, 'data-rejected': result.rejected });
  box.append(...[
    h('p', {}, t('data.rows', { n: number(result.rowsTotal), file: result.file, encoding: result.encoding.toUpperCase() })),
    result.alreadyDone ? h('p.warning', { 'data-testid': 'import-already' }, t('data.already')) : null,
    h('div.stats', {},
      stat(t('data.stored'), number(result.stored), { testid: 'import-stored' }),
      result.kind === 'customers' ? stat(t('data.updated'), number(result.updated), { testid: 'import-updated' }) : null,
      stat(t('data.duplicates'), number(result.duplicates), { testid: 'import-duplicates' }),
      stat(t('data.rejected'), number(result.rejected), { testid: 'import-rejected' }))].filter(Boolean));
  if (result.rejects.length) {
    const rows = result.rejects.flatMap((r) => r.errors.map((e) => ({ line: r.line, field: e.field, message: e.message })));
    box.append(table([
      { label: t('data.line'), value: (r) => number(r.line), className: 'num' },
      { label: t('data.field'), value: (r) => (r.field ? h('code', {}, r.field) : '—') },
      { label: t('data.reason'), value: (r) => r.message },
    ], rows, { testid: 'import-rejects' }));
  }
  if (result.rejectsCsv) {
    const name = result.file.replace(/\.[^.]*$/, '') + '.rejects.csv';
    box.append(h('p', {}, h('button.link', { type: 'button', 'data-testid': 'import-rejects-file',
      onclick: () => saveBlob(new Blob(['\ufeff', result.rejectsCsv], { type: 'text/csv;charset=utf-8' }), name) }, t('data.rejects'))));
  }
  return box;
}

function importCard() {
  const kind = h('select', { name: 'kind', 'data-testid': 'import-kind' },
    ['customers', 'interactions'].map((k) => h('option', { value: k }, t(`data.kind.${k}`))));
  const mode = h('select', { name: 'mode', 'data-testid': 'import-mode' },
    ['upsert', 'insert'].map((m) => h('option', { value: m }, t(`data.mode.${m}`))));
  const modeField = field(t('data.mode'), mode, 'mode');
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,.txt,.xlsx,.xlsm', 'data-testid': 'import-file' });
  const columns = h('p.hint', { 'data-testid': 'import-columns' });
  const result = h('div');
  const button = h('button', { type: 'submit', 'data-testid': 'import-run' }, t('data.run'));
  const sync = () => {
    modeField.hidden = kind.value !== 'customers';
    columns.textContent = t(`data.columns.${kind.value}`);
  };
  kind.addEventListener('change', sync);
  sync();
  const form = h('form.form', {
    'data-testid': 'import', 'data-write': true,
    onsubmit: async (event) => {
      event.preventDefault();
      showErrors(form, []);
      clear(result);
      const chosen = file.files && file.files[0];
      if (!chosen) { showErrors(form, [{ field: 'file', message: t('data.noFile') }]); return; }
      button.disabled = true;
      button.textContent = t('data.running');
      try {
        const { payload } = await session('GET');  // the CSRF token, again: the console keeps it out of reach of pages
        const params = new URLSearchParams({ name: chosen.name });
        if (kind.value === 'customers') params.set('mode', mode.value);
        const response = await fetch(`import/${kind.value}?${params}`, {
          method: 'POST', body: chosen, credentials: 'same-origin',
          headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': (payload && payload.csrf) || '' },
        });
        if (!response.ok) {
          showErrors(form, await apiErrors(response, ['mode', 'kind'], 'file'));
          return;
        }
        clear(result, outcome(await response.json()));
      } catch (error) {
        showErrors(form, [{ field: 'file', message: String(error.message || error) }]);
      } finally {
        button.disabled = false;
        button.textContent = t('data.run');
      }
    },
  },
  field(t('data.kind'), kind, 'kind'), modeField, columns, field(t('data.file'), file, 'file'), button);
  return card(t('data.import'), h('p.hint', {}, t('data.importHint')), form, result);
}

export default {
  route: 'data', title: 'data.title', module: null, minRole: 'ANALYST',
  async render(view, ctx) {
    const counts = ctx.enabled('rfm') ? await ctx.gql(COUNTS_RFM, { lang: ctx.apiLang }) : await ctx.gql(COUNTS);
    view.append(exportCard(ctx, counts), ctx.can('ADMIN') ? importCard() : h('p.hint', { 'data-testid': 'import-read-only' }, t('data.readOnly')));
  },
};
