// DOM and formatting helpers. Text from the API only ever enters the page through h()'s
// children (text nodes) or attributes set with setAttribute — never as HTML.

// h builds an element: h('a', {href: '#/jobs', class: 'x', onclick: f}, 'text', child…).
// Props: class, text; on<event> functions become listeners; value and checked are set as
// properties; true sets an empty attribute; false, null and undefined are left out.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

// append adds children (nodes, strings, numbers, nested arrays; null and false are skipped).
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// replace swaps el's children for new ones, keeping the keyboard focus and open <details> on
// elements that carry the same data-key before and after (auto-refresh must not steal focus).
export function replace(el, ...children) {
  const active = document.activeElement;
  const focusKey = active && el.contains(active) ? active.dataset.key : undefined;
  const open = new Set([...el.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key));
  el.replaceChildren();
  append(el, children);
  for (const d of el.querySelectorAll('details[data-key]')) {
    if (open.has(d.dataset.key)) d.open = true;
  }
  if (focusKey !== undefined) {
    const again = [...el.querySelectorAll('[data-key]')].find((n) => n.dataset.key === focusKey);
    if (again) again.focus();
  }
}

const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

// parseDuration reads a Go duration ("1m30s", "3.66667ms") into milliseconds; NaN if it is not one.
export function parseDuration(s) {
  if (typeof s !== 'string') return NaN;
  const str = s.trim();
  if (str === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let m;
  let pos = 0;
  if (str === '') return NaN;
  while (pos < str.length) {
    re.lastIndex = pos;
    m = re.exec(str);
    if (!m) return NaN;
    total += parseFloat(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

// fmtMillis shows a span of time for people: "850 ms", "2.4 s", "3 min 5 s", "2 h 10 min".
export function fmtMillis(ms) {
  if (!Number.isFinite(ms)) return '';
  const neg = ms < 0;
  let a = Math.abs(ms);
  let out;
  if (a < 1) out = `${a.toFixed(2)} ms`;
  else if (a < 1000) out = `${Math.round(a)} ms`;
  else if (a < 60000) out = `${(a / 1000).toFixed(a < 10000 ? 2 : 1)} s`;
  else if (a < 3600000) {
    a = Math.round(a / 1000);
    out = `${Math.floor(a / 60)} min${a % 60 ? ` ${a % 60} s` : ''}`;
  } else {
    a = Math.round(a / 60000);
    out = `${Math.floor(a / 60)} h${a % 60 ? ` ${a % 60} min` : ''}`;
  }
  return neg ? `−${out}` : out;
}

const validZones = new Map();

// zoneOK says whether this browser knows an IANA zone.
export function zoneOK(tz) {
  if (!tz) return false;
  if (!validZones.has(tz)) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      validZones.set(tz, true);
    } catch {
      validZones.set(tz, false);
    }
  }
  return validZones.get(tz);
}

// fmtTime shows an RFC 3339 time as a date and time, in tz when given (else the browser's zone).
export function fmtTime(iso, tz) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime()) || d.getFullYear() <= 1) return '';
  const opts = { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
  if (tz && zoneOK(tz)) {
    opts.timeZone = tz;
    opts.timeZoneName = 'short';
  }
  return new Intl.DateTimeFormat(undefined, opts).format(d);
}

// fmtRelative says how far a time is from now: "in 5 s", "3 min ago".
export function fmtRelative(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (!iso || Number.isNaN(t)) return '';
  const diff = t - now;
  const s = Math.round(Math.abs(diff) / 1000);
  if (s === 0) return 'now';
  let span;
  if (s < 60) span = `${s} s`;
  else if (s < 3600) span = `${Math.floor(s / 60)} min${s < 600 && s % 60 ? ` ${s % 60} s` : ''}`;
  else if (s < 86400) span = `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  else span = `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
  return diff > 0 ? `in ${span}` : `${span} ago`;
}

// timeEl is a <time> showing when (relative), with the exact time as its title.
export function timeEl(iso, tz) {
  if (!iso || fmtTime(iso) === '') return h('span', { class: 'muted' }, '—');
  const exact = fmtTime(iso, tz);
  return h('time', { datetime: iso, title: exact }, fmtRelative(iso), h('span', { class: 'visually-hidden' }, ` (${exact})`));
}

// poll calls fn every ms while the page is visible and signal is not aborted: it pauses while
// the tab is hidden and calls fn at once when it is shown again. Calls never overlap.
export function poll(fn, ms, signal) {
  let timer = null;
  let running = false;
  const tick = async () => {
    timer = null;
    if (signal.aborted || document.hidden) return;
    running = true;
    try {
      await fn();
    } catch {
      // fn shows its own errors; the next tick tries again.
    } finally {
      running = false;
    }
    if (!signal.aborted && !document.hidden && timer === null) timer = setTimeout(tick, ms);
  };
  const onVisibility = () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (timer === null && !running) {
      tick();
    }
  };
  document.addEventListener('visibilitychange', onVisibility);
  signal.addEventListener('abort', () => {
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  });
  timer = setTimeout(tick, ms);
}

// debounce calls fn ms after the last call.
export function debounce(fn, ms) {
  let timer;
  const d = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(timer);
  return d;
}

// badge is a state shown as a coloured label (the colour is never the only cue: the text is there).
export function badge(state, extra) {
  return h('span', { class: `badge state-${String(state || 'none').replace(/[^a-z-]/gi, '')}` }, state || '—', extra ? ` · ${extra}` : '');
}

let toastTimer;

// toast announces a short message in the status region.
export function toast(msg) {
  const el = document.getElementById('toast');
  el.textContent = msg;
  el.classList.add('shown');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('shown'), 5000);
}

// td is a table cell labelled for the phone layout (where each row becomes a card); its content
// is wrapped in one element so the label and the content make the two columns of the card.
// Cells that show nothing ("—" or empty) are left out of the card.
export function td(label, ...children) {
  const flat = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false && c !== '');
  const none = flat.length === 0 || (flat.length === 1 && flat[0] === '—');
  return h('td', { 'data-label': label, class: none ? 'no-value' : null }, h('div', { class: 'cell' }, children));
}

// rowHeader is a row's header cell (the job name, the replica), labelled like td.
export function rowHeader(label, ...children) {
  return h('th', { scope: 'row', 'data-label': label }, h('div', { class: 'cell' }, children));
}
