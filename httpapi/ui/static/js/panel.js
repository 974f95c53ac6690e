// The step panel: one step of a run in detail (GET /api/v1/runs/{id}/steps/
// {step}): status, input, output, error, every attempt with its delay and
// error, queue wait and run time; a failed step's input can be edited and
// the run retried with it.

import { api, enc } from './api.js';
import { h, duration, time, jsonText, download, debounce } from './format.js';

export class StepPanel {
  constructor(aside, runId, { onClose, onSelect, onRetry }) {
    this.aside = aside;
    this.runId = runId;
    this.onClose = onClose;
    this.onSelect = onSelect;
    this.onRetry = onRetry;
    this.step = null;
    this.seq = 0;
    this.refreshSoon = debounce(() => this.step && this.load(), 250);
  }

  show(stepId, lay) {
    this.step = stepId;
    this.lay = lay;
    this.aside.hidden = false;
    this.aside.replaceChildren(this.head(stepId, null), h('p', { class: 'muted' }, 'Loading…'));
    this.load();
  }

  hide() {
    this.step = null;
    this.aside.hidden = true;
    this.aside.replaceChildren();
  }

  destroy() {
    this.step = null;
  }

  head(stepId, status) {
    return h('div', { class: 'panel-head' },
      h('h2', { 'data-field': 'id', class: 'mono' }, stepId),
      status ? h('span', { class: 'badge ' + status, 'data-field': 'status' }, status) : null,
      h('button', { class: 'link-dark', title: 'close (Esc)', 'aria-label': 'close', onclick: () => (this.hide(), this.onClose()) }, '✕'));
  }

  async load() {
    const stepId = this.step;
    const seq = ++this.seq;
    let d;
    try {
      d = await api(`/api/v1/runs/${enc(this.runId)}/steps/${enc(stepId)}`);
    } catch (e) {
      if (seq !== this.seq) return;
      this.aside.replaceChildren(this.head(stepId, null), h('div', { class: 'error-box' }, e.message));
      return;
    }
    if (seq !== this.seq || this.step !== stepId) return;
    this.render(d);
  }

  render(d) {
    const history = d.attempts || [];
    const lay = this.lay;
    const link = (id) => h('a', { href: '#', onclick: (e) => (e.preventDefault(), this.onSelect(id)) }, id);
    const i = lay ? lay.index.get(d.id) : undefined;
    const dependents = i === undefined ? [] : Array.from(lay.dependents(i), (k) => lay.ids[k]);
    const list = (ids) => (ids.length ? ids.slice(0, 50).flatMap((x, k) => (k ? [', ', link(x)] : [link(x)])).concat(ids.length > 50 ? [` and ${ids.length - 50} more`] : []) : '–');
    const out = [
      this.head(d.id, d.status),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Type'), h('dd', {}, d.type),
        d.reason ? [h('dt', {}, 'Reason'), h('dd', {}, d.reason)] : null,
        h('dt', {}, 'Attempts'), h('dd', { 'data-field': 'attempt-count' }, String(d.attempt_count)),
        h('dt', {}, 'Queue wait'), h('dd', { 'data-field': 'queue-wait' }, duration(d.queue_wait_ms)),
        h('dt', {}, 'Run time'), h('dd', { 'data-field': 'run-time' }, duration(d.duration_ms)),
        h('dt', {}, 'Started'), h('dd', {}, time(d.started_at)),
        h('dt', {}, 'Finished'), h('dd', {}, time(d.finished_at)),
        h('dt', {}, 'Depends on'), h('dd', {}, list(d.depends_on || [])),
        h('dt', {}, 'Dependents'), h('dd', {}, list(dependents)),
        d.ai_tokens && d.ai_tokens.total_tokens ? [h('dt', {}, 'AI tokens'), h('dd', {}, `${d.ai_tokens.total_tokens} (${d.ai_tokens.prompt_tokens} in, ${d.ai_tokens.completion_tokens} out)`)] : null),
    ];
    if (d.error) out.push(h('h3', {}, 'Error'), h('div', { class: 'error-box', 'data-field': 'error' }, `${d.error.code}: ${d.error.message}`));
    else out.push(h('div', { 'data-field': 'error', hidden: true }));
    out.push(h('h3', {}, 'Output'), this.jsonBlock(d.output, 'output', `${d.id}-output.json`));
    // The input its attempt got, templates evaluated; as written too when
    // that differs.
    const resolved = d.resolved_input !== undefined && JSON.stringify(d.resolved_input) !== JSON.stringify(d.input);
    if (resolved) {
      out.push(h('h3', {}, 'Input ', h('span', { class: 'muted' }, '(templates evaluated)')), this.jsonBlock(d.resolved_input, 'input', `${d.id}-input.json`),
        h('details', {}, h('summary', { class: 'hint' }, 'As written'), this.jsonBlock(d.input, 'input-written', `${d.id}-input-written.json`)));
    } else out.push(h('h3', {}, 'Input'), this.jsonBlock(d.input, 'input', `${d.id}-input.json`));
    out.push(h('h3', {}, `Attempts (${history.length}${d.attempts_truncated ? ', newest' : ''})`), this.attempts(history));
    if (d.status === 'failed' || d.status === 'canceled') out.push(this.editor(d));
    this.aside.replaceChildren(...out);
  }

  jsonBlock(v, field, name) {
    const { text, cut } = jsonText(v);
    const pre = h('pre', { class: 'json', 'data-field': field }, text);
    if (!cut) return pre;
    return h('div', {}, pre, h('button', { onclick: () => download(name, JSON.stringify(v, null, 2)) }, 'Download all'));
  }

  attempts(list) {
    if (!list.length) return h('div', {}, h('table', { class: 'attempts', 'data-field': 'attempts' }, h('tbody')), h('p', { class: 'muted' }, 'Not started.'));
    return h('table', { class: 'attempts', 'data-field': 'attempts' },
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Status'), h('th', {}, 'Started'), h('th', {}, 'Took'), h('th', {}, 'Then waited'), h('th', {}, 'Error'))),
      h('tbody', {}, list.map((a) => h('tr', { 'data-attempt': a.attempt },
        h('td', {}, String(a.attempt)),
        h('td', {}, h('span', { class: 'badge ' + a.status }, a.status)),
        h('td', { title: a.worker ? 'worker ' + a.worker : '' }, time(a.started_at)),
        h('td', {}, duration(a.duration_ms)),
        h('td', {}, a.delay_ms ? duration(a.delay_ms) : '–'),
        h('td', {}, a.error ? `${a.error.code}: ${a.error.message}` : '–')))));
  }

  // editor lets the user retry the run with this step's input edited.
  editor(d) {
    const area = h('textarea', { rows: 8, spellcheck: false, 'aria-label': 'new input' }, d.input === null || d.input === undefined ? '{}' : JSON.stringify(d.input, null, 2));
    const msg = h('div', { class: 'hint' }, 'Retries the run from its failed steps with this input for the step.');
    const go = h('button', {
      onclick: () => {
        let v;
        try {
          v = JSON.parse(area.value);
        } catch (e) {
          msg.textContent = 'Not JSON: ' + e.message;
          msg.className = 'error-box';
          return;
        }
        if (v === null || typeof v !== 'object' || Array.isArray(v)) {
          msg.textContent = 'The input must be a JSON object.';
          msg.className = 'error-box';
          return;
        }
        this.onRetry({ [d.id]: v });
      },
    }, 'Retry with this input');
    return h('details', {}, h('summary', {}, 'Edit input and retry'), area, msg, go);
  }
}
