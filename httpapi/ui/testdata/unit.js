// Unit tests of the dashboard's modules, run in Chromium by
// TestJSUnits (unit_test.go): table-driven checks of the event rule, the
// layout, the SSE parser and the formatting; results in window.__unit.

import { stepTransition, progressKey, CODE } from '/ui/js/status.js';
import { layout, hit, NODE_W, NODE_H } from '/ui/js/layout.js';
import { read } from '/ui/js/sse.js';
import { duration } from '/ui/js/format.js';

const failures = [];
let checks = 0;
function eq(name, got, want) {
  checks++;
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) failures.push(`${name}: got ${g}, want ${w}`);
}

// stepTransition: an event applies only when it moves the step forward.
const S = CODE;
const transitions = [
  // [name, event, [code, attempts], want]
  ['start from pending', { type: 'step_started', attempt: 1 }, [S.pending, 0], [S.running, 1]],
  ['start from ready', { type: 'step_started', attempt: 1 }, [S.ready, 0], [S.running, 1]],
  ['succeed', { type: 'step_succeeded', attempt: 1 }, [S.running, 1], [S.succeeded, 1]],
  ['replayed start after success', { type: 'step_started', attempt: 1 }, [S.succeeded, 1], null],
  ['replayed success', { type: 'step_succeeded', attempt: 1 }, [S.succeeded, 1], null],
  ['retrying', { type: 'step_retrying', attempt: 1 }, [S.running, 1], [S.retrying, 1]],
  ['second attempt', { type: 'step_started', attempt: 2 }, [S.retrying, 1], [S.running, 2]],
  ['old retrying after second start', { type: 'step_retrying', attempt: 1 }, [S.running, 2], null],
  ['fail after retries', { type: 'step_failed', attempt: 3 }, [S.running, 3], [S.failed, 3]],
  ['skip without attempt', { type: 'step_skipped' }, [S.pending, 0], [S.skipped, 0]],
  ['cancel a running step without attempt', { type: 'step_canceled' }, [S.running, 2], [S.canceled, 2]],
  ['cancel replayed on a done step', { type: 'step_canceled' }, [S.succeeded, 1], null],
  ['cancel of a running attempt', { type: 'step_canceled', attempt: 2 }, [S.running, 2], [S.canceled, 2]],
  ['retried run: failed step runs again', { type: 'step_started', attempt: 2 }, [S.pending, 1], [S.running, 2]],
  ['a run event', { type: 'run_started' }, [S.pending, 0], null],
];
for (const [name, ev, [code, att], want] of transitions) eq('stepTransition ' + name, stepTransition(ev, code, att), want);
eq('progressKey orders attempts first', progressKey(S.succeeded, 1) < progressKey(S.running, 2), true);

// layout: levels in columns, a wide level wrapped, hits found.
{
  const nodes = [{ id: 'a', type: 'input', level: 0, deps: [] }];
  for (let i = 0; i < 100; i++) nodes.push({ id: 'f' + i, type: 'process', level: 1, deps: [0] });
  nodes.push({ id: 'z', type: 'output', level: 2, deps: Array.from({ length: 100 }, (_, i) => i + 1) });
  const lay = layout({ nodes, critical_path: [0, 1, 101] }, { maxRows: 30 });
  eq('levels', lay.levels.length, 3);
  eq('wrapped level columns', lay.levels[1].cols, 4);
  eq('wrapped level rows', lay.levels[1].rows, 30);
  eq('columns left to right', lay.x[0] < lay.x[1] && lay.x[1] < lay.x[101], true);
  eq('every node found at its box', nodes.every((_, i) => hit(lay, lay.x[i] + NODE_W / 2, lay.y[i] + NODE_H / 2) === i), true);
  eq('nothing between levels', hit(lay, lay.x[0] + NODE_W + 5, lay.y[0] + 5), -1);
  // 100 edges in, 100 out, bundled: a→block, block→z, two bus bars.
  eq('bundled segments', lay.segs.length / 4, 4);
  eq('critical bundles', Array.from(lay.segKind).filter((k) => k === 1).length, 2);
  eq('critical nodes', Array.from(lay.crit), nodes.map((_, i) => (i === 0 || i === 1 || i === 101 ? 1 : 0)));
  eq('dependents', Array.from(lay.dependents(0)).length, 100);
}
{
  // Barycentre: children follow their parents' order.
  const nodes = [
    { id: 'p0', type: 't', level: 0, deps: [] },
    { id: 'p1', type: 't', level: 0, deps: [] },
    { id: 'c_of_p1', type: 't', level: 1, deps: [1] },
    { id: 'c_of_p0', type: 't', level: 1, deps: [0] },
  ];
  const lay = layout({ nodes, critical_path: [0, 3] });
  eq('barycentre order', lay.y[3] < lay.y[2], true);
  eq('straight edges', [lay.y[3] === lay.y[0], lay.y[2] === lay.y[1]], [true, true]);
}
eq('empty graph', layout({ nodes: [], critical_path: [] }).n, 0);

// read: the SSE parser, across chunk boundaries, comments and the end.
async function sse(chunks) {
  const enc = new TextEncoder();
  const body = new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
  const got = [];
  const ended = await read(body, (batch) => got.push(...batch.map((e) => e.seq)));
  return [got, ended];
}
eq('sse whole', await sse(['retry: 1000\n\nid: 1\nevent: a\ndata: {"seq":1}\n\n', 'id: 2\ndata: {"seq":2}\n\n']), [[1, 2], false]);
eq('sse split inside a line', await sse(['id: 1\nda', 'ta: {"seq"', ':1}\n', '\n']), [[1], false]);
eq('sse CRLF and comments', await sse([': keep-alive\r\n\r\nid: 3\r\ndata: {"seq":3}\r\n\r\n']), [[3], false]);
eq('sse end', await sse(['data: {"seq":4}\n\nevent: end\ndata: {}\n\ndata: {"seq":5}\n\n']), [[4], true]);
eq('sse malformed skipped', await sse(['data: {nope\n\ndata: {"seq":6}\n\n']), [[6], false]);

// duration
const durations = [[0, '0 ms'], [0.25, '0.25 ms'], [850, '850 ms'], [1234, '1.23 s'], [12345, '12.3 s'], [245000, '4m 05s'], [7380000, '2h 03m'], [null, '–']];
for (const [ms, want] of durations) eq(`duration(${ms})`, duration(ms), want);

window.__unit = { checks, failures };
