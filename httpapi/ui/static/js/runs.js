// The runs page: every run, newest first, with status, workflow, times
// and progress; filtered by status and workflow; refreshed every two
// seconds while the tab is visible.

import { api, enc } from './api.js';
import { h, duration, time, debounce } from './format.js';

const PAGE = 50;
const REFRESH_MS = 2000;

export function mount(el, _params, query) {
  let limit = PAGE;
  let timer = 0;
  let stopped = false;
  let inflight = null;
  const status = h('select', { id: 'filter-status', 'aria-label': 'status' },
    ['', 'pending', 'running', 'succeeded', 'failed', 'canceled'].map((s) => h('option', { value: s }, s || 'any status')));
  status.value = query.get('status') || '';
  const wf = h('input', { id: 'filter-workflow', list: 'workflow-ids', placeholder: 'any workflow', 'aria-label': 'workflow', value: query.get('workflow') || '' });
  const ids = h('datalist', { id: 'workflow-ids' });
  const body = h('tbody');
  const more = h('button', { id: 'runs-more', hidden: true, onclick: () => ((limit = Math.min(limit + PAGE, 1000)), refresh()) }, 'Load more');
  const err = h('div', { class: 'error-box', hidden: true });
  const count = h('span', { class: 'muted' });
  el.append(h('section', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'Runs'), h('span', { class: 'spacer' })),
    h('div', { class: 'toolbar' }, h('label', {}, 'Status', status), h('label', {}, 'Workflow', wf, ids), count),
    err,
    h('table', { id: 'runs-table', class: 'list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Run'), h('th', {}, 'Workflow'), h('th', {}, 'Status'), h('th', {}, 'Progress'),
        h('th', {}, 'Started'), h('th', { class: 'num' }, 'Duration'))),
      body),
    more));

  const onFilter = () => {
    limit = PAGE;
    const q = new URLSearchParams();
    if (status.value) q.set('status', status.value);
    if (wf.value.trim()) q.set('workflow', wf.value.trim());
    history.replaceState(null, '', '#/runs' + (q.size ? '?' + q : ''));
    refresh();
  };
  status.addEventListener('change', onFilter);
  wf.addEventListener('input', debounce(onFilter, 300));

  async function refresh() {
    clearTimeout(timer);
    if (inflight) inflight.abort();
    const ctl = (inflight = new AbortController());
    const q = new URLSearchParams({ limit: String(limit) });
    if (status.value) q.set('status', status.value);
    if (wf.value.trim()) q.set('workflow', wf.value.trim());
    try {
      const list = await api('/api/v1/runs?' + q, { signal: ctl.signal });
      if (stopped) return;
      err.hidden = true;
      render(list);
    } catch (e) {
      if (e.name === 'AbortError' || stopped) return;
      err.hidden = false;
      err.textContent = e.message;
    } finally {
      if (inflight === ctl) inflight = null;
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  }
  const tick = () => (document.hidden ? (timer = setTimeout(tick, REFRESH_MS)) : refresh());

  function render(list) {
    const rows = list.runs.map(row);
    if (!rows.length) rows.push(h('tr', {}, h('td', { class: 'empty', colspan: 6 }, 'No runs yet. Start one from a workflow.')));
    body.replaceChildren(...rows);
    more.hidden = !list.next_cursor || limit >= 1000;
    count.textContent = `${list.runs.length}${list.next_cursor ? '+' : ''} runs`;
  }

  (async () => {
    try {
      const wl = await api('/api/v1/workflows?limit=1000');
      ids.replaceChildren(...wl.workflows.map((w) => h('option', { value: w.id })));
    } catch {
      // the list of ids only helps typing
    }
  })();
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (inflight) inflight.abort();
  };
}

function row(r) {
  const go = () => (location.hash = '#/runs/' + enc(r.run_id));
  return h('tr', { dataset: { runId: r.run_id }, onclick: go, tabindex: 0, onkeydown: (e) => e.key === 'Enter' && go() },
    h('td', { class: 'mono' }, h('a', { href: '#/runs/' + enc(r.run_id) }, r.run_id)),
    h('td', { class: 'workflow' }, r.workflow_id, r.workflow_version ? h('span', { class: 'muted' }, ` v${r.workflow_version}`) : null),
    h('td', { class: 'status' }, h('span', { class: 'badge ' + r.status }, r.status)),
    h('td', { class: 'progress' }, progress(r)),
    h('td', {}, time(r.started_at || r.created_at)),
    h('td', { class: 'num' }, r.started_at ? duration(r.duration_ms) : '–'));
}

/** progress draws a run's progress bar: succeeded, failed, running. */
export function progress(r) {
  const total = r.steps_total || 0;
  if (!total) return h('span', { class: 'muted' }, '–');
  const failed = r.steps_failed || 0;
  const done = r.steps_done || 0;
  const running = r.steps_running || 0;
  const pct = (x) => `${(100 * x) / total}%`;
  return [
    h('span', { class: 'pbar', title: `${done} of ${total} steps done, ${failed} failed, ${running} running` },
      h('span', { class: 'ok', style: `width:${pct(done - failed)}` }),
      h('span', { class: 'bad', style: `width:${pct(failed)}` }),
      h('span', { class: 'run', style: `width:${pct(running)}` })),
    h('span', { class: 'progress-label' }, `${done}/${total}`),
  ];
}
