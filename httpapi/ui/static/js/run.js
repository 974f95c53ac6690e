// The run page: the run's facts, its DAG coloured by step status and
// updated live from the event stream, cancel and retry, and the step
// panel. The first view reads the run without step outputs and the graph
// in parallel, then follows the events after the snapshot's last one.

import { api, enc } from './api.js';
import { DAG } from './dag.js';
import { h, duration, time, toast, json } from './format.js';
import { follow } from './sse.js';
import { CODE, COLORS, STATUSES, TERMINAL_RUN } from './status.js';
import { StepPanel } from './panel.js';
import { Timeline } from './timeline.js';

const VIEW_KEY = 'weft.runView';

export function mount(el, [id], query, start) {
  let doc = null;
  let dag = null;
  let stopFollow = null;
  let stopped = false;
  let ticker = 0;
  const base = `/api/v1/runs/${enc(id)}`;

  const statusEl = h('span', { id: 'run-status', class: 'badge pending' }, '…');
  const wfLink = h('a', {});
  const facts = h('div', { class: 'facts' });
  const errBox = h('div', { class: 'error-box', hidden: true });
  const cancelBtn = h('button', { id: 'cancel-run', class: 'danger', disabled: true, onclick: cancel }, 'Cancel run');
  const retryBtn = h('button', { id: 'retry-run', disabled: true, onclick: () => retry() }, 'Retry failed steps');
  const result = h('details', { class: 'card', hidden: true }, h('summary', {}, 'Result'), h('pre', { class: 'json', id: 'run-result' }));
  const canvas = h('canvas', { id: 'dag', class: 'dag', role: 'img', 'aria-label': 'workflow graph: drag to pan, wheel or +/- to zoom, 0 to fit, click a step for its details' });
  result.addEventListener('toggle', () => {
    if (result.open && doc) result.querySelector('pre').textContent = json(doc.result);
  });
  const hover = h('div', { class: 'dag-hover', hidden: true });
  const search = h('input', { id: 'dag-search', placeholder: 'find step… (/)', 'aria-label': 'find step' });
  const legend = h('div', { class: 'legend' });
  const stepList = h('div', { id: 'step-list', class: 'step-list', hidden: true });
  const aside = h('aside', { id: 'step-panel', hidden: true });
  // The timeline: rows of steps by start time, built when first shown.
  const tcanvas = h('canvas', { id: 'timeline', class: 'dag', role: 'img', 'aria-label': 'timeline of the steps: wheel scrolls, ctrl+wheel or +/- zooms time, 0 fits, click a row for its step' });
  const thover = h('div', { class: 'dag-hover', hidden: true });
  const twrap = h('div', { class: 'dag-wrap timeline-wrap', hidden: true }, tcanvas, thover,
    h('div', { class: 'dag-tools' }, h('button', { title: 'the whole run (0)', onclick: () => timeline && timeline.fit() }, 'Fit'),
      h('button', { title: 'zoom in (+)', onclick: () => timeline && timeline.zoom(1.4) }, '+'),
      h('button', { title: 'zoom out (−)', onclick: () => timeline && timeline.zoom(1 / 1.4) }, '−')));
  let timeline = null;
  let times = null; // {start, end, wait}: Float64Arrays by node index, ms
  const graphTab = h('button', { id: 'view-graph', class: 'tab', onclick: () => showView('graph') }, 'Graph');
  const timelineTab = h('button', { id: 'view-timeline', class: 'tab', onclick: () => showView('timeline') }, 'Timeline');
  const loading = h('div', { class: 'muted' }, 'Loading…');

  el.append(h('section', { class: 'page' },
    h('div', { class: 'run-head' },
      h('h1', {}, 'Run ', h('span', { class: 'mono' }, id)), statusEl, h('span', {}, wfLink),
      h('span', { class: 'spacer' }), cancelBtn, retryBtn),
    facts, errBox, result, loading,
    h('div', { class: 'tabs', role: 'tablist' }, graphTab, timelineTab),
    h('div', { class: 'run-body' },
      h('div', { class: 'dag-wrap graph-wrap' }, canvas, hover,
        h('div', { class: 'dag-tools' },
          h('button', { title: 'fit the graph (0)', onclick: () => dag && dag.fit() }, 'Fit'),
          h('button', { title: 'zoom in (+)', onclick: () => dag && dag.zoom(1.4) }, '+'),
          h('button', { title: 'zoom out (−)', onclick: () => dag && dag.zoom(1 / 1.4) }, '−'),
          search),
        legend, stepList),
      twrap,
      aside)));
  const gwrap = el.querySelector('.graph-wrap');

  // showView switches between the graph and the timeline.
  function showView(v) {
    const tl = v === 'timeline';
    gwrap.hidden = tl;
    twrap.hidden = !tl;
    graphTab.classList.toggle('active', !tl);
    timelineTab.classList.toggle('active', tl);
    graphTab.setAttribute('aria-selected', String(!tl));
    timelineTab.setAttribute('aria-selected', String(tl));
    sessionStorage.setItem(VIEW_KEY, v);
    if (tl && dag && times) {
      if (!timeline) {
        timeline = new Timeline(tcanvas, {
          onSelect: (stepId) => selectStep(stepId),
          onHover: (text, x, y) => {
            thover.hidden = !text;
            if (!text) return;
            thover.textContent = text;
            thover.style.left = x + 14 + 'px';
            thover.style.top = y + 10 + 'px';
          },
        });
        window.weftTimeline = { rows: () => timeline.rows(), rowRect: (s, scroll) => timeline.rowRect(s, scroll) };
      }
      timeline.setData(timelineData());
      if (panel.step) timeline.select(panel.step, false);
    }
    if (!tl && dag) dag.request();
  }

  function timelineData() {
    return {
      ids: dag.lay.ids, code: dag.code, start: times.start, end: times.end, wait: times.wait,
      runStart: Date.parse(doc.started_at || doc.created_at), runEnd: doc.finished_at ? Date.parse(doc.finished_at) : 0,
    };
  }

  // setTimes takes every step's times from a run document.
  function setTimes() {
    const n = dag.lay.n;
    times = { start: new Float64Array(n).fill(NaN), end: new Float64Array(n).fill(NaN), wait: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const st = doc.steps[dag.lay.ids[i]];
      if (!st) continue;
      if (st.started_at) times.start[i] = Date.parse(st.started_at);
      if (st.finished_at) times.end[i] = Date.parse(st.finished_at);
      times.wait[i] = st.queue_wait_ms || 0;
    }
    if (timeline) timeline.setData(timelineData());
  }

  // eventTimes moves steps' times forward with their events.
  function eventTimes(batch) {
    let moved = false;
    for (const ev of batch) {
      if (!ev.step_id || !ev.time) continue;
      const i = dag.lay.index.get(ev.step_id);
      if (i === undefined) continue;
      const t = Date.parse(ev.time);
      if (ev.type === 'step_started') {
        if (Number.isNaN(times.start[i]) || t > times.start[i]) {
          times.start[i] = t;
          times.end[i] = NaN;
          moved = true;
        }
      } else if (ev.type !== 'step_retrying' || ev.attempt) {
        if (!Number.isNaN(times.start[i]) && t >= times.start[i] && (Number.isNaN(times.end[i]) || t > times.end[i])) {
          times.end[i] = t;
          moved = true;
        }
      }
    }
    if (moved && timeline) timeline.changed();
  }

  const panel = new StepPanel(aside, id, {
    onClose: () => {
      dag && dag.select(null, true);
      setStepInURL(null);
    },
    onSelect: (stepId) => selectStep(stepId),
    onRetry: (inputs) => retry(inputs),
  });

  // "/" finds a step, as in many tools.
  const slash = (e) => {
    if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || '')) {
      e.preventDefault();
      search.focus();
    }
  };
  document.addEventListener('keydown', slash);
  search.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || !dag) return;
    const found = dag.find(search.value.trim());
    if (!found) return toast(`no step matches "${search.value.trim()}"`, true);
    selectStep(found);
    dag.center(dag.lay.index.get(found));
  });

  function selectStep(stepId) {
    if (!dag) return;
    dag.select(stepId, true);
    if (timeline) timeline.select(stepId, false);
    openStep(stepId);
  }

  function openStep(stepId) {
    setStepInURL(stepId);
    if (stepId) panel.show(stepId, dag.lay);
    else panel.hide();
  }

  function setStepInURL(stepId) {
    const url = '#/runs/' + enc(id) + (stepId ? '?step=' + enc(stepId) : '');
    if (location.hash !== url) history.replaceState(null, '', url);
  }

  async function load() {
    try {
      const [d, g] = await Promise.all([api(base + '?outputs=false'), api(base + '/graph')]);
      if (stopped) return;
      loading.remove();
      doc = d;
      dag = new DAG(canvas, {
        start,
        onSelect: (stepId) => openStep(stepId),
        onFrame: (changed) => {
          renderCounts();
          if (changed && changed.size && timeline) timeline.request();
          if (changed && panel.step && changed.has(panel.step)) panel.refreshSoon();
        },
        onHover: (stepId, x, y, i) => {
          hover.hidden = !stepId;
          if (!stepId) return;
          hover.textContent = `${stepId} · ${dag.lay.types[i]} · ${dag.status(stepId)}`;
          hover.style.left = x + 14 + 'px';
          hover.style.top = y + 10 + 'px';
        },
      });
      window.weftDAG = {
        status: (s) => dag.status(s),
        rect: (s) => dag.rect(s),
        select: (s) => (dag.select(s, true), openStep(s), true),
        stats: () => dag.stats(),
        pan: (dx, dy) => dag.pan(dx, dy),
        zoom: (f) => dag.zoom(f),
        fit: () => dag.fit(),
        run: () => doc,
      };
      dag.setGraph(g);
      dag.setStatuses(doc.steps);
      setTimes();
      renderHead();
      showView(sessionStorage.getItem(VIEW_KEY) === 'timeline' ? 'timeline' : 'graph');
      const step = query.get('step');
      if (step && dag.lay.index.has(step)) selectStep(step);
      subscribe();
    } catch (e) {
      if (stopped) return;
      loading.remove();
      errBox.hidden = false;
      errBox.textContent = e.status === 404 ? `There is no run ${id}.` : e.message;
    }
  }

  function subscribe() {
    if (stopFollow) stopFollow();
    stopFollow = null;
    if (TERMINAL_RUN.has(doc.status)) return;
    stopFollow = follow(id, doc.last_event || 0, {
      onEvents: (batch) => {
        dag.enqueue(batch);
        eventTimes(batch);
        for (const ev of batch) {
          if (ev.step_id) continue;
          if (ev.type === 'run_retried') resync();
          else refreshHead();
        }
      },
      onEnd: () => refreshHead(),
      onError: (e) => toast(e.message, true),
    });
  }

  // refreshHead reads the run again for its facts (not its steps' outputs).
  let headTimer = 0;
  function refreshHead() {
    clearTimeout(headTimer);
    headTimer = setTimeout(async () => {
      try {
        const d = await api(base + '?outputs=false');
        if (stopped) return;
        doc = d;
        // A run's end is final: its snapshot is the truth for every step
        // (steps canceled with their run have no events of their own).
        if (TERMINAL_RUN.has(doc.status)) {
          dag.setStatuses(doc.steps);
          setTimes();
        }
        renderHead();
      } catch (e) {
        toast(e.message, true);
      }
    }, 150);
  }

  // resync reads the whole snapshot again (after a retry) and follows on.
  async function resync() {
    const d = await api(base + '?outputs=false');
    if (stopped) return;
    doc = d;
    dag.setStatuses(doc.steps);
    setTimes();
    renderHead();
    subscribe();
    if (panel.step) panel.refreshSoon();
  }

  function renderHead() {
    const s = doc.status;
    statusEl.className = 'badge ' + s;
    statusEl.textContent = s;
    wfLink.textContent = doc.workflow_id + (doc.workflow_version ? ` v${doc.workflow_version}` : '');
    wfLink.href = doc.workflow_version ? `#/workflows/${enc(doc.workflow_id)}?version=${doc.workflow_version}` : `#/runs?workflow=${enc(doc.workflow_id)}`;
    cancelBtn.disabled = TERMINAL_RUN.has(s);
    retryBtn.disabled = !(s === 'failed' || s === 'canceled');
    errBox.hidden = !doc.error;
    if (doc.error) errBox.textContent = `${doc.error.code}: ${doc.error.message}`;
    result.hidden = doc.result === null || doc.result === undefined;
    // A big run's result is formatted only when opened.
    const pre = result.querySelector('pre');
    pre.textContent = '';
    if (!result.hidden && result.open) pre.textContent = json(doc.result);
    clearInterval(ticker);
    if (!TERMINAL_RUN.has(s) && doc.started_at) ticker = setInterval(renderCounts, 1000);
    renderCounts();
  }

  function renderCounts() {
    if (!doc || !dag) return;
    const m = doc.metrics || {};
    const running = !TERMINAL_RUN.has(doc.status);
    const dur = doc.started_at ? (running ? Date.now() - Date.parse(doc.started_at) : m.duration_ms) : null;
    const c = dag.counts;
    const done = c[CODE.succeeded] + c[CODE.failed] + c[CODE.skipped] + c[CODE.canceled];
    facts.replaceChildren(...[
      fact('Started', time(doc.started_at || doc.created_at)),
      fact('Duration', duration(dur)),
      fact('Steps', `${done}/${dag.lay.n} done`),
      fact('Running', c[CODE.running] + c[CODE.retrying]),
      c[CODE.failed] ? fact('Failed', c[CODE.failed]) : null,
      fact('Retries', m.retries ?? 0),
      fact('Peak parallel', m.peak_parallel ?? 0),
    ].filter(Boolean));
    const key = STATUSES.map((st) => c[CODE[st]]).join(',');
    if (key !== legendKey) {
      legendKey = key;
      legend.replaceChildren(...STATUSES.filter((_, k) => c[k] > 0).map((st) =>
        h('button', { class: 'legend-item', 'data-status': st, title: `list the ${st} steps`, onclick: () => openList(st) },
          h('i', { style: `background:${COLORS[CODE[st]]}` }), `${st} ${c[CODE[st]]}`)),
      h('span', {}, h('i', { class: 'crit' }), 'critical path'));
      if (listStatus) renderListSoon();
    }
  }

  // The list of the steps in one status, opened from the legend: the way
  // to the failed steps of a 10,000-step run.
  let legendKey = '';
  let listStatus = null;
  let listTimer = 0;
  const LIST_MAX = 500;
  function openList(st) {
    listStatus = listStatus === st ? null : st;
    renderList();
  }
  function renderListSoon() {
    if (!listTimer) listTimer = setTimeout(() => ((listTimer = 0), renderList()), 1000);
  }
  function renderList() {
    if (!listStatus || !dag) {
      stepList.hidden = true;
      stepList.replaceChildren();
      return;
    }
    const { ids, total } = dag.idsWithStatus(listStatus, LIST_MAX);
    stepList.hidden = false;
    stepList.replaceChildren(
      h('div', { class: 'list-head' }, h('span', { class: 'badge ' + listStatus }, listStatus), ` ${total} step${total === 1 ? '' : 's'}`,
        h('span', { class: 'spacer' }), h('button', { class: 'close', 'aria-label': 'close', onclick: () => openList(listStatus) }, '✕')),
      h('ul', {}, ids.map((s) => h('li', { 'data-step': s }, h('a', {
        href: '#', onclick: (e) => {
          e.preventDefault();
          selectStep(s);
          dag.center(dag.lay.index.get(s));
        },
      }, s)))),
      total > ids.length ? h('p', { class: 'hint' }, `The first ${ids.length} in topological order; find others by id.`) : null);
  }

  async function cancel() {
    cancelBtn.disabled = true;
    try {
      await api(base + '/cancel', { method: 'POST' });
      toast('Run canceled');
      refreshHead();
    } catch (e) {
      toast(e.message, true);
      cancelBtn.disabled = false;
    }
  }

  async function retry(inputs) {
    retryBtn.disabled = true;
    try {
      await api(base + '/retry', { method: 'POST', body: inputs ? { inputs } : {} });
      toast('Run retried from its failed steps');
      await resync();
    } catch (e) {
      toast(e.message, true);
      retryBtn.disabled = false;
    }
  }

  load();
  return () => {
    stopped = true;
    document.removeEventListener('keydown', slash);
    clearInterval(ticker);
    clearTimeout(headTimer);
    clearTimeout(listTimer);
    if (stopFollow) stopFollow();
    if (dag) dag.destroy();
    if (timeline) timeline.destroy();
    delete window.weftTimeline;
    panel.destroy();
    delete window.weftDAG;
  };
}

function fact(k, v) {
  return h('span', {}, k + ' ', h('b', {}, String(v)));
}
