// The cluster: who leads with which fencing token, the members, and the replica that answered.

import { api, describeError } from '../api.js';
import { fmtMillis, fmtTime, h, poll, replace, rowHeader, td } from '../dom.js';

const refreshMs = 5000;

export async function clusterView(ctx) {
  const { main, signal } = ctx;
  const error = h('div', { class: 'error-box', role: 'alert', hidden: true });
  const body = h('div', { id: 'cluster' });
  main.append(h('h1', { tabindex: -1 }, 'Cluster'), error, body);

  async function refresh() {
    try {
      const { data } = await api.cluster(signal);
      error.hidden = true;
      draw(data);
    } catch (e) {
      if (e.name === 'AbortError') return;
      error.replaceChildren(describeError(e));
      error.hidden = false;
    }
  }

  function draw(c) {
    const leader = c.leader;
    const self = c.replica || {};
    const members = c.members || [];
    replace(body,
      h('section', { 'aria-labelledby': 'leader-title' },
        h('h2', { id: 'leader-title' }, 'Leader'),
        leader
          ? h('dl', { class: 'summary', id: 'leader' },
            h('div', {}, h('dt', {}, 'Replica'), h('dd', {}, leader.id || '—')),
            h('div', {}, h('dt', {}, 'URL'), h('dd', { class: 'wrap' }, leader.url || '—')),
            h('div', {}, h('dt', {}, 'Fencing token'), h('dd', { id: 'leader-token' }, leader.token !== undefined ? String(leader.token) : '—')),
            extra(leader, ['id', 'url', 'token']))
          : h('p', { class: 'warning', id: 'leader' }, 'No replica leads right now: nothing is being scheduled. A replica takes over within the session TTL.')),
      h('section', { 'aria-labelledby': 'members-title' },
        h('h2', { id: 'members-title' }, `Members (${members.length})`),
        members.length === 0 ? h('p', { class: 'empty' }, 'No members registered.') : h('table', { class: 'responsive' },
          h('thead', {}, h('tr', {}, ['Replica', 'URL', 'Role'].map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', {}, members.map((m) => h('tr', {},
            rowHeader('Replica', m.id),
            td('URL', m.url || '—'),
            td('Role', [
              leader && leader.id === m.id ? 'leader' : 'follower',
              m.id === self.id ? ' · this replica' : '',
            ].join('')))))),
      ),
      h('section', { 'aria-labelledby': 'self-title' },
        h('h2', { id: 'self-title' }, 'This replica'),
        h('p', { class: 'hint' }, 'The replica that served this page and answers its API calls.'),
        h('dl', { class: 'summary', id: 'replica' },
          h('div', {}, h('dt', {}, 'Replica'), h('dd', {}, self.id || '—')),
          h('div', {}, h('dt', {}, 'URL'), h('dd', { class: 'wrap' }, self.url || '—')),
          uptime(self),
          extra(self, ['id', 'url', 'token', 'started', 'startedAt', 'uptime']))));
  }

  await refresh();
  poll(refresh, refreshMs, signal);
}

// uptime shows how long the replica has run, when the API says when it started.
function uptime(r) {
  const started = r.started || r.startedAt;
  if (started && !Number.isNaN(new Date(started).getTime())) {
    return h('div', {}, h('dt', {}, 'Up for'), h('dd', { title: fmtTime(started) }, fmtMillis(Date.now() - new Date(started).getTime())));
  }
  if (r.uptime) return h('div', {}, h('dt', {}, 'Up for'), h('dd', {}, String(r.uptime)));
  return null;
}

// extra lists fields of a member this page does not know by name (version, zone…), as text.
function extra(obj, known) {
  return Object.entries(obj || {}).filter(([k]) => !known.includes(k)).map(([k, v]) =>
    h('div', {}, h('dt', {}, k), h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))));
}
