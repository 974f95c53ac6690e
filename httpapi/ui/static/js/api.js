// The JSON API client of the dashboard: every request carries the bearer
// token kept in sessionStorage; a 401 opens the token dialog once (however
// many requests are waiting on it) and the requests are sent again.

const TOKEN_KEY = 'weft.token';

/** An error answer of the API: {"error": {"code", "message", "details"}}. */
export class APIError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let asking = null; // the pending token prompt, shared by concurrent requests

/** token returns the token of this browser tab, or "". */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** forgetToken drops the token of this tab. */
export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('forget-token').hidden = true;
}

/**
 * askToken opens the token dialog and resolves once a token was entered.
 * @param {boolean} wrong whether the token we sent was refused
 */
export function askToken(wrong) {
  if (asking) return asking;
  const dlg = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-reason').textContent = wrong
    ? 'The server refused this token. Enter its API token.'
    : 'This server needs its API token.';
  asking = new Promise((resolve) => {
    const form = document.getElementById('token-form');
    const done = (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      if (!v) return;
      sessionStorage.setItem(TOKEN_KEY, v);
      document.getElementById('forget-token').hidden = false;
      input.value = '';
      form.removeEventListener('submit', done);
      dlg.removeEventListener('cancel', keep);
      dlg.close();
      asking = null;
      resolve(v);
    };
    // Escape would leave the page without data: keep the dialog open.
    const keep = (ev) => ev.preventDefault();
    form.addEventListener('submit', done);
    dlg.addEventListener('cancel', keep);
  });
  if (!dlg.open) dlg.showModal();
  input.focus();
  return asking;
}

/** headers returns the request headers with the token, if any. */
export function authHeaders(extra = {}) {
  const h = { ...extra };
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

/**
 * api sends a request to the API and returns the decoded JSON answer.
 * body: an object (sent as JSON) or a string (sent as is, with
 * opts.contentType). Throws APIError for error answers and TypeError for
 * network failures.
 */
export async function api(path, opts = {}) {
  const { method = 'GET', body, contentType, signal } = opts;
  for (;;) {
    const headers = authHeaders({ Accept: 'application/json' });
    let payload = body;
    if (body !== undefined && typeof body !== 'string') {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    } else if (body !== undefined) {
      headers['Content-Type'] = contentType || 'application/json';
    }
    const res = await fetch(path, { method, body: payload, headers, signal, cache: 'no-store' });
    connection(true);
    if (res.status === 401) {
      await askToken(token() !== '');
      continue;
    }
    if (!res.ok) throw await errorOf(res);
    if (res.status === 204) return null;
    return res.json();
  }
}

/** errorOf reads an error answer into an APIError. */
export async function errorOf(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: a proxy's page, say
  }
  const e = body && body.error;
  if (e && e.message) return new APIError(res.status, e.code, e.message, e.details);
  return new APIError(res.status, 'http_' + res.status, `the server answered ${res.status} ${res.statusText}`);
}

/** connection shows whether the server answers. */
export function connection(ok, what) {
  const el = document.getElementById('conn');
  if (!el) return;
  el.classList.toggle('bad', !ok);
  el.textContent = ok ? '' : what || 'server unreachable, retrying…';
}

/** enc percent-encodes one path segment. */
export const enc = encodeURIComponent;
