-- weft schema, version 1.
--
-- Times are Unix nanoseconds (INTEGER), NULL for none; durations are
-- nanoseconds. Statuses are the weft.RunStatus and weft.StepStatus strings.
-- A run is known inside the database by its seq (creation order); its steps
-- by id = run seq << 32 | node index, so that a step is one rowid lookup and
-- a run's steps one rowid range, in node order.
--
-- The writer works on runs in memory and writes the rows it changes (see
-- package sqlite); the queue of a run's ready steps is rebuilt from their
-- status when it reads a run, and the queue across runs from
-- runs_claimable and steps_retry.

CREATE TABLE runs (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT, -- creation order: FIFO claims, ListRuns order and cursor
    id                TEXT    NOT NULL UNIQUE,
    workflow_id       TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    idempotency_key   TEXT    UNIQUE,                    -- NULL when none
    max_parallel      INTEGER NOT NULL DEFAULT 0,        -- 0: no cap
    deadline          INTEGER,
    result            BLOB,
    error_code        TEXT,                              -- NULL: no error
    error_message     TEXT,
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    step_count        INTEGER NOT NULL,
    peak_parallel     INTEGER NOT NULL DEFAULT 0,
    running           INTEGER NOT NULL DEFAULT 0,        -- steps running
    ready             INTEGER NOT NULL DEFAULT 0,        -- steps ready
    remaining         INTEGER NOT NULL,                  -- steps not yet terminal
    failed            INTEGER NOT NULL DEFAULT 0,        -- steps failed
    last_event        INTEGER NOT NULL DEFAULT 0,        -- seq of the run's last event
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens      INTEGER NOT NULL DEFAULT 0,
    -- A run Claim may take steps from: not over, steps ready, room under
    -- its max_parallel.
    claimable         INTEGER GENERATED ALWAYS AS (
        status IN ('pending', 'running') AND ready > 0 AND (max_parallel <= 0 OR running < max_parallel)
    ) VIRTUAL
);

CREATE INDEX runs_claimable ON runs (seq) WHERE claimable;
CREATE INDEX runs_workflow  ON runs (workflow_id, seq);
CREATE INDEX runs_status    ON runs (status, seq);
CREATE INDEX runs_created   ON runs (created_at);

CREATE TABLE steps (
    id                INTEGER PRIMARY KEY,               -- run_seq << 32 | idx
    run_seq           INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    idx               INTEGER NOT NULL,                  -- node index
    step_id           TEXT    NOT NULL,
    type              TEXT    NOT NULL,
    pool              TEXT    NOT NULL DEFAULT '',
    priority          INTEGER NOT NULL DEFAULT 0,
    trigger           TEXT    NOT NULL DEFAULT '',
    sink              INTEGER NOT NULL DEFAULT 0,
    deps_total        INTEGER NOT NULL DEFAULT 0,
    status            TEXT    NOT NULL,
    reason            TEXT    NOT NULL DEFAULT '',
    attempts          INTEGER NOT NULL DEFAULT 0,
    output            BLOB,
    error_code        TEXT,                              -- NULL: no error
    error_message     TEXT,
    worker            TEXT    NOT NULL DEFAULT '',
    lease_until       INTEGER,
    ready_at          INTEGER,
    retry_at          INTEGER,
    started_at        INTEGER,
    first_started_at  INTEGER,
    finished_at       INTEGER,
    queue_wait        INTEGER NOT NULL DEFAULT 0,
    run_time          INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens      INTEGER NOT NULL DEFAULT 0,
    -- Outcomes of the dependencies so far (weft.DepCounts), kept exact while
    -- the step is pending (they decide it); frozen when it is decided.
    deps_succeeded    INTEGER NOT NULL DEFAULT 0,
    deps_failed       INTEGER NOT NULL DEFAULT 0,
    deps_skipped      INTEGER NOT NULL DEFAULT 0,
    deps_canceled     INTEGER NOT NULL DEFAULT 0,
    deps_skipped_for_failure INTEGER NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX steps_step_id ON steps (run_seq, step_id);
-- Steps waiting out a retry delay, by time (rare: an index that costs
-- nothing to the steps that never retry).
CREATE INDEX steps_retry ON steps (retry_at) WHERE status = 'retrying';

-- What a run executes, written once with it and apart from the runs row
-- (which changes with every step): its params and workflow (JSON, as
-- weft.Run has them), and its graph, every step's dependencies in
-- weft.PlanStep.Deps order, as CSR arrays of 4-byte little-endian words:
-- step i depends on deps[dep_offsets[i] : dep_offsets[i+1]].
CREATE TABLE run_plans (
    run_seq     INTEGER PRIMARY KEY REFERENCES runs (seq) ON DELETE CASCADE,
    params      BLOB,
    workflow    BLOB,
    dep_offsets BLOB NOT NULL,
    deps        BLOB NOT NULL
);

CREATE TABLE events (
    run_seq       INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,                      -- from 1 in each run
    step_id       TEXT    NOT NULL DEFAULT '',           -- '' for run events
    type          TEXT    NOT NULL,
    time          INTEGER NOT NULL,
    attempt       INTEGER NOT NULL DEFAULT 0,
    worker        TEXT    NOT NULL DEFAULT '',
    delay         INTEGER NOT NULL DEFAULT 0,
    reason        TEXT    NOT NULL DEFAULT '',
    error_code    TEXT,
    error_message TEXT,
    data          BLOB,
    PRIMARY KEY (run_seq, seq)
) WITHOUT ROWID;
