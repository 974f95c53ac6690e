// The workflows page: registered workflows, latest versions first.

import { api, enc } from './api.js';
import { h, time } from './format.js';

export function mount(el) {
  const body = h('tbody', {}, h('tr', {}, h('td', { class: 'empty', colspan: 5 }, 'Loading…')));
  const err = h('div', { class: 'error-box', hidden: true });
  let cursor = '';
  const more = h('button', { hidden: true, onclick: () => load(true) }, 'Load more');
  el.append(h('section', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'Workflows'), h('span', { class: 'spacer' }), h('a', { class: 'button', href: '#/new' }, 'New workflow')),
    err,
    h('table', { id: 'workflows-table', class: 'list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Workflow'), h('th', {}, 'Name'), h('th', { class: 'num' }, 'Latest version'), h('th', { class: 'num' }, 'Steps'), h('th', {}, 'Registered'))),
      body),
    more));
  let stopped = false;
  async function load(append) {
    try {
      const q = new URLSearchParams({ limit: '200' });
      if (append && cursor) q.set('cursor', cursor);
      const list = await api('/api/v1/workflows?' + q);
      if (stopped) return;
      cursor = list.next_cursor;
      more.hidden = !cursor;
      const rows = list.workflows.map(row);
      if (append) body.append(...rows);
      else body.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { class: 'empty', colspan: 5 }, 'No workflows registered yet.'))]));
    } catch (e) {
      err.hidden = false;
      err.textContent = e.message;
    }
  }
  load(false);
  return () => (stopped = true);
}

function row(w) {
  const href = '#/workflows/' + enc(w.id);
  return h('tr', { dataset: { workflowId: w.id }, onclick: () => (location.hash = href) },
    h('td', { class: 'mono' }, h('a', { href }, w.id)),
    h('td', {}, w.name || h('span', { class: 'muted' }, '–')),
    h('td', { class: 'num' }, 'v' + w.version),
    h('td', { class: 'num' }, String(w.steps)),
    h('td', {}, time(w.created_at)));
}
