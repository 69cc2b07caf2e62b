// The overview's periods in the tenant's time zone: each is [from, to) between
// two local midnights, with the period it is compared with. Instants go to
// the API as ISO strings (UTC); days are 'YYYY-MM-DD' local calendar days.
import { localDay, timezone } from '../format.js';

export const PERIODS = ['7d', '30d', '90d', 'mtd', 'lastmonth'];
export const DEFAULT_PERIOD = '30d';

function parts(ymd) { return ymd.split('-').map(Number); }
function ymdOf(ms) { return new Date(ms).toISOString().slice(0, 10); }

export function addDays(ymd, n) {
  const [y, m, d] = parts(ymd);
  return ymdOf(Date.UTC(y, m - 1, d + n));
}

function monthStart(ymd, monthsBack = 0) {
  const [y, m] = parts(ymd);
  return ymdOf(Date.UTC(y, m - 1 - monthsBack, 1));
}

function daysBetween(a, b) {  // b - a, in days
  const [y1, m1, d1] = parts(a); const [y2, m2, d2] = parts(b);
  return Math.round((Date.UTC(y2, m2 - 1, d2) - Date.UTC(y1, m1 - 1, d1)) / 86400000);
}

// Minutes the zone is ahead of UTC at an instant.
function offsetMinutes(ms, tz) {
  const fields = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms));
  const v = Object.fromEntries(fields.map((p) => [p.type, p.value]));
  return (Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour, +v.minute, +v.second) - ms) / 60000;
}

// The instant a local day starts in the tenant's time zone.
export function midnight(ymd, tz = timezone()) {
  const [y, m, d] = parts(ymd);
  const guess = Date.UTC(y, m - 1, d);
  let at = guess - offsetMinutes(guess, tz) * 60000;
  at = guess - offsetMinutes(at, tz) * 60000;  // the offset at the answer (a DST change that day)
  return new Date(at).toISOString();
}

// {from, to, compareFrom, compareTo, days: [first, last], compareDays: [first, last]}
export function periodOf(name, today = localDay()) {
  let first, end, prevFirst, prevEnd;  // local days; *End is exclusive
  if (name === 'mtd' || name === 'lastmonth') {
    const thisMonth = monthStart(today);
    if (name === 'mtd') {
      first = thisMonth; end = addDays(today, 1);
      prevFirst = monthStart(today, 1);
      prevEnd = addDays(prevFirst, daysBetween(first, end));  // the same days of last month
      if (daysBetween(prevEnd, thisMonth) < 0) prevEnd = thisMonth;  // 31 March: last month has fewer days
    } else {
      first = monthStart(today, 1); end = thisMonth;
      prevFirst = monthStart(today, 2); prevEnd = first;
    }
  } else {
    const n = Number(name.replace('d', ''));
    end = addDays(today, 1); first = addDays(end, -n);
    prevEnd = first; prevFirst = addDays(first, -n);
  }
  return {
    name, from: midnight(first), to: midnight(end), compareFrom: midnight(prevFirst), compareTo: midnight(prevEnd),
    days: [first, addDays(end, -1)], compareDays: [prevFirst, addDays(prevEnd, -1)],
  };
}
