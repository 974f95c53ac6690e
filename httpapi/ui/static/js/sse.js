// A Server-Sent Events reader over fetch (EventSource cannot send the
// bearer token). It follows a run's events from a sequence number,
// reconnects with the last id it saw after a drop, and stops at the
// server's "end" event.

import { askToken, authHeaders, connection, enc, errorOf, token } from './api.js';

/**
 * follow streams the events of run id after sequence number `after`.
 * onEvents(batch) gets the events decoded from each chunk the server sent,
 * in order; onEnd() is called once the run is over (the "end" event);
 * onError(err) when the run cannot be followed (404). Returns a function
 * that stops following.
 */
export function follow(id, after, { onEvents, onEnd, onError }) {
  const ctl = new AbortController();
  let last = after;
  let stopped = false;
  (async () => {
    let backoff = 500;
    while (!stopped) {
      try {
        const res = await fetch(`/api/v1/runs/${enc(id)}/events?after=${last}`, {
          headers: authHeaders({ Accept: 'text/event-stream' }),
          signal: ctl.signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          await askToken(token() !== '');
          continue;
        }
        if (!res.ok) {
          const err = await errorOf(res);
          if (res.status === 404 || res.status === 400) {
            onError && onError(err);
            return;
          }
          throw err;
        }
        connection(true);
        backoff = 500;
        const ended = await read(res.body, (batch) => {
          last = batch[batch.length - 1].seq;
          onEvents(batch);
        });
        if (ended) {
          onEnd && onEnd();
          return;
        }
      } catch (err) {
        if (stopped || err.name === 'AbortError') return;
        connection(false, 'event stream lost, reconnecting…');
      }
      if (stopped) return;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 5000);
    }
  })();
  return () => {
    stopped = true;
    ctl.abort();
  };
}

/**
 * read parses an SSE body, calling emit with each chunk's events. It
 * resolves true when the server sent "end", false when the stream closed
 * without it.
 */
export async function read(body, emit) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let ev = { id: '', event: '', data: '' };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buf += dec.decode(value, { stream: true });
    const batch = [];
    let start = 0;
    let nl;
    while ((nl = buf.indexOf('\n', start)) >= 0) {
      let line = buf.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (ev.event === 'end') {
          if (batch.length) emit(batch);
          reader.cancel().catch(() => {});
          return true;
        }
        if (ev.data !== '') {
          try {
            batch.push(JSON.parse(ev.data));
          } catch {
            // a malformed event: skip it rather than stop following
          }
        }
        ev = { id: '', event: '', data: '' };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'data') ev.data = ev.data ? ev.data + '\n' + val : val;
      else if (field === 'event') ev.event = val;
      else if (field === 'id') ev.id = val;
    }
    buf = buf.slice(start);
    if (batch.length) emit(batch);
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
