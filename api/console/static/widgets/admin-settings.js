// A module's settings as a form, drawn from Module.settingFields: one input
// per setting of the right kind (switch, number, choice, date, list, JSON),
// its description, default and bounds beside it. The API validates: the form
// only turns inputs into JSON values, sends them with configureModule, and
// the API's errors (field "settings.<path>") appear next to their inputs.
//
// Only settings that differ from the module's default are sent, so a setting
// left at its default keeps following the module's default.
import { register, t } from '../i18n.js';
import { h, field } from '../ui.js';
import { number } from '../format.js';

register({
  zh: {
    'modules.setting.default': '默认：{value}', 'modules.setting.range': '范围：{range}', 'modules.setting.unset': '不设置',
    'modules.setting.list': '多个值用逗号分隔', 'modules.setting.json': 'JSON 格式', 'modules.setting.badJson': '不是有效的 JSON：{error}',
    'modules.setting.save': '保存设置', 'modules.setting.reset': '恢复默认值', 'modules.setting.none': '（空）',
    'modules.setting.yes': '是', 'modules.setting.no': '否',
  },
  en: {
    'modules.setting.default': 'Default: {value}', 'modules.setting.range': 'Range: {range}', 'modules.setting.unset': 'Not set',
    'modules.setting.list': 'Separate values with commas', 'modules.setting.json': 'JSON', 'modules.setting.badJson': 'Not valid JSON: {error}',
    'modules.setting.save': 'Save settings', 'modules.setting.reset': 'Back to defaults', 'modules.setting.none': '(empty)',
    'modules.setting.yes': 'yes', 'modules.setting.no': 'no',
  },
});

const NUMERIC = new Set(['INTEGER', 'NUMBER', 'DECIMAL']);

function canon(value) {
  if (Array.isArray(value)) return value.map(canon);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canon(value[k])]));
  return value;
}
const same = (a, b) => JSON.stringify(canon(a ?? null)) === JSON.stringify(canon(b ?? null));

function shown(spec, value) {  // a value as the input shows it
  if (value === null || value === undefined) return '';
  if (spec.type === 'LIST') return value.map(String).join(', ');
  if (spec.type === 'JSON') return JSON.stringify(value, null, 2);
  return String(value);
}

function defaultText(spec) {
  const value = spec.default;
  if (value === null || value === undefined) return t('modules.setting.unset');
  if (spec.type === 'BOOLEAN') return value ? t('modules.setting.yes') : t('modules.setting.no');
  if (spec.type === 'JSON') return Array.isArray(value) && !value.length ? '[]' : (typeof value === 'object' && !Object.keys(value).length ? '{}' : null);
  if (spec.type === 'LIST') return value.length ? value.join(', ') : t('modules.setting.none');
  return String(value);
}

function rangeText(spec) {
  const low = spec.minimum ?? spec.exclusiveMinimum, high = spec.maximum ?? spec.exclusiveMaximum;
  if (low === null && high === null) return null;
  const left = low === null ? '' : `${spec.minimum !== null ? '≥' : '>'} ${number(low, 4)}`;
  const right = high === null ? '' : `${spec.maximum !== null ? '≤' : '<'} ${number(high, 4)}`;
  return [left, right].filter(Boolean).join(', ');
}

function input(spec, value) {
  const attrs = { name: spec.path, 'data-testid': `setting-${spec.path}`, id: `setting-${spec.path}` };
  if (spec.type === 'BOOLEAN') return h('input', { ...attrs, type: 'checkbox', checked: Boolean(value) });
  if (spec.type === 'CHOICE') {
    const options = spec.choices.map((c) => h('option', { value: c, selected: c === value }, c));
    if (spec.nullable) options.unshift(h('option', { value: '', selected: value === null || value === undefined }, t('modules.setting.unset')));
    return h('select', attrs, options);
  }
  if (spec.type === 'JSON') return h('textarea.json', { ...attrs, rows: Math.min(12, Math.max(3, shown(spec, value).split('\n').length)), spellcheck: 'false' }, shown(spec, value));
  if (spec.type === 'DATE') return h('input', { ...attrs, type: 'date', value: shown(spec, value) });
  const numeric = NUMERIC.has(spec.type) || (spec.type === 'LIST' && NUMERIC.has(spec.itemType));
  return h('input', { ...attrs, type: 'text', inputmode: numeric ? 'decimal' : null, value: shown(spec, value), autocomplete: 'off' });
}

function scalar(type, text) {  // text -> the JSON value sent (the API says what is wrong with it)
  if (type === 'INTEGER') return /^[-+]?\d+$/.test(text) ? Number(text) : text;
  if (type === 'NUMBER') return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  return text;  // DECIMAL is sent as text (exact); TEXT, CHOICE, DATE as they are
}

// The input's value as JSON; throws {message} for text that is not JSON.
function read(spec, node) {
  if (spec.type === 'BOOLEAN') return node.checked;
  const text = node.value.trim();
  if (text === '') {
    if (spec.type === 'LIST') return [];
    if (spec.type === 'TEXT' && !spec.nullable) return '';
    return spec.nullable ? null : undefined;  // undefined: not sent, the default applies
  }
  if (spec.type === 'JSON') {
    try { return JSON.parse(text); } catch (error) { throw { message: t('modules.setting.badJson', { error: error.message }) }; }
  }
  if (spec.type === 'LIST') return text.split(/[,，、]/).map((s) => s.trim()).filter(Boolean).map((s) => scalar(spec.itemType, s));
  return scalar(spec.type, text);
}

// onsave(values, form) -> the settings now stored (refills the form) or null (errors shown).
export function settingsForm(specs, values, { testid, empty, onsave }) {
  if (!specs.length) return h('p.hint', { 'data-testid': testid }, empty);
  const inputs = new Map();
  const save = h('button', { type: 'submit', 'data-testid': `${testid}-save`, 'data-write': true }, t('modules.setting.save'));
  const form = h('form.form.settings', {
    'data-testid': testid, novalidate: true, 'data-write': true,
    onsubmit: async (event) => {
      event.preventDefault();
      for (const node of form.querySelectorAll('.field-error, .form-error')) node.textContent = '';
      const sent = {};
      let bad = false;
      for (const spec of specs) {
        let value;
        try {
          value = read(spec, inputs.get(spec.path));
        } catch (error) {
          form.querySelector(`[data-field="settings.${spec.path}"] .field-error`).textContent = error.message;
          bad = true;
          continue;
        }
        if (value !== undefined && !same(value, spec.default)) sent[spec.path] = value;
      }
      if (bad) return;  // nothing sent while a value cannot even be read
      save.disabled = true;
      try {
        const stored = await onsave(sent, form);
        if (stored) fill(stored);
      } catch (error) {
        const box = form.querySelector('.form-error');
        box.textContent = error.errors ? error.errors.map((e) => e.message).join('; ') : String(error.message || error);
      } finally {
        save.disabled = false;
      }
    },
  });
  function fill(current) {
    for (const spec of specs) {
      const node = inputs.get(spec.path);
      const value = current ? current[spec.path] : spec.default;
      if (spec.type === 'BOOLEAN') node.checked = Boolean(value);
      else node.value = shown(spec, value);
    }
  }
  form.append(h('div.form-error', { role: 'alert' }));
  for (const spec of specs) {
    const node = input(spec, values ? values[spec.path] : spec.default);
    inputs.set(spec.path, node);
    const row = field(spec.path, node, `settings.${spec.path}`);
    const notes = [spec.description, rangeText(spec) && t('modules.setting.range', { range: rangeText(spec) }),
      defaultText(spec) !== null && t('modules.setting.default', { value: defaultText(spec) }),
      spec.type === 'LIST' ? t('modules.setting.list') : null, spec.type === 'JSON' ? t('modules.setting.json') : null].filter(Boolean);
    row.insertBefore(h('span.hint.setting-hint', {}, notes.join(' · ')), row.querySelector('.field-error'));
    row.classList.add(`setting-${spec.type.toLowerCase()}`);
    form.append(row);
  }
  const reset = h('button.secondary', { type: 'button', 'data-testid': `${testid}-reset`, onclick: () => fill(null) }, t('modules.setting.reset'));
  form.append(h('div.toolbar', {}, save, reset));
  return form;
}
