// Formatting helpers shared by the pages: escaping, times, durations, JSON.

/** h builds an element: h('td', {class: 'x', onclick}, child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    // The CSP forbids style attributes; CSSOM properties are allowed.
    else if (k === 'style') el.style.cssText = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** duration formats milliseconds: 850 ms, 12.3 s, 4m 05s, 2h 03m. */
export function duration(ms) {
  if (ms === undefined || ms === null || isNaN(ms)) return '–';
  if (ms < 1) return ms === 0 ? '0 ms' : `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** time formats an RFC 3339 time in the browser's zone, with the date if not today. */
export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  const today = new Date();
  const t = d.toLocaleTimeString([], { hour12: false });
  return d.toDateString() === today.toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
}

const MAX_JSON = 200 * 1024;

/**
 * jsonText formats a value as indented JSON text for a <pre>: {text, cut}.
 * Huge values are cut (cut true; the full text stays downloadable).
 */
export function jsonText(v) {
  if (v === undefined || v === null) return { text: 'null', cut: false };
  const s = JSON.stringify(v, null, 2);
  if (s.length <= MAX_JSON) return { text: s, cut: false };
  return { text: s.slice(0, MAX_JSON) + `\n… (${(s.length / 1024).toFixed(0)} KiB in all; download to see the rest)`, cut: true };
}

/** json is jsonText's text. */
export function json(v) {
  return jsonText(v).text;
}

/** download offers text as a file. */
export function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** toast shows a short message at the bottom of the page. */
export function toast(msg, bad) {
  const el = document.getElementById('toast');
  el.textContent = msg;
  el.classList.toggle('bad', !!bad);
  el.hidden = false;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => (el.hidden = true), bad ? 8000 : 3500);
}

/** debounce returns fn delayed until calls stop for ms. */
export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
