// The HTTP API client: JSON in and out, problem+json errors as ApiError, the bearer token from
// sessionStorage. URLs are relative to the page, so a path prefix in front of schedulerd works.
// The token is never put in a URL and never logged.

const tokenKey = 'schedulerd.token';

export function getToken() {
  try {
    return sessionStorage.getItem(tokenKey) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  if (token) sessionStorage.setItem(tokenKey, token);
  else sessionStorage.removeItem(tokenKey);
}

// ApiError is a failed call: status 0 when the server could not be reached; problem is the
// problem+json body (type, title, status, detail, errors[]), or a stand-in built from the status.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  // kind is the fragment of the problem type: "invalid-job", "version-mismatch"…
  get kind() {
    const t = this.problem.type || '';
    const i = t.indexOf('#problem-');
    return i >= 0 ? t.slice(i + '#problem-'.length) : '';
  }

  // fieldErrors are the problem's errors[]: {pointer: "#/schedule", detail}.
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

let onUnauthorized = () => {};

// setUnauthorizedHandler names what to do when a call answers 401 (show the sign-in dialog).
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// request calls the API. Options: body (sent as JSON), headers, signal, and quiet401 (do not
// ask for a token on 401: the caller handles it). It resolves to {status, data, etag} for a
// 2xx and rejects with an ApiError otherwise.
export async function request(method, path, { body, headers, signal, quiet401 } = {}) {
  const hdrs = { Accept: 'application/json, application/problem+json', ...headers };
  if (body !== undefined) hdrs['Content-Type'] = 'application/json';
  const token = getToken();
  if (token) hdrs.Authorization = `Bearer ${token}`;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers: hdrs,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'same-origin',
      redirect: 'error',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { title: 'Cannot reach schedulerd', detail: 'the server did not answer; is it running?' });
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const problem = data && typeof data === 'object' ? data : { title: resp.statusText, detail: text.slice(0, 500) };
    if (!problem.status) problem.status = resp.status;
    const err = new ApiError(resp.status, problem);
    if (resp.status === 401 && !quiet401) onUnauthorized(err);
    throw err;
  }
  return { status: resp.status, data, etag: resp.headers.get('ETag') };
}

const enc = encodeURIComponent;

export const api = {
  // listJobs: q is a name prefix, labels a list of "key=value" or "key" selectors (all must match).
  listJobs: ({ q, labels = [], limit, cursor } = {}, signal) => {
    const p = new URLSearchParams();
    if (q) p.set('q', q);
    for (const l of labels) p.append('label', l);
    if (limit) p.set('limit', String(limit));
    if (cursor) p.set('cursor', cursor);
    const qs = p.toString();
    return request('GET', `v1/jobs${qs ? `?${qs}` : ''}`, { signal });
  },
  getJob: (name, signal) => request('GET', `v1/jobs/${enc(name)}`, { signal }),
  putJob: (name, spec, { ifMatch, createOnly } = {}) => {
    const headers = {};
    if (ifMatch) headers['If-Match'] = ifMatch;
    if (createOnly) headers['If-None-Match'] = '*';
    return request('PUT', `v1/jobs/${enc(name)}`, { body: spec, headers });
  },
  deleteJob: (name, ifMatch) => request('DELETE', `v1/jobs/${enc(name)}`, { headers: ifMatch ? { 'If-Match': ifMatch } : {} }),
  validate: (spec, signal) => request('POST', 'v1/jobs:validate', { body: spec, signal, quiet401: true }),
  runs: (name, limit, signal) => request('GET', `v1/jobs/${enc(name)}/runs?limit=${limit}`, { signal }),
  pause: (name, body) => request('POST', `v1/jobs/${enc(name)}/pause`, { body }),
  resume: (name) => request('POST', `v1/jobs/${enc(name)}/resume`, { body: {} }),
  trigger: (name, body) => request('POST', `v1/jobs/${enc(name)}/trigger`, { body }),
  cancelRun: (name, run) => request('POST', `v1/jobs/${enc(name)}/runs/${enc(run)}/cancel`, { body: {} }),
  cluster: (signal, opts = {}) => request('GET', 'v1/cluster', { signal, ...opts }),
};

// describeError turns a failed call into one sentence for people.
export function describeError(err) {
  if (!(err instanceof ApiError)) return `Something went wrong: ${err && err.message ? err.message : err}`;
  const detail = err.problem.detail || err.problem.title || '';
  switch (err.status) {
    case 0:
      return 'Cannot reach schedulerd: the server did not answer. Is it running?';
    case 401:
      return 'Sign in to do this: the API needs a token.';
    case 403:
      return `Your role may not do this. ${detail}`.trim();
    default:
      return detail ? `${err.problem.title || 'Error'}: ${detail}` : `${err.problem.title || 'Error'} (HTTP ${err.status})`;
  }
}
