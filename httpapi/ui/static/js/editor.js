// The new-workflow page: paste or write a workflow in JSON or YAML; it is
// validated as you type (POST /api/v1/workflows/validate) and every
// problem is listed with its path and marked at its line; "Register"
// registers it (a new version when the content changed). The draft is
// kept in the tab's session, so that nothing typed is lost on navigation.

import { api, APIError, enc } from './api.js';
import { h, debounce, toast } from './format.js';

const DRAFT_KEY = 'weft.draft';
const EXAMPLE = `{
  "id": "hello_workflow",
  "name": "Hello",
  "params": {"greeting": "hello"},
  "steps": {
    "collect_data": {
      "type": "input",
      "input": {"data": {"message": "{{ params.greeting }}"}}
    },
    "process_data": {
      "type": "process",
      "input": {"rules": [{"type": "transform", "field": "message", "operation": "uppercase"}]},
      "depends_on": ["collect_data"]
    }
  }
}
`;

export function mount(el) {
  const area = h('textarea', { id: 'wf-editor', spellcheck: false, 'aria-label': 'workflow document', placeholder: 'Paste a workflow here (JSON or YAML)…' });
  area.value = sessionStorage.getItem(DRAFT_KEY) || '';
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const format = h('select', { id: 'wf-format', 'aria-label': 'format' }, h('option', { value: '' }, 'detect format'), h('option', { value: 'json' }, 'JSON'), h('option', { value: 'yaml' }, 'YAML'));
  const errors = h('ul', { id: 'wf-errors' });
  const status = h('div', { id: 'wf-status' });
  const validateBtn = h('button', { id: 'wf-validate', onclick: () => validate(true) }, 'Validate');
  const registerBtn = h('button', { id: 'wf-register', class: 'primary', onclick: register }, 'Register');
  el.append(h('section', { class: 'page' },
    h('div', { class: 'toolbar' }, h('h1', {}, 'New workflow'), h('span', { class: 'spacer' }),
      h('button', { onclick: () => ((area.value = EXAMPLE), changed()) }, 'Load example'), format, validateBtn, registerBtn),
    h('p', { class: 'hint' }, 'Problems are checked as you type; click one to go to its line. Registering a document whose content equals the latest version returns that version.'),
    h('div', { class: 'editor' }, gutter, area),
    status, errors));

  let bad = new Map(); // line → message
  let seq = 0;
  let stopped = false;

  const kind = () => format.value || (/^\s*[{[]/.test(area.value) ? 'json' : 'yaml');
  const contentType = () => (kind() === 'json' ? 'application/json' : 'application/yaml');

  function renderGutter() {
    const n = area.value.split('\n').length;
    const parts = [];
    let run = '';
    for (let i = 1; i <= n; i++) {
      if (bad.has(i)) {
        if (run) parts.push(run);
        run = '';
        parts.push(h('span', { class: 'bad', title: bad.get(i) }, String(i)));
        parts.push('\n');
      } else run += i + '\n';
    }
    if (run) parts.push(run);
    gutter.replaceChildren(...parts);
    gutter.scrollTop = area.scrollTop;
  }

  function show(problems, ok) {
    bad = new Map();
    errors.replaceChildren(...problems.map((p) => {
      if (p.line) bad.set(p.line, p.message);
      return h('li', { 'data-path': p.path, 'data-line': p.line || null, 'data-code': p.code, onclick: () => p.line && goTo(p.line, p.column) },
        p.line ? h('span', { class: 'muted' }, `line ${p.line}${p.column ? ':' + p.column : ''} · `) : null,
        h('code', {}, p.path), ' ', p.message,
        p.suggestion ? h('span', { class: 'sugg' }, ` — ${p.suggestion}`) : null);
    }));
    status.replaceChildren(ok ? h('div', { class: 'ok-box' }, ok) : '');
    renderGutter();
  }

  function goTo(line, col) {
    const lines = area.value.split('\n');
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    const end = pos + (lines[line - 1] || '').length;
    area.focus();
    area.setSelectionRange(pos + Math.max(0, (col || 1) - 1), end);
    const lh = 18;
    area.scrollTop = Math.max(0, (line - 5) * lh);
  }

  async function validate(explicit) {
    const text = area.value;
    const my = ++seq;
    if (!text.trim()) {
      show([], '');
      return null;
    }
    try {
      const res = await api('/api/v1/workflows/validate', { method: 'POST', body: text, contentType: contentType() });
      if (stopped || my !== seq) return null;
      if (res.valid) {
        const p = res.plan || {};
        show([], `Valid: workflow ${res.workflow_id}, ${p.steps} steps, ${p.edges} dependencies, ${p.depth} levels, widest level ${p.width}.`);
      } else show(res.errors || [], '');
      return res;
    } catch (e) {
      if (stopped || my !== seq) return null;
      show([{ path: '$', code: e.code, message: e.message }], '');
      if (explicit) toast(e.message, true);
      return null;
    }
  }

  async function register() {
    registerBtn.disabled = true;
    try {
      const doc = await api('/api/v1/workflows', { method: 'POST', body: area.value, contentType: contentType() });
      toast(doc.created ? `Registered ${doc.id} v${doc.version}` : `${doc.id} v${doc.version} already has this content`);
      location.hash = `#/workflows/${enc(doc.id)}?version=${doc.version}`;
    } catch (e) {
      if (e instanceof APIError && Array.isArray(e.details)) {
        // The register answer has no positions: validate for them.
        const res = await validate(true);
        if (!res) show(e.details, '');
      } else show([{ path: '$', code: e.code, message: e.message }], '');
      toast(e.message, true);
    } finally {
      registerBtn.disabled = false;
    }
  }

  const later = debounce(() => validate(false), 500);
  function changed() {
    sessionStorage.setItem(DRAFT_KEY, area.value);
    renderGutter();
    later();
  }
  area.addEventListener('input', changed);
  area.addEventListener('scroll', () => (gutter.scrollTop = area.scrollTop));
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && !e.shiftKey) {
      e.preventDefault();
      area.setRangeText('  ', area.selectionStart, area.selectionEnd, 'end');
      changed();
    }
  });
  format.addEventListener('change', () => validate(false));
  renderGutter();
  if (area.value.trim()) validate(false);
  return () => {
    stopped = true;
  };
}
