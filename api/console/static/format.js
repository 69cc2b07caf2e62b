// Figures in the tenant's currency and time zone, in the console's language.
import { getLang } from './i18n.js';

let tenant = { currency: 'CNY', timezone: 'Asia/Shanghai' };
export function setTenant(t) { tenant = { ...tenant, ...t }; }
export function timezone() { return tenant.timezone; }

const locale = () => (getLang() === 'zh' ? 'zh-CN' : 'en-US');

export function money(value, digits = 0) {
  if (value === null || value === undefined || value === '') return '—';
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: tenant.currency, maximumFractionDigits: digits, minimumFractionDigits: digits }).format(Number(value));
}

export function number(value, digits = 0) {
  if (value === null || value === undefined || value === '') return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(Number(value));
}

export function percent(value, digits = 1) {  // value is a share: 0.25 -> 25.0%
  if (value === null || value === undefined) return '—';
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: digits, minimumFractionDigits: digits }).format(Number(value));
}

export function dateTime(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale(), { timeZone: tenant.timezone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

export function date(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale(), { timeZone: tenant.timezone, dateStyle: 'medium' }).format(new Date(iso));
}

// The tenant's local calendar date (YYYY-MM-DD) of an instant.
export function localDay(when = new Date()) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tenant.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(when);
}

// Change of `now` against `before`, as a share (null when there is no base).
export function change(now, before) {
  const a = Number(now), b = Number(before);
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return (a - b) / Math.abs(b);
}
