// describeSchedule puts a schedule in words, best effort: 5- and 6-field cron, descriptors,
// "@every" and "@at". Anything it does not understand comes back as the raw text; the server's
// parser is the authority, this is only a reading aid.

import { parseDuration } from './dom.js';

const monthNames = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const dayNames = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const monthAbbr = monthNames.map((m) => m.slice(0, 3).toUpperCase());
const dayAbbr = dayNames.map((d) => d.slice(0, 3).toUpperCase());

const descriptors = {
  '@yearly': 'every year on January 1 at 00:00',
  '@annually': 'every year on January 1 at 00:00',
  '@monthly': 'on day 1 of every month at 00:00',
  '@weekly': 'every Sunday at 00:00',
  '@daily': 'every day at 00:00',
  '@midnight': 'every day at 00:00',
  '@hourly': 'every hour, on the hour',
};

// describeSchedule(schedule, timezone) → words, or the schedule itself when it cannot.
export function describeSchedule(schedule, timezone) {
  const raw = String(schedule || '').trim();
  if (raw === '') return '';
  try {
    const words = describe(raw, timezone);
    return words || raw;
  } catch {
    return raw;
  }
}

function zoneSuffix(tz) {
  return ` (${tz || 'UTC'})`;
}

function describe(raw, tz) {
  const lower = raw.toLowerCase();
  if (lower.startsWith('@every')) {
    const ms = parseDuration(raw.slice(6).trim());
    if (!Number.isFinite(ms) || ms < 1000) return null;
    return `every ${spanWords(Math.round(ms / 1000))}`;
  }
  if (lower.startsWith('@at')) {
    const when = raw.slice(3).trim();
    return Number.isNaN(new Date(when).getTime()) ? null : `once, at ${when}`;
  }
  if (raw.startsWith('@')) {
    const d = descriptors[lower];
    if (!d) return null;
    return lower === '@hourly' ? d : d + zoneSuffix(tz);
  }
  const parts = raw.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return null;
  const [sec, min, hour, dom, month, dow] = parts.length === 6 ? parts : ['0', ...parts];
  const f = {
    sec: parseField(sec, 0, 59),
    min: parseField(min, 0, 59),
    hour: parseField(hour, 0, 23),
    dom: parseField(dom, 1, 31),
    month: parseField(month, 1, 12, monthAbbr, 1),
    dow: parseField(dow, 0, 7, dayAbbr, 0),
  };
  if (Object.values(f).some((x) => x === null)) return null;
  if (f.dow.values) f.dow.values = [...new Set(f.dow.values.map((v) => v % 7))].sort((a, b) => a - b);
  const time = timePhrase(f);
  const day = dayPhrase(f, time.point);
  const words = time.point || !day ? [day, time.words].filter(Boolean).join(' ') : `${time.words}, ${day}`;
  const zoned = f.hour.kind !== 'any' || f.dom.kind !== 'any' || f.month.kind !== 'any' || f.dow.kind !== 'any';
  return zoned ? words + zoneSuffix(tz) : words;
}

// spanWords: 90 → "1 minute 30 seconds", 1 → "second", 7200 → "2 hours".
function spanWords(total) {
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const parts = [];
  if (hours) parts.push(plural(hours, 'hour'));
  if (minutes) parts.push(plural(minutes, 'minute'));
  if (seconds) parts.push(plural(seconds, 'second'));
  if (parts.length === 1 && parts[0].startsWith('1 ')) return parts[0].slice(2);
  return parts.join(' ');
}

function plural(n, unit) {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

// A field is {kind: 'any'} ("*", "?"), {kind: 'step', step} ("*/n"), {kind: 'values', values}
// (numbers, lists, names) or {kind: 'range', from, to, step} ("a-b", "a-b/n", "a/n").
function parseField(text, lo, hi, names, nameBase) {
  const num = (s) => {
    let v;
    if (/^\d+$/.test(s)) v = Number(s);
    else if (names && names.includes(s.toUpperCase())) v = names.indexOf(s.toUpperCase()) + nameBase;
    else return null;
    return v >= lo && v <= hi ? v : null;
  };
  if (text === '*' || text === '?') return { kind: 'any' };
  let m = /^\*\/(\d+)$/.exec(text);
  if (m) {
    const step = Number(m[1]);
    if (step < 1) return null;
    return step === 1 ? { kind: 'any' } : { kind: 'step', step, lo };
  }
  m = /^([^-/,]+)(?:-([^-/,]+))?(?:\/(\d+))?$/.exec(text);
  if (m && (m[2] !== undefined || m[3] !== undefined)) {
    const from = num(m[1]);
    const to = m[2] !== undefined ? num(m[2]) : hi;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (from === null || to === null || from > to || step < 1) return null;
    return { kind: 'range', from, to, step };
  }
  const values = [];
  for (const item of text.split(',')) {
    const v = num(item);
    if (v === null) return null; // lists of ranges and the like: leave them to the raw text
    values.push(v);
  }
  return { kind: 'values', values: [...new Set(values)].sort((a, b) => a - b) };
}

const pad = (n) => String(n).padStart(2, '0');

function listWords(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

// unitPhrase: "every minute", "every 5 minutes", "at minute 30", "at minutes 0 and 30",
// "every minute from 10 through 20", "every 5 minutes from 10 through 50".
function unitPhrase(f, unit) {
  switch (f.kind) {
    case 'any':
      return `every ${unit}`;
    case 'step':
      return `every ${f.step} ${unit}s`;
    case 'values':
      return f.values.length === 1 ? `at ${unit} ${f.values[0]}` : `at ${unit}s ${listWords(f.values.map(String))}`;
    default:
      return `every ${f.step === 1 ? unit : `${f.step} ${unit}s`} from ${unit} ${f.from} through ${f.to}`;
  }
}

function single(f) {
  return f.kind === 'values' && f.values.length === 1;
}

// timePhrase describes the second, minute and hour fields; point is true when it names
// clock times ("at 09:30"), which read best after a day ("every day at 09:30").
function timePhrase({ sec, min, hour }) {
  const secZero = single(sec) && sec.values[0] === 0;
  if (single(min) && single(sec) && hour.kind === 'values' && hour.values.length <= 6) {
    const s = secZero ? '' : `:${pad(sec.values[0])}`;
    return { point: true, words: `at ${listWords(hour.values.map((hh) => `${pad(hh)}:${pad(min.values[0])}${s}`))}` };
  }
  const parts = [];
  if (!secZero) {
    parts.push(unitPhrase(sec, 'second'));
    if (min.kind === 'any' && hour.kind === 'any') {
      return { point: false, words: parts[0].startsWith('at ') ? `${parts[0]} past every minute` : parts[0] };
    }
  }
  if (min.kind !== 'any' || parts.length === 0 || hour.kind !== 'any') {
    if (!(min.kind === 'any' && parts.length > 0)) parts.push(unitPhrase(min, 'minute'));
  }
  const last = parts[parts.length - 1];
  const joiner = last.startsWith('at ') ? 'past' : 'during';
  switch (hour.kind) {
    case 'any':
      if (last.startsWith('at ')) parts.push('past every hour');
      break;
    case 'step':
      parts.push(`${joiner} every ${hour.step} hours`);
      break;
    case 'values':
      parts.push(`${joiner} ${hour.values.length === 1 ? 'hour' : 'hours'} ${listWords(hour.values.map(pad))}`);
      break;
    default:
      parts.push(`${joiner} hours ${pad(hour.from)} through ${pad(hour.to)}${hour.step > 1 ? ` (every ${hour.step} hours)` : ''}`);
  }
  return { point: false, words: parts.join(' ') };
}

function dowWords(f) {
  if (f.kind === 'values') {
    const v = f.values;
    if (v.join() === '1,2,3,4,5') return 'weekday';
    if (v.join() === '0,6') return 'Saturday and Sunday';
    return listWords(v.map((d) => dayNames[d]));
  }
  if (f.kind === 'range' && f.step === 1) {
    if (f.from === 1 && f.to === 5) return 'weekday';
    return `${dayNames[f.from % 7]} through ${dayNames[f.to % 7]}`;
  }
  return null;
}

function monthWords(f) {
  if (f.kind === 'values') return listWords(f.values.map((m) => monthNames[m - 1]));
  if (f.kind === 'range' && f.step === 1) return `${monthNames[f.from - 1]} through ${monthNames[f.to - 1]}`;
  if (f.kind === 'step') return `every ${f.step} months`;
  return null;
}

function domWords(f) {
  if (f.kind === 'values') return `${f.values.length === 1 ? 'day' : 'days'} ${listWords(f.values.map(String))}`;
  if (f.kind === 'range' && f.step === 1) return `days ${f.from} through ${f.to}`;
  if (f.kind === 'step') return `every ${f.step} days`;
  if (f.kind === 'range') return `every ${f.step} days from day ${f.from} through ${f.to}`;
  return null;
}

// dayPhrase describes day of month, month and day of week: "every weekday", "on day 1 of
// every month", "every year on March 1", "every day" (only before a clock time).
function dayPhrase({ dom, month, dow }, point) {
  const anyDom = dom.kind === 'any';
  const anyDow = dow.kind === 'any';
  const anyMonth = month.kind === 'any';
  const mw = anyMonth ? null : monthWords(month);
  if (!anyMonth && mw === null) throw new Error('month');
  const inMonth = mw ? ` in ${mw}` : '';
  if (anyDom && anyDow) {
    if (anyMonth) return point ? 'every day' : '';
    return point ? `every day${inMonth}` : inMonth.trim();
  }
  if (!anyDom && anyDow) {
    if (single(dom) && month.kind === 'values' && month.values.length === 1) {
      return `every year on ${monthNames[month.values[0] - 1]} ${dom.values[0]}`;
    }
    const dw = domWords(dom);
    if (dw === null) throw new Error('dom');
    return `on ${dw} of ${anyMonth ? 'every month' : `the month${inMonth}`}`;
  }
  const ww = dowWords(dow);
  if (ww === null) throw new Error('dow');
  if (anyDom) return `every ${ww}${inMonth}`;
  const dw = domWords(dom);
  if (dw === null) throw new Error('dom');
  // Both restricted: cron fires when either matches.
  return `on ${dw} of the month or every ${ww}${inMonth}`;
}
