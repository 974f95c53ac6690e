// Step and run statuses: their codes in the DAG's typed arrays, colours
// (the same as style.css) and what events do to them.

export const STATUSES = ['pending', 'ready', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'canceled'];
export const CODE = Object.fromEntries(STATUSES.map((s, i) => [s, i]));
export const COLORS = ['#b9c0c9', '#8fa3bf', '#2f6fde', '#d98e04', '#2e9d57', '#c9372c', '#9aa1ab', '#6d5bb0'];
/** TEXT_ON is the label colour on each status' fill. */
export const TEXT_ON = ['#1d232b', '#fff', '#fff', '#fff', '#fff', '#fff', '#1d232b', '#fff'];

export const TERMINAL_RUN = new Set(['succeeded', 'failed', 'canceled']);

/** terminal reports whether a step status code is final. */
export function terminal(code) {
  return code >= CODE.succeeded;
}

// The status an event leaves its step in, and its phase within an attempt:
// an event applies only when (attempt, phase) moves the step forward, so
// that events already reflected in a snapshot do nothing when replayed.
const EVENT = {
  step_started: [CODE.running, 1],
  step_retrying: [CODE.retrying, 2],
  step_succeeded: [CODE.succeeded, 3],
  step_failed: [CODE.failed, 3],
  step_skipped: [CODE.skipped, 3],
  step_canceled: [CODE.canceled, 3],
};

/** progressKey orders a step's states: attempt × 4 + phase. */
export function progressKey(code, attempts) {
  let phase = 0;
  if (code === CODE.running) phase = 1;
  else if (code === CODE.retrying) phase = 2;
  else if (terminal(code)) phase = 3;
  return attempts * 4 + phase;
}

/**
 * stepTransition returns [status code, attempts] after applying a step
 * event to a step in state (code, attempts), or null when the event is
 * already reflected (older than the state).
 */
export function stepTransition(ev, code, attempts) {
  const t = EVENT[ev.type];
  if (!t) return null;
  const [next, phase] = t;
  const att = ev.attempt || 0;
  if (att === 0) {
    // skipped or canceled without an attempt of its own: final unless
    // the step already is.
    return terminal(code) ? null : [next, attempts];
  }
  if (att * 4 + phase <= progressKey(code, attempts)) return null;
  return [next, Math.max(att, attempts)];
}
