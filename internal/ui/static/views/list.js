// The job list: name, state, schedule in words, next run and last result, with filters by name
// prefix, state and labels. The filters live in the hash (#/jobs?q=…&state=…&label=…) so a
// filtered list can be bookmarked; the server filters by name and label, and the page filters
// again (by state too) so it works with a server that ignores them.

import { api, ApiError, describeError } from '../api.js';
import { badge, debounce, h, poll, replace, rowHeader, td, timeEl } from '../dom.js';
import { describeSchedule } from '../describe.js';

const pageSize = 200;
const refreshMs = 10000;
// The list answer has no lastRun; up to this many rows fetch their job for it, a few at a time.
const lastRunFetches = 50;
const lastRunParallel = 4;

const states = ['active', 'paused', 'completed', 'invalid'];

export async function listView(ctx) {
  const { main, signal, query } = ctx;
  const filters = { q: query.get('q') || '', state: query.get('state') || '', label: query.get('label') || '' };
  let jobs = [];
  let next = '';
  // name → {key, lastRun}: the last run fetched for a job at its lastScheduled (the key).
  const lastRuns = new Map();

  const count = h('p', { class: 'muted', role: 'status', id: 'job-count' });
  const error = h('div', { class: 'error-box', role: 'alert', hidden: true });
  const tableWrap = h('div', { id: 'job-list' });
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(false) }, 'Load more jobs');

  const qInput = h('input', { id: 'filter-q', type: 'search', value: filters.q, autocomplete: 'off', spellcheck: 'false' });
  const stateSel = h('select', { id: 'filter-state' }, h('option', { value: '' }, 'any state'),
    states.map((s) => h('option', { value: s }, s)));
  stateSel.value = filters.state;
  const labelInput = h('input', { id: 'filter-label', type: 'text', value: filters.label, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'filter-label-hint filter-label-error' });
  const labelError = h('p', { id: 'filter-label-error', class: 'field-error' });

  const onFilter = debounce(() => {
    filters.q = qInput.value.trim();
    filters.state = stateSel.value;
    filters.label = labelInput.value.trim();
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
    const qs = p.toString();
    history.replaceState(null, '', `#/jobs${qs ? `?${qs}` : ''}`);
    load(true);
  }, 250);

  main.append(
    h('div', { class: 'title-row' },
      h('h1', { tabindex: -1 }, 'Jobs'),
      h('a', { href: '#/new', class: 'button primary' }, 'New job')),
    h('form', { role: 'search', class: 'filters', onsubmit: (e) => { e.preventDefault(); onFilter(); }, oninput: onFilter, onchange: onFilter },
      h('div', { class: 'field' }, h('label', { for: 'filter-q' }, 'Name starts with'), qInput),
      h('div', { class: 'field' }, h('label', { for: 'filter-state' }, 'State'), stateSel),
      h('div', { class: 'field' }, h('label', { for: 'filter-label' }, 'Labels'), labelInput,
        h('p', { id: 'filter-label-hint', class: 'hint' }, 'key=value or key, comma-separated'), labelError)),
    error, count, tableWrap, more);

  function labelSelectors() {
    return filters.label.split(',').map((s) => s.trim()).filter(Boolean);
  }

  function matches(j) {
    if (filters.q && !j.name.startsWith(filters.q)) return false;
    if (filters.state && j.status?.state !== filters.state) return false;
    for (const sel of labelSelectors()) {
      const [k, ...rest] = sel.split('=');
      const labels = j.labels || {};
      if (!(k in labels)) return false;
      if (rest.length && labels[k] !== rest.join('=')) return false;
    }
    return true;
  }

  async function load(reset) {
    try {
      const { data } = await api.listJobs({ q: filters.q, labels: labelSelectors(), limit: pageSize, cursor: reset ? '' : next }, signal);
      jobs = reset ? data.jobs || [] : jobs.concat(data.jobs || []);
      next = data.next || '';
      error.hidden = true;
      labelError.textContent = '';
      draw();
      fetchLastRuns();
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e instanceof ApiError && e.kind === 'invalid-parameter' && /label/.test(e.problem.detail || '')) {
        labelError.textContent = e.problem.detail;
        return;
      }
      error.replaceChildren(describeError(e));
      error.hidden = false;
    }
  }

  // refresh reloads what is shown (as many jobs as were loaded) without moving the focus.
  async function refresh() {
    try {
      const { data } = await api.listJobs({ q: filters.q, labels: labelSelectors(), limit: Math.min(1000, Math.max(pageSize, jobs.length)) }, signal);
      jobs = data.jobs || [];
      next = data.next || '';
      error.hidden = true;
      draw();
      fetchLastRuns();
    } catch (e) {
      if (e.name !== 'AbortError') {
        error.replaceChildren(describeError(e));
        error.hidden = false;
      }
    }
  }

  function lastRunOf(j) {
    if (j.status?.lastRun) return j.status.lastRun;
    return lastRuns.get(j.name)?.lastRun;
  }

  async function fetchLastRuns() {
    const todo = jobs.filter(matches).filter((j) => {
      if (j.status?.lastRun || !j.status?.lastScheduled) return false;
      const got = lastRuns.get(j.name);
      return !got || got.key !== j.status.lastScheduled;
    }).slice(0, lastRunFetches);
    const worker = async () => {
      for (let j = todo.shift(); j && !signal.aborted; j = todo.shift()) {
        try {
          const { data } = await api.getJob(j.name, signal);
          lastRuns.set(j.name, { key: j.status.lastScheduled, lastRun: data.status?.lastRun });
        } catch {
          // shown as unknown; the next refresh tries again
        }
      }
    };
    if (todo.length === 0) return;
    await Promise.all(Array.from({ length: lastRunParallel }, worker));
    if (!signal.aborted) draw();
  }

  function draw() {
    const shown = jobs.filter(matches);
    count.textContent = shown.length === jobs.length
      ? `${jobs.length} ${jobs.length === 1 ? 'job' : 'jobs'}${next ? ' loaded' : ''}`
      : `${shown.length} of ${jobs.length} jobs match`;
    more.hidden = !next;
    if (shown.length === 0) {
      const filtered = filters.q || filters.state || filters.label;
      replace(tableWrap, h('p', { class: 'empty' }, filtered ? 'No job matches these filters.' : 'No jobs yet. ',
        filtered ? null : h('a', { href: '#/new' }, 'Create one.')));
      return;
    }
    replace(tableWrap, h('table', { class: 'responsive jobs' },
      h('caption', { class: 'visually-hidden' }, 'Jobs'),
      h('thead', {}, h('tr', {}, ['Name', 'State', 'Schedule', 'Next run', 'Last result'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, shown.map(row))));
  }

  function row(j) {
    const st = j.status || {};
    const last = lastRunOf(j);
    const words = describeSchedule(j.schedule, j.timezone);
    return h('tr', { 'data-job': j.name },
      rowHeader('Name',
        h('a', { href: `#/jobs/${encodeURIComponent(j.name)}`, 'data-key': `job-${j.name}` }, j.name),
        j.description ? h('span', { class: 'sub' }, j.description) : null),
      td('State', badge(st.state)),
      td('Schedule', words,
        words !== j.schedule ? h('code', { class: 'sub' }, j.schedule) : null),
      td('Next run', st.nextRun ? timeEl(st.nextRun, j.timezone) : h('span', { class: 'muted' }, '—')),
      td('Last result', last
        ? [badge(last.state, last.reason), ' ', timeEl(last.finished || last.started || last.scheduled), last.status ? h('span', { class: 'sub' }, `HTTP ${last.status}`) : null]
        : h('span', { class: 'muted' }, st.lastScheduled ? '…' : 'never run')));
  }

  await load(true);
  poll(refresh, refreshMs, signal);
}
