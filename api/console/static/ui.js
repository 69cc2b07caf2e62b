// Small DOM helpers. Data from the API is only ever set as text, never as
// HTML: a customer's name cannot inject markup into the console.
import { t } from './i18n.js';
import { change, percent } from './format.js';

// h('div.card', {onclick}, child, 'text', ...): an element with classes, attributes and children.
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const node = document.createElement(tag || 'div');
  if (classes.length) node.className = classes.join(' ');
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// A figure with its period comparison: value, previous value and the change.
export function stat(label, value, { previous = null, now = null, before = null, testid } = {}) {
  const delta = change(now, before);
  const trend = delta === null ? '' : delta > 0 ? 'up' : delta < 0 ? 'down' : 'flat';
  return h('div.stat', { 'data-testid': testid },
    h('div.stat-label', {}, label),
    h('div.stat-value', {}, value),
    previous !== null ? h('div.stat-compare', {},
      `${t('app.previous')} ${previous}`,
      delta !== null ? h(`span.delta.${trend}`, {}, ` ${delta > 0 ? '+' : ''}${percent(delta)}`) : null) : null);
}

export function card(title, ...children) {
  return h('section.card', {}, title ? h('h2', {}, title) : null, ...children);
}

// columns: [{label, value: row => text|Node, className?}]
export function table(columns, rows, { empty = t('app.empty'), testid } = {}) {
  if (!rows.length) return h('p.empty', { 'data-testid': testid }, empty);
  return h('table.data', { 'data-testid': testid },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.className }, c.label)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.className }, c.value(row)))))));
}

export function errorBox(error) {
  const messages = error && error.errors ? error.errors.map((e) => e.message) : [String(error && error.message || error)];
  return h('div.error', { role: 'alert' }, h('strong', {}, t('app.error')), h('ul', {}, messages.map((m) => h('li', {}, m))));
}

// A form field whose API error (payload errors[].field) shows next to it.
export function field(label, input, name) {
  return h('label.field', { 'data-field': name }, h('span.field-label', {}, label), input, h('span.field-error', { role: 'alert' }));
}

// Put a mutation payload's errors next to their fields; the rest at the form's top.
// Returns true when there were errors.
export function showErrors(form, errors) {
  for (const node of form.querySelectorAll('.field-error')) node.textContent = '';
  const general = form.querySelector('.form-error');
  if (general) general.textContent = '';
  if (!errors || !errors.length) return false;
  const rest = [];
  for (const error of errors) {
    const path = error.field || '';
    const slot = [...form.querySelectorAll('[data-field]')].find((n) => path === n.dataset.field || path.startsWith(n.dataset.field + '.') || path.startsWith(n.dataset.field + '['));
    if (slot) slot.querySelector('.field-error').textContent = error.message;
    else rest.push(error.message);
  }
  if (rest.length) {
    const box = general || form.prepend(h('div.form-error', { role: 'alert' })) || form.querySelector('.form-error');
    box.textContent = rest.join('; ');
  }
  return true;
}

export function link(href, ...children) {
  return h('a', { href }, ...children);
}
