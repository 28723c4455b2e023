// Create and edit a job. The form covers the fields people set most; a JSON textarea holds the
// rest of the spec. While the user types, the spec is checked by POST /v1/jobs:validate
// (debounced), which previews the next fire times and names bad fields; saving is a PUT with
// If-None-Match: * (create) or If-Match: "<version>" (edit). Errors from the API (problem+json
// errors[], each with a JSON pointer) show next to the field they name.

import { api, ApiError, describeError } from '../api.js';
import { debounce, fmtTime, fmtRelative, h, toast } from '../dom.js';
import { describeSchedule } from '../describe.js';

const opt = (values, dflt) => [['', `default (${dflt})`], ...values.map((v) => [v, v])];

// The fields of the form, each at a JSON pointer into the spec.
const fields = [
  { key: 'name', ptr: '/name', label: 'Name', group: 'job', hint: 'Lowercase letters, digits and "-", at most 63; cannot be changed later.', required: true },
  { key: 'description', ptr: '/description', label: 'Description', group: 'job' },
  { key: 'labels', ptr: '/labels', label: 'Labels', group: 'job', kind: 'textarea', rows: 2, hint: 'One key=value per line.', map: 'kv=' },
  { key: 'schedule', ptr: '/schedule', label: 'Schedule', group: 'when', required: true, hint: 'Cron with 5 fields (minute first) or 6 (seconds first), @daily, @hourly…, @every 10s, or @at 2030-01-01T09:00:00Z.' },
  { key: 'timezone', ptr: '/timezone', label: 'Time zone', group: 'when', hint: 'IANA name such as Europe/Berlin; default UTC.', list: 'tz-list' },
  { key: 'paused', ptr: '/paused', label: 'Paused (not scheduled until resumed)', group: 'when', kind: 'checkbox' },
  { key: 'url', ptr: '/target/http/url', label: 'URL', group: 'target', required: true, inputmode: 'url', hint: 'http or https.' },
  { key: 'method', ptr: '/target/http/method', label: 'Method', group: 'target', kind: 'select', options: opt(['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'], 'POST') },
  { key: 'headers', ptr: '/target/http/headers', label: 'Headers', group: 'target', kind: 'textarea', rows: 2, map: 'kv:', hint: 'One "Name: value" per line. Stored in etcd and shown to anyone who can read the job.' },
  { key: 'body', ptr: '/target/http/body', label: 'Body', group: 'target', kind: 'textarea', rows: 3, mono: true },
  { key: 'timeout', ptr: '/target/http/timeout', label: 'Timeout', group: 'target', hint: 'Per attempt, such as 30s (default) or 5m.' },
  { key: 'concurrency', ptr: '/concurrency', label: 'Concurrency', group: 'behaviour', kind: 'select', options: opt(['allow', 'forbid', 'replace'], 'allow'), hint: 'forbid: skip a run due while one is in flight; replace: cancel the one in flight.' },
  { key: 'grace', ptr: '/misfire/grace', label: 'Misfire grace', group: 'behaviour', hint: 'A run later than this is skipped; default 1m.' },
  { key: 'catchUp', ptr: '/misfire/catchUp', label: 'Catch up', group: 'behaviour', kind: 'select', options: opt(['latest', 'all', 'none'], 'latest'), hint: 'Of several runs due at once (after an outage): the newest, all, or none.' },
  { key: 'attempts', ptr: '/retry/attempts', label: 'Attempts', group: 'behaviour', inputmode: 'numeric', map: 'int', hint: 'Tries per run, default 1 (no retry).' },
  { key: 'backoff', ptr: '/retry/backoff', label: 'Retry backoff', group: 'behaviour', hint: 'Wait before the first retry, default 1s.' },
  { key: 'delivery', ptr: '/delivery', label: 'Delivery', group: 'behaviour', kind: 'select', options: opt(['atMostOnce', 'atLeastOnce'], 'atMostOnce'), hint: 'If a leader dies mid-run: record it unknown (atMostOnce) or send it again (atLeastOnce).' },
];

const groups = [
  ['job', 'Job'],
  ['when', 'When'],
  ['target', 'Target (HTTP)'],
  ['behaviour', 'Behaviour'],
];

const rawField = { key: 'raw', ptr: '', label: 'Other fields (JSON)' };

// The spec fields that decide when a job fires: the preview needs only these.
const timingPointers = ['/schedule', '/timezone', '/startAt', '/endAt', '/dst', '/paused', '/pause'];

export async function formView(ctx, editName) {
  const { main, signal } = ctx;
  ctx.keepOnSignIn = true; // do not lose what was typed when a token is asked for
  const editing = editName !== null;
  let etag = '';
  let validateSupported = true;
  let validateCtl = null;
  const touched = new Set(); // keys of fields the user changed: live errors show only for those
  const inputs = {};
  const errorEls = {};

  if (editing) {
    main.append(h('p', { class: 'muted' }, 'Loading…'));
    let res;
    try {
      res = await api.getJob(editName, signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      main.replaceChildren(h('h1', { tabindex: -1 }, `Edit ${editName}`), h('div', { class: 'error-box', role: 'alert' }, describeError(e)));
      return;
    }
    etag = res.etag || `"${res.data.status?.version}"`;
    main.replaceChildren();
    build(res.data);
  } else {
    build(null);
  }

  function build(job) {
    const summary = h('div', { id: 'form-errors', class: 'error-box', role: 'alert', tabindex: -1, hidden: true });
    const words = h('p', { id: 'schedule-words', class: 'words', 'aria-live': 'polite' });
    const previewList = h('ol', { class: 'times', id: 'preview-times' });
    const previewNote = h('p', { class: 'hint', id: 'preview-note' });
    const preview = h('section', { id: 'preview', class: 'preview', 'aria-labelledby': 'preview-title', hidden: true },
      h('h3', { id: 'preview-title' }, 'Next fire times'), previewNote, previewList);
    const submit = h('button', { type: 'submit', class: 'primary', id: 'f-submit' }, editing ? 'Save changes' : 'Create job');

    const fieldsets = groups.map(([g, legend]) => h('fieldset', {}, h('legend', {}, legend),
      fields.filter((f) => f.group === g).map((f) => {
        const el = fieldEl(f);
        if (f.key === 'schedule') el.append(words);
        return el;
      }),
      g === 'when' ? preview : null));

    const rawEl = fieldEl({ ...rawField, kind: 'textarea', rows: 6, mono: true,
      hint: 'Any other spec fields, such as {"history": {"keep": 50}, "jitter": "5s", "retry": {"maxBackoff": "5m"}}. The fields above win over the same ones here.' });

    const form = h('form', { id: 'job-form', novalidate: true, onsubmit: onSubmit, oninput: onInput, onchange: onInput },
      summary, h('div', { class: 'form-grid' }, fieldsets),
      h('fieldset', {}, h('legend', {}, 'More'), rawEl),
      h('div', { class: 'buttons' }, submit,
        h('a', { href: editing ? `#/jobs/${encodeURIComponent(editName)}` : '#/jobs', class: 'button' }, 'Cancel')));

    const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    main.append(
      h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', editing ? [h('a', { href: `#/jobs/${encodeURIComponent(editName)}` }, editName), ' / '] : null),
      h('h1', { tabindex: -1 }, editing ? `Edit ${editName}` : 'New job'),
      h('datalist', { id: 'tz-list' }, ['UTC', ...zones].map((z) => h('option', { value: z }))),
      form);


    function updateWords() {
      const s = inputs.schedule.value.trim();
      const w = s ? describeSchedule(s, inputs.timezone.value.trim() || 'UTC') : '';
      words.textContent = w && w !== s ? w : '';
    }

    function onInput(ev) {
      const key = ev.target?.dataset?.field;
      if (key) touched.add(key);
      if (key === 'schedule' || key === 'timezone') updateWords();
      schedulePreview();
    }

    const schedulePreview = debounce(runPreview, 400);
    signal.addEventListener('abort', () => {
      schedulePreview.cancel();
      if (validateCtl) validateCtl.abort();
    });

    fill(job);
    updateWords();
    if (editing) schedulePreview();

    async function runPreview() {
      if (!validateSupported || signal.aborted) return;
      const { spec, errors } = collect();
      if (errors.length) {
        showErrors(errors, { live: true });
        return;
      }
      if (!spec.schedule) {
        preview.hidden = true;
        return;
      }
      if (validateCtl) validateCtl.abort();
      validateCtl = new AbortController();
      const name = inputs.name.value.trim();
      const body = name ? { name, ...spec } : spec;
      try {
        const { data } = await api.validate(body, validateCtl.signal);
        showErrors([], { live: true });
        drawPreview(data.nextRuns || [], data.spec?.timezone);
      } catch (e) {
        if (e.name === 'AbortError') return;
        if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
          validateSupported = false; // a server without the route: no preview
          preview.hidden = true;
          return;
        }
        if (e instanceof ApiError && e.status === 400) {
          const errs = e.fieldErrors.length ? e.fieldErrors : [{ pointer: '', detail: e.problem.detail || e.problem.title }];
          showErrors(errs, { live: true });
          if (errs.some((x) => timingPointers.some((p) => x.pointer === `#${p}` || String(x.pointer).startsWith(`#${p}/`)))) {
            previewNote.textContent = 'Fix the schedule to see when it runs.';
            previewList.replaceChildren();
            preview.hidden = false;
            return;
          }
          // The schedule is fine and other fields are not (yet): preview the schedule alone.
          await previewTimingOnly(spec);
          return;
        }
        preview.hidden = true; // 401, 403, 503…: the preview is only an aid
      }
    }

    async function previewTimingOnly(spec) {
      const only = { target: { http: { url: 'http://preview.invalid/' } } };
      for (const p of timingPointers) {
        const v = getPath(spec, p);
        if (v !== undefined) setPath(only, p, v);
      }
      try {
        const { data } = await api.validate(only, validateCtl.signal);
        drawPreview(data.nextRuns || [], data.spec?.timezone);
      } catch (e) {
        if (e.name !== 'AbortError') preview.hidden = true;
      }
    }

    function drawPreview(times, tz) {
      preview.hidden = false;
      if (times.length === 0) {
        previewNote.textContent = 'It would never fire (a time in the past, or past its end).';
        previewList.replaceChildren();
        return;
      }
      previewNote.textContent = `The first ${times.length}, in ${tz || 'UTC'}:`;
      previewList.replaceChildren(...times.map((t) => h('li', {}, h('time', { datetime: t }, fmtTime(t, tz)), ' ', h('span', { class: 'muted' }, `(${fmtRelative(t)})`))));
    }

    // showErrors puts each error next to its field, and lists them all at the top when saving
    // failed. Live errors (from typing) show only at fields the user has touched.
    function showErrors(errors, { live = false, title = '' } = {}) {
      for (const el of Object.values(errorEls)) el.replaceChildren();
      for (const input of Object.values(inputs)) input.removeAttribute('aria-invalid');
      const listed = [];
      for (const e of errors) {
        const f = fieldFor(e.pointer);
        const key = f ? f.key : null;
        if (live && key && !touched.has(key)) continue;
        if (key) {
          const el = errorEls[key];
          if (el.childNodes.length) el.append(h('br'));
          el.append(e.detail || 'invalid');
          inputs[key].setAttribute('aria-invalid', 'true');
        }
        listed.push({ key, label: f ? f.label : 'Job', pointer: e.pointer, detail: e.detail });
      }
      if (live) return;
      if (!title && listed.length === 0) {
        summary.hidden = true;
        return;
      }
      summary.replaceChildren(
        h('p', {}, h('strong', {}, title || `The job was not saved: ${listed.length === 1 ? 'one problem' : `${listed.length} problems`}.`)),
        listed.length ? h('ul', {}, listed.map((l) => h('li', {},
          l.key ? h('button', { type: 'button', class: 'link-button', onclick: () => inputs[l.key].focus() }, l.label) : h('span', {}, l.label),
          l.key === 'raw' && l.pointer ? ` (${l.pointer.replace(/^#/, '')})` : '', ': ', l.detail))) : null);
      summary.hidden = false;
      summary.focus();
    }

    async function onSubmit(ev) {
      ev.preventDefault();
      schedulePreview.cancel();
      for (const f of [...fields, rawField]) touched.add(f.key);
      const { spec, errors } = collect();
      const name = inputs.name.value.trim();
      if (!name) errors.push({ pointer: '#/name', detail: 'Enter a name.' });
      if (errors.length) {
        showErrors(errors);
        return;
      }
      submit.disabled = true;
      try {
        const res = await api.putJob(name, spec, editing ? { ifMatch: etag } : { createOnly: true });
        toast(res.status === 201 ? `${name} created.` : `${name} saved.`);
        location.hash = `#/jobs/${encodeURIComponent(name)}`;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.status === 400 && e.fieldErrors.length) showErrors(e.fieldErrors);
        else if (e.status === 412 && !editing) showErrors([{ pointer: '#/name', detail: `A job named "${name}" exists already.` }]);
        else if (e.status === 412) {
          showErrors([], { title: 'Someone changed this job since you opened it, so your changes were not saved. Open it again to see theirs, then reapply yours.' });
          summary.append(h('p', {}, h('a', { href: `#/jobs/${encodeURIComponent(name)}` }, 'Open the job as it is now')));
        } else showErrors([], { title: describeError(e) });
      } finally {
        submit.disabled = false;
      }
    }
  }

  function fieldEl(f) {
    const id = `f-${f.key}`;
    const hintId = f.hint ? `${id}-hint` : '';
    const errId = `${id}-error`;
    const described = [hintId, errId].filter(Boolean).join(' ');
    let input;
    const common = { id, name: f.key, 'data-field': f.key, 'aria-describedby': described };
    if (f.kind === 'textarea') {
      input = h('textarea', { ...common, rows: f.rows || 3, spellcheck: 'false', class: f.mono ? 'mono' : null });
    } else if (f.kind === 'select') {
      input = h('select', common, f.options.map(([v, label]) => h('option', { value: v }, label)));
    } else if (f.kind === 'checkbox') {
      input = h('input', { ...common, type: 'checkbox' });
    } else {
      input = h('input', { ...common, type: 'text', autocomplete: 'off', spellcheck: 'false', inputmode: f.inputmode, list: f.list, 'aria-required': f.required ? 'true' : null });
    }
    inputs[f.key] = input;
    const err = h('p', { id: errId, class: 'field-error' });
    errorEls[f.key] = err;
    const hint = f.hint ? h('p', { id: hintId, class: 'hint' }, f.hint) : null;
    const label = h('label', { for: id }, f.label, f.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null);
    return f.kind === 'checkbox'
      ? h('div', { class: 'field checkbox', 'data-for': f.key }, input, label, hint, err)
      : h('div', { class: 'field', 'data-for': f.key }, label, input, hint, err);
  }

  function fill(job) {
    if (!job) return;
    const rest = structuredClone(job);
    delete rest.status;
    for (const f of fields) {
      const v = getPath(rest, f.ptr);
      deletePath(rest, f.ptr);
      const input = inputs[f.key];
      if (f.kind === 'checkbox') input.checked = Boolean(v);
      else if (f.map === 'kv=') input.value = Object.entries(v || {}).map(([k, x]) => `${k}=${x}`).join('\n');
      else if (f.map === 'kv:') input.value = Object.entries(v || {}).map(([k, x]) => `${k}: ${x}`).join('\n');
      else input.value = v === undefined || v === null ? '' : String(v);
    }
    inputs.name.readOnly = true;
    prune(rest);
    inputs.raw.value = Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '';
  }

  // collect builds the spec from the form: the JSON textarea first, the fields over it. Empty
  // fields are left out, so the server's defaults apply. Errors it can find itself (bad JSON, a
  // label line without "=") come back as problem-style {pointer, detail}.
  function collect() {
    const errors = [];
    let spec = {};
    const raw = inputs.raw.value.trim();
    if (raw) {
      try {
        spec = JSON.parse(raw);
        if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new Error('not an object');
      } catch (e) {
        errors.push({ pointer: '#', detail: `Other fields must be one JSON object: ${e.message}`, field: 'raw' });
        spec = {};
      }
    }
    delete spec.status;
    delete spec.name;
    for (const f of fields) {
      if (f.key === 'name') continue;
      const input = inputs[f.key];
      if (f.kind === 'checkbox') {
        if (input.checked) setPath(spec, f.ptr, true);
        else {
          deletePath(spec, f.ptr);
          if (f.key === 'paused') delete spec.pause; // a pause note without a pause means nothing
        }
        continue;
      }
      const v = input.value.trim();
      if (v === '') continue;
      if (f.map === 'kv=' || f.map === 'kv:') {
        const sep = f.map.slice(2);
        const obj = {};
        for (const [i, line] of v.split('\n').entries()) {
          if (!line.trim()) continue;
          const at = line.indexOf(sep);
          if (at <= 0) {
            errors.push({ pointer: `#${f.ptr}`, detail: `Line ${i + 1} is not ${sep === '=' ? 'key=value' : 'Name: value'}.` });
            continue;
          }
          obj[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
        setPath(spec, f.ptr, obj);
      } else if (f.map === 'int') {
        setPath(spec, f.ptr, /^-?\d+$/.test(v) ? Number(v) : v); // not a number: the server says so
      } else {
        setPath(spec, f.ptr, f.kind === 'textarea' ? input.value : v);
      }
    }
    return { spec, errors: errors.map((e) => (e.field ? { ...e, pointer: '#/~raw' } : e)) };
  }

  // fieldFor finds the field a JSON pointer ("#/target/http/url") names: the one at that
  // pointer, else the closest field above it, else the JSON textarea.
  function fieldFor(pointer) {
    const p = String(pointer || '').replace(/^#/, '');
    if (p === '/~raw') return rawField;
    let best = null;
    for (const f of fields) {
      if (p === f.ptr || p.startsWith(`${f.ptr}/`)) {
        if (!best || f.ptr.length > best.ptr.length) best = f;
      }
    }
    if (best) return best;
    // A pointer above the fields ("#/target/http: required"): the first field under it.
    const below = fields.find((f) => f.ptr.startsWith(`${p}/`));
    if (below && p !== '') return below;
    return p === '' ? null : rawField;
  }
}

function unescapeToken(t) {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

function getPath(obj, ptr) {
  let cur = obj;
  for (const t of ptr.split('/').slice(1).map(unescapeToken)) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = cur[t];
  }
  return cur;
}

function setPath(obj, ptr, value) {
  const toks = ptr.split('/').slice(1).map(unescapeToken);
  let cur = obj;
  for (const t of toks.slice(0, -1)) {
    if (!cur[t] || typeof cur[t] !== 'object' || Array.isArray(cur[t])) cur[t] = {};
    cur = cur[t];
  }
  cur[toks[toks.length - 1]] = value;
}

function deletePath(obj, ptr) {
  const toks = ptr.split('/').slice(1).map(unescapeToken);
  let cur = obj;
  for (const t of toks.slice(0, -1)) {
    if (!cur[t] || typeof cur[t] !== 'object') return;
    cur = cur[t];
  }
  delete cur[toks[toks.length - 1]];
}

// prune removes empty objects left behind by deletePath.
function prune(obj) {
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      prune(v);
      if (Object.keys(v).length === 0) delete obj[k];
    }
  }
}
