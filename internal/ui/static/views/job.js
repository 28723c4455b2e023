// One job: its spec in short, status, pause note, runs, and the buttons to pause, resume, run
// now and delete (each asks first). The status and runs refresh every few seconds while the
// page is visible.

import { api, ApiError, describeError } from '../api.js';
import { ask } from '../dialog.js';
import { badge, fmtMillis, fmtTime, h, parseDuration, poll, replace, td, timeEl, toast } from '../dom.js';
import { describeSchedule } from '../describe.js';

const refreshMs = 2000;
const runLimits = [20, 100, 1000];

export async function jobView(ctx) {
  const { main, signal, params } = ctx;
  const name = params[0];
  let job = null;
  let etag = '';
  let runs = [];
  let runLimit = runLimits[0];
  let busy = false;
  let gone = false; // the job does not exist: stop refreshing

  const heading = h('h1', { tabindex: -1 }, name);
  const stateEl = h('span', { id: 'job-state', 'aria-live': 'polite' });
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Job actions' });
  const message = h('div', { id: 'job-message', class: 'error-box', role: 'alert', hidden: true });
  const pauseBox = h('div', { id: 'pause-note', class: 'note-box', hidden: true });
  const summary = h('div', { id: 'job-summary' });
  const runsWrap = h('div', { id: 'runs' });
  const runsMore = h('button', { type: 'button', hidden: true, onclick: () => { runLimit = runLimits[runLimits.indexOf(runLimit) + 1] || runLimit; refresh(); } }, 'Show more runs');

  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / '),
    h('div', { class: 'title-row' }, heading, stateEl),
    actions, message, pauseBox, summary,
    h('h2', {}, 'Runs'),
    h('p', { class: 'hint' }, 'Newest first. Lateness is how long after its scheduled time a run started.'),
    runsWrap, runsMore);

  function showMessage(text) {
    message.replaceChildren(text);
    message.hidden = !text;
  }

  async function refresh() {
    if (gone) return;
    try {
      const [jr, rr] = await Promise.all([api.getJob(name, signal), api.runs(name, runLimit, signal)]);
      job = jr.data;
      etag = jr.etag || `"${job.status?.version ?? ''}"`;
      runs = rr.data.runs || [];
      draw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e instanceof ApiError && e.status === 404 && e.kind === 'job-not-found') {
        gone = true;
        replace(main, h('h1', { tabindex: -1 }, name), h('p', {}, 'There is no such job (it may have been deleted). ', h('a', { href: '#/jobs' }, 'Back to the jobs.')));
        return;
      }
      showMessage(describeError(e));
    }
  }

  // act runs one action with the buttons disabled, then shows its outcome and refreshes.
  async function act(fn, done) {
    if (busy) return;
    busy = true;
    // The buttons are disabled and drawn again: put the focus back where it was after.
    const focusKey = actions.contains(document.activeElement) ? document.activeElement.dataset.key : undefined;
    for (const b of actions.querySelectorAll('button')) b.disabled = true;
    try {
      const res = await fn();
      showMessage('');
      if (done) done(res);
    } catch (e) {
      if (e.name === 'AbortError') return;
      showMessage(describeError(e));
    } finally {
      busy = false;
      if (!signal.aborted) await refresh();
      const again = focusKey && [...actions.querySelectorAll('[data-key]')].find((n) => n.dataset.key === focusKey);
      if (again && !again.disabled && (!document.activeElement || document.activeElement === document.body)) again.focus();
    }
  }

  async function onPause() {
    const v = await ask({
      title: `Pause ${name}?`,
      message: 'A paused job is not scheduled. Runs already in flight go on.',
      confirm: 'Pause',
      fields: [
        { name: 'note', label: 'Note (optional)', type: 'textarea', hint: 'Why, for whoever looks next.' },
        { name: 'until', label: 'Resume by itself at (optional)', type: 'datetime-local', hint: 'In your browser\'s time zone.' },
      ],
    });
    if (!v) return;
    const body = {};
    if (v.note.trim()) body.note = v.note.trim();
    if (v.until) {
      const d = new Date(v.until);
      if (Number.isNaN(d.getTime())) {
        showMessage('The resume time is not a valid date and time.');
        return;
      }
      body.until = d.toISOString();
    }
    await act(() => api.pause(name, body), () => toast(`${name} paused.`));
  }

  async function onResume() {
    const v = await ask({ title: `Resume ${name}?`, message: 'It is scheduled again from now on; slots missed while paused are not run.', confirm: 'Resume' });
    if (!v) return;
    await act(() => api.resume(name), () => toast(`${name} resumed.`));
  }

  async function onTrigger() {
    const paused = job?.status?.state === 'paused';
    const v = await ask({
      title: `Run ${name} now?`,
      message: 'The leader sends one extra run now, outside the schedule.',
      confirm: 'Run now',
      fields: paused ? [{ name: 'whilePaused', label: 'Run it even though the job is paused', type: 'checkbox', value: true }] : [],
    });
    if (!v) return;
    const body = {};
    if (v.whilePaused) body.whilePaused = true;
    await act(() => api.trigger(name, body), (res) => toast(`Run asked for: ${res.data?.run || ''}`));
  }

  async function onDelete() {
    const v = await ask({
      title: `Delete ${name}?`,
      message: 'This deletes the job with its run history. It cannot be undone.',
      confirm: 'Delete',
      danger: true,
    });
    if (!v) return;
    try {
      await api.deleteJob(name, etag);
      toast(`${name} deleted.`);
      location.hash = '#/jobs';
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        showMessage('The job changed since this page loaded it, so it was not deleted. Look at it again and retry.');
        refresh();
        return;
      }
      showMessage(describeError(e));
    }
  }

  async function onCancel(run) {
    const v = await ask({ title: 'Cancel this run?', message: `Run ${run.id} is cancelled and its target's request is aborted.`, confirm: 'Cancel the run', dismiss: 'Keep it running', danger: true });
    if (!v) return;
    await act(() => api.cancelRun(name, run.id), () => toast('Run cancelled.'));
  }

  function drawActions(state) {
    const btn = (id, label, onclick, cls, key = id) => h('button', { type: 'button', 'data-key': key, id: `action-${id}`, class: cls, onclick, disabled: busy }, label);
    replace(actions,
      h('a', { href: `#/jobs/${encodeURIComponent(name)}/edit`, class: 'button', 'data-key': 'edit' }, 'Edit'),
      // Pause and Resume share a key: the focus stays on the button that takes the place of the other.
      state === 'paused' ? btn('resume', 'Resume', onResume, null, 'toggle') : btn('pause', 'Pause', onPause, null, 'toggle'),
      btn('trigger', 'Run now', onTrigger),
      btn('delete', 'Delete', onDelete, 'danger'));
    if (state === 'invalid' || state === 'completed') {
      for (const b of actions.querySelectorAll('#action-pause')) b.disabled = true;
    }
  }

  function draw() {
    const st = job.status || {};
    replace(stateEl, badge(st.state));
    drawActions(st.state);
    if (job.paused) {
      const p = job.pause || {};
      replace(pauseBox,
        h('p', {}, h('strong', {}, 'Paused'),
          p.by ? [' by ', h('span', { id: 'pause-by' }, p.by)] : null,
          p.since ? [' since ', h('span', {}, fmtTime(p.since))] : null,
          p.until ? [', resumes by itself ', timeEl(p.until)] : null, '.'),
        p.note ? h('p', { class: 'note', id: 'pause-text' }, p.note) : null);
      pauseBox.hidden = false;
    } else {
      pauseBox.hidden = true;
    }
    replace(summary, summaryList(job));
    drawRuns();
  }

  function drawRuns() {
    runsMore.hidden = runs.length < runLimit || runLimit === runLimits[runLimits.length - 1];
    if (runs.length === 0) {
      replace(runsWrap, h('p', { class: 'empty' }, 'No runs yet.'));
      return;
    }
    replace(runsWrap, h('table', { class: 'responsive runs' },
      h('caption', { class: 'visually-hidden' }, `Runs of ${name}`),
      h('thead', {}, h('tr', {}, ['Scheduled', 'Trigger', 'State', 'Lateness', 'Duration', 'HTTP', 'Attempts', 'Error, response', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, runs.map(runRow))));
  }

  function runRow(r) {
    const late = r.started && r.scheduled ? new Date(r.started) - new Date(r.scheduled) : NaN;
    const dur = r.duration ? parseDuration(r.duration) : NaN;
    const active = r.state === 'claimed' || r.state === 'running';
    return h('tr', { 'data-run': r.id, 'data-state': r.state, 'data-trigger': r.trigger || 'schedule' },
      td('Scheduled', h('span', { title: r.id }, fmtTime(r.scheduled))),
      td('Trigger', r.trigger ? `${r.trigger}${r.by ? ` by ${r.by}` : ''}` : 'schedule'),
      td('State', badge(r.state, r.reason)),
      td('Lateness', Number.isFinite(late) ? fmtMillis(late) : '—'),
      td('Duration', Number.isFinite(dur) ? fmtMillis(dur) : '—'),
      td('HTTP', r.status ? String(r.status) : '—'),
      td('Attempts', r.attempts ? String(r.attempts) : '—'),
      td('Error', r.error || '',
        r.response ? h('details', { 'data-key': `resp-${r.id}` }, h('summary', {}, 'Response'), h('pre', {}, r.response)) : null),
      td('', active
        ? h('button', { type: 'button', class: 'small', 'data-key': `cancel-${r.id}`, onclick: () => onCancel(r) }, 'Cancel', h('span', { class: 'visually-hidden' }, ` run ${r.id}`))
        : null));
  }

  await refresh();
  if (signal.aborted || gone) return;
  poll(refresh, refreshMs, signal);
}

function dl(items) {
  return h('dl', { class: 'summary' }, items.filter(([, v]) => v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}

function summaryList(j) {
  const st = j.status || {};
  const http = j.target?.http || {};
  const labels = Object.entries(j.labels || {});
  return dl([
    ['Description', j.description],
    ['Labels', labels.length ? h('ul', { class: 'labels' }, labels.map(([k, v]) => h('li', {}, h('code', {}, `${k}=${v}`)))) : null],
    ['Schedule', [describeSchedule(j.schedule, j.timezone), ' ', h('code', {}, j.schedule)]],
    ['Time zone', j.timezone || 'UTC'],
    ['Next run', st.nextRun ? timeEl(st.nextRun, j.timezone) : null],
    ['Upcoming', st.nextRuns && st.nextRuns.length > 1 ? h('ol', { class: 'times' }, st.nextRuns.map((t) => h('li', {}, fmtTime(t, j.timezone)))) : null],
    ['Target', http.url ? [h('code', {}, http.method || 'POST'), ' ', h('span', { class: 'wrap' }, http.url)] : null],
    ['Timeout', http.timeout],
    ['Completion', http.completion && http.completion !== 'sync' ? http.completion : null],
    ['Concurrency', j.concurrency ? `${j.concurrency}${j.maxConcurrent ? `, at most ${j.maxConcurrent}` : ''}` : null],
    ['Misfire', j.misfire ? `grace ${j.misfire.grace || '—'}, catch up ${j.misfire.catchUp || '—'}` : null],
    ['Retry', j.retry ? `${j.retry.attempts || 1} ${j.retry.attempts === 1 ? 'attempt' : 'attempts'}, backoff ${j.retry.backoff || '—'}` : null],
    ['Delivery', j.delivery],
    ['Run counts', st.runs ? Object.entries(st.runs).map(([k, n]) => `${k} ${n}`).join(', ') : null],
    ['Error', st.error ? h('span', { class: 'error-text' }, st.error) : null],
    ['Version', st.version ? String(st.version) : null],
    ['Created', st.created ? fmtTime(st.created) : null],
    ['Updated', st.updated ? fmtTime(st.updated) : null],
  ]);
}
