// The page: a hash router over the views, the sign-in dialog, and the header.

import { api, ApiError, getToken, setToken, setUnauthorizedHandler } from './api.js';
import { h, toast } from './dom.js';
import { listView } from './views/list.js';
import { jobView } from './views/job.js';
import { formView } from './views/form.js';
import { clusterView } from './views/cluster.js';

// Routes: #/jobs, #/jobs/NAME, #/jobs/NAME/edit, #/new, #/cluster. Each view gets
// {main, signal, params, query} and draws into main; signal aborts when the route changes, which
// stops its requests and timers. A view may set ctx.keepOnSignIn to be left as it is (a
// half-filled form) when the user has to sign in, rather than stopped and drawn again after.
const routes = [
  { re: /^\/(?:jobs\/?)?$/, nav: 'jobs', view: listView },
  { re: /^\/new$/, nav: 'new', view: (ctx) => formView(ctx, null) },
  { re: /^\/jobs\/([^/]+)\/edit$/, nav: 'jobs', view: (ctx) => formView(ctx, ctx.params[0]) },
  { re: /^\/jobs\/([^/]+)$/, nav: 'jobs', view: jobView },
  { re: /^\/cluster$/, nav: 'cluster', view: clusterView },
];

const main = document.getElementById('main');
let current = null; // {controller, ctx} of the view shown

function parseHash() {
  const hash = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const [path, qs] = hash.split('?');
  return { path: path || '/', query: new URLSearchParams(qs || '') };
}

function notFound({ main: m }) {
  m.replaceChildren(h('h1', { tabindex: -1 }, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/jobs' }, 'Go to the jobs.')));
}

async function render() {
  const { path, query } = parseHash();
  let route = null;
  let params = [];
  for (const r of routes) {
    const m = r.re.exec(path);
    if (m) {
      try {
        params = m.slice(1).map(decodeURIComponent);
      } catch {
        continue; // a malformed %-escape: no such page
      }
      route = r;
      break;
    }
  }
  if (current) current.controller.abort();
  const controller = new AbortController();
  const ctx = { main, signal: controller.signal, params, query, keepOnSignIn: false };
  current = { controller, ctx };
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (route && a.dataset.nav === route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  const focusHeading = () => {
    const h1 = main.querySelector('h1');
    if (h1 && !main.contains(document.activeElement)) h1.focus({ preventScroll: false });
  };
  try {
    await (route ? route.view(ctx) : notFound(ctx));
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
  }
  if (!controller.signal.aborted) focusHeading();
}

// navigate goes to a route; from views: navigate('#/jobs/tick').
export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

// The sign-in dialog. The API answered 401: ask for a token, check it against GET /v1/cluster,
// keep it in sessionStorage. A failed check says so without echoing the token.
const loginDlg = document.getElementById('login');
const loginForm = document.getElementById('login-form');
const loginInput = document.getElementById('login-token');
const loginError = document.getElementById('login-error');
const signOut = document.getElementById('sign-out');

function showSignOut() {
  signOut.hidden = !getToken();
}

function askToken(err) {
  if (loginDlg.open) return;
  loginError.textContent = getToken() ? 'The token was not accepted (it may have expired or been revoked). Enter another.' : '';
  if (err instanceof ApiError && getToken()) setToken('');
  showSignOut();
  loginInput.value = '';
  loginDlg.showModal();
  loginInput.focus();
  if (current && !current.ctx.keepOnSignIn) {
    current.controller.abort(); // stop its refreshes: they would only ask again
    main.replaceChildren(
      h('h1', { tabindex: -1 }, 'Sign in required'),
      h('p', {}, 'This schedulerd asks for an API token before it shows its jobs.'),
      h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => askToken() }, 'Sign in')));
  }
}

loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = loginInput.value.trim();
  if (!token) {
    loginError.textContent = 'Enter a token.';
    loginInput.focus();
    return;
  }
  setToken(token);
  loginError.textContent = '';
  try {
    await api.cluster(undefined, { quiet401: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken('');
      loginError.textContent = 'That token was not accepted.';
      loginInput.focus();
      return;
    }
    // 403 and the like: the token is known; what it may do shows as the user goes.
  }
  loginInput.value = '';
  loginDlg.close();
  showSignOut();
  toast('Signed in.');
  if (current && current.ctx.keepOnSignIn) return;
  render();
});

document.getElementById('login-cancel').addEventListener('click', () => loginDlg.close());

signOut.addEventListener('click', () => {
  setToken('');
  showSignOut();
  toast('Signed out.');
  render();
});

// The skip link moves focus to the content without touching the route in the hash.
document.getElementById('skip-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

setUnauthorizedHandler(askToken);
window.addEventListener('hashchange', render);
showSignOut();
render();
