// A registered workflow: its versions, the definition of one, its DAG and
// a form to start a run with parameters (one field per declared param,
// typed by its default value).

import { api, enc } from './api.js';
import { DAG } from './dag.js';
import { h, time, json, toast } from './format.js';

export function mount(el, [id], query) {
  let stopped = false;
  let dag = null;
  const err = h('div', { class: 'error-box', hidden: true });
  const versionSel = h('select', { id: 'workflow-version', 'aria-label': 'version' });
  const meta = h('div', { class: 'muted' });
  const def = h('pre', { id: 'workflow-definition', class: 'json' }, 'Loading…');
  const canvas = h('canvas', { class: 'dag', 'aria-label': 'workflow graph' });
  const form = h('form', { id: 'start-run', class: 'params' });
  el.append(h('section', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'Workflow ', h('span', { class: 'mono' }, id)), h('label', {}, 'Version', versionSel),
      h('span', { class: 'spacer' }), h('a', { class: 'button', href: '#/runs?workflow=' + enc(id) }, 'Runs of this workflow')),
    meta, err,
    h('div', { class: 'wf-grid' },
      h('div', { class: 'card' }, h('h2', {}, 'Start a run'), form, h('h2', {}, 'Graph'), h('div', { class: 'dag-preview' }, canvas)),
      h('div', { class: 'card' }, h('h2', {}, 'Definition'), def))));

  versionSel.addEventListener('change', () => {
    history.replaceState(null, '', `#/workflows/${enc(id)}?version=${versionSel.value}`);
    load(Number(versionSel.value));
  });

  async function load(version) {
    try {
      const q = version ? `?version=${version}` : '';
      const [doc, graph] = await Promise.all([api(`/api/v1/workflows/${enc(id)}${q}`), api(`/api/v1/workflows/${enc(id)}/graph${q}`)]);
      if (stopped) return;
      err.hidden = true;
      const versions = doc.versions || [doc];
      versionSel.replaceChildren(...versions.map((v) => h('option', { value: v.version }, `v${v.version} · ${time(v.created_at)}`)));
      versionSel.value = String(doc.version);
      meta.textContent = [doc.name, doc.description, `${doc.steps} steps`, `digest ${doc.digest.slice(0, 12)}`].filter(Boolean).join(' · ');
      def.textContent = json(doc.definition);
      renderForm(doc);
      if (!dag) dag = new DAG(canvas, { statuses: false, onSelect: () => {} });
      dag.setGraph(graph);
    } catch (e) {
      if (stopped) return;
      err.hidden = false;
      err.textContent = e.status === 404 ? `There is no workflow ${id}${version ? ' version ' + version : ''}.` : e.message;
      def.textContent = '';
    }
  }

  function renderForm(doc) {
    const params = (doc.definition && doc.definition.params) || {};
    const fields = Object.entries(params).map(([name, dflt]) => paramField(name, dflt));
    const maxPar = h('input', { type: 'number', min: 0, name: 'max_parallel', placeholder: String(doc.definition.max_parallel || 'no cap') });
    const key = h('input', { name: 'idempotency_key', placeholder: 'optional' });
    const submit = h('button', { id: 'start-run-submit', class: 'primary', type: 'submit' }, `Start run of v${doc.version}`);
    const msg = h('div', { class: 'error-box', hidden: true });
    form.replaceChildren(
      fields.length ? h('div', { class: 'hint' }, 'Parameters (defaults from the definition):') : h('div', { class: 'hint' }, 'This workflow declares no parameters.'),
      ...fields.map((f) => f.label),
      h('div', { class: 'row' }, h('label', {}, 'Max parallel', maxPar), h('label', {}, 'Idempotency key', key)),
      msg, h('div', {}, submit));
    form.onsubmit = async (e) => {
      e.preventDefault();
      msg.hidden = true;
      const body = { workflow_id: doc.id, version: doc.version };
      try {
        if (fields.length) body.params = Object.fromEntries(fields.map((f) => [f.name, f.value()]));
      } catch (ex) {
        msg.hidden = false;
        msg.textContent = ex.message;
        return;
      }
      if (maxPar.value) body.max_parallel = Number(maxPar.value);
      if (key.value.trim()) body.idempotency_key = key.value.trim();
      submit.disabled = true;
      try {
        const run = await api('/api/v1/runs', { method: 'POST', body });
        toast(`Run ${run.run_id} started`);
        location.hash = '#/runs/' + enc(run.run_id);
      } catch (ex) {
        msg.hidden = false;
        msg.textContent = ex.message + (ex.details ? '\n' + ex.details.map((d) => `${d.path}: ${d.message}`).join('\n') : '');
        submit.disabled = false;
      }
    };
  }

  load(Number(query.get('version')) || 0);
  return () => {
    stopped = true;
    if (dag) dag.destroy();
  };
}

/**
 * paramField returns an input for a parameter, typed by its default:
 * text, number, checkbox, or JSON for objects, arrays and null.
 */
function paramField(name, dflt) {
  let input;
  let value;
  const attrs = { 'data-param': name, name };
  if (typeof dflt === 'boolean') {
    input = h('input', { ...attrs, type: 'checkbox', checked: dflt });
    value = () => input.checked;
  } else if (typeof dflt === 'number') {
    input = h('input', { ...attrs, type: 'number', step: 'any', value: String(dflt) });
    value = () => {
      const n = Number(input.value);
      if (input.value.trim() === '' || isNaN(n)) throw new Error(`parameter ${name}: expected a number`);
      return n;
    };
  } else if (typeof dflt === 'string') {
    input = h('input', { ...attrs, value: dflt });
    value = () => input.value;
  } else {
    input = h('textarea', { ...attrs, rows: 3, spellcheck: false }, json(dflt));
    value = () => {
      try {
        return JSON.parse(input.value);
      } catch (e) {
        throw new Error(`parameter ${name}: expected JSON (${e.message})`);
      }
    };
  }
  return { name, value, label: h('label', {}, name, input) };
}
