// The dashboard's entry point: a hash router over the pages. Each page
// module exports mount(el, params, query) and returns a function that
// unmounts it (stops its timers and streams).

import { forgetToken, token } from './api.js';
import * as runs from './runs.js';
import * as run from './run.js';
import * as workflows from './workflows.js';
import * as workflow from './workflow.js';
import * as editor from './editor.js';

const routes = [
  [/^\/runs$/, runs, 'runs'],
  [/^\/runs\/([^/]+)$/, run, 'runs'],
  [/^\/workflows$/, workflows, 'workflows'],
  [/^\/workflows\/([^/]+)$/, workflow, 'workflows'],
  [/^\/new$/, editor, 'new'],
];

let unmount = null;

function route() {
  const hash = location.hash.replace(/^#/, '') || '/runs';
  const [path, qs] = hash.split('?');
  const query = new URLSearchParams(qs || '');
  const view = document.getElementById('view');
  for (const [re, page, nav] of routes) {
    const m = path.match(re);
    if (!m) continue;
    if (unmount) unmount();
    unmount = null;
    view.replaceChildren();
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
    const params = m.slice(1).map(decodeURIComponent);
    unmount = page.mount(view, params, query, performance.now()) || null;
    return;
  }
  location.replace('#/runs');
}

window.addEventListener('hashchange', route);
document.getElementById('forget-token').addEventListener('click', () => {
  forgetToken();
  location.reload();
});
document.getElementById('forget-token').hidden = !token();
route();
