-- weft schema, version 1 (PostgreSQL).
--
-- Times are timestamptz (microseconds), NULL for none; durations are
-- bigint nanoseconds. JSON values (params, workflows, outputs, results,
-- event data) are bytea, kept byte for byte. Statuses are the
-- weft.RunStatus and weft.StepStatus strings, plus one of the store's own
-- for steps: 'queued', a step its dependencies allow to run that waits for
-- room under its run's max_parallel (reported as 'ready').
--
-- A run is known inside the database by its seq (creation order: FIFO
-- claims, ListRuns order and cursor); its steps by key = run_seq << 32 +
-- idx, idx being the node index, so that a set of steps is one key list
-- and a run's steps one key range, in node order. (Statements name steps
-- by key or key range, which only the primary key serves: their plans do
-- not depend on the planner's statistics, which say little of how many
-- steps one run has.) Every change to a run's steps, counters or events
-- is made with its runs row locked (SELECT ... FOR NO KEY UPDATE), which
-- serializes the run across processes; see package postgres.

CREATE TABLE runs (
    seq               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                text        NOT NULL CONSTRAINT runs_id_unique UNIQUE,
    workflow_id       text        NOT NULL,
    workflow_version  integer     NOT NULL DEFAULT 0,
    status            text        NOT NULL,
    idempotency_key   text        CONSTRAINT runs_idempotency_key_unique UNIQUE, -- NULL: none
    max_parallel      integer     NOT NULL DEFAULT 0,                            -- 0: no cap
    deadline          timestamptz,
    result            bytea,
    error_code        text,                                                      -- NULL: no error
    error_message     text,
    created_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    step_count        integer     NOT NULL,
    remaining         integer     NOT NULL,            -- steps not yet terminal
    failed            integer     NOT NULL DEFAULT 0,  -- steps finished as failed
    ready             integer     NOT NULL DEFAULT 0,  -- steps 'ready' (admitted, claimable)
    running           integer     NOT NULL DEFAULT 0,  -- steps 'running'
    peak_parallel     integer     NOT NULL DEFAULT 0,
    last_event        bigint      NOT NULL DEFAULT 0,  -- seq of the run's last event
    prompt_tokens     bigint      NOT NULL DEFAULT 0,
    completion_tokens bigint      NOT NULL DEFAULT 0,
    total_tokens      bigint      NOT NULL DEFAULT 0
) WITH (fillfactor = 70); -- room for HOT updates: the counters change at every step

CREATE INDEX runs_workflow ON runs (workflow_id, seq);
CREATE INDEX runs_status   ON runs (status, seq);

-- What a run executes, written with it and apart from its runs row (which
-- changes at every step): its params and workflow (JSON).
CREATE TABLE run_docs (
    run_seq  bigint PRIMARY KEY REFERENCES runs (seq) ON DELETE CASCADE,
    params   bytea,
    workflow bytea
);

CREATE TABLE steps (
    key               bigint      PRIMARY KEY,         -- run_seq << 32 + idx
    run_seq           bigint      NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    idx               integer     NOT NULL,            -- node index
    step_id           text        NOT NULL,
    type              text        NOT NULL,
    pool              text        NOT NULL DEFAULT '',
    priority          integer     NOT NULL DEFAULT 0,
    trigger           text        NOT NULL DEFAULT '',
    sink              boolean     NOT NULL DEFAULT false,
    deps              integer[]   NOT NULL,            -- weft.PlanStep.Deps, in order
    dependents        integer[]   NOT NULL,            -- the steps that depend on this one
    deps_total        integer     NOT NULL,
    status            text        NOT NULL,
    reason            text        NOT NULL DEFAULT '',
    attempts          integer     NOT NULL DEFAULT 0,
    output            bytea,
    error_code        text,                            -- NULL: no error
    error_message     text,
    worker            text        NOT NULL DEFAULT '',
    lease_until       timestamptz,
    ready_at          timestamptz,
    retry_at          timestamptz,
    started_at        timestamptz,
    first_started_at  timestamptz,
    finished_at       timestamptz,
    queue_wait        bigint      NOT NULL DEFAULT 0,
    run_time          bigint      NOT NULL DEFAULT 0,
    prompt_tokens     bigint      NOT NULL DEFAULT 0,
    completion_tokens bigint      NOT NULL DEFAULT 0,
    total_tokens      bigint      NOT NULL DEFAULT 0,
    -- Outcomes of the dependencies so far (weft.DepCounts), exact while the
    -- step is pending (they decide it); frozen once it is decided.
    deps_succeeded           integer NOT NULL DEFAULT 0,
    deps_failed              integer NOT NULL DEFAULT 0,
    deps_skipped             integer NOT NULL DEFAULT 0,
    deps_canceled            integer NOT NULL DEFAULT 0,
    deps_skipped_for_failure integer NOT NULL DEFAULT 0
) WITH (fillfactor = 80);

-- Steps by id (the id first: lookups by run use key ranges).
CREATE UNIQUE INDEX steps_step_id ON steps (step_id, run_seq);
-- A run's sinks, read when it ends.
CREATE INDEX steps_sinks    ON steps (run_seq, idx) WHERE sink;
-- The claim queue: ready steps, runs oldest first, then priority, then
-- node order.
CREATE INDEX steps_ready    ON steps (run_seq, priority DESC, idx) WHERE status = 'ready';
-- Steps waiting for room under their run's max_parallel, in the order
-- they are admitted.
CREATE INDEX steps_queued   ON steps (run_seq, priority DESC, idx) WHERE status = 'queued';
-- Steps waiting out a retry delay, and running steps by lease, for
-- ReclaimExpired.
CREATE INDEX steps_retrying ON steps (retry_at) WHERE status = 'retrying';
CREATE INDEX steps_running  ON steps (lease_until) WHERE status = 'running';

CREATE TABLE events (
    run_seq       bigint      NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    seq           bigint      NOT NULL,                -- from 1 in each run
    step_id       text        NOT NULL DEFAULT '',     -- '' for run events
    type          text        NOT NULL,
    time          timestamptz NOT NULL,
    attempt       integer     NOT NULL DEFAULT 0,
    worker        text        NOT NULL DEFAULT '',
    delay         bigint      NOT NULL DEFAULT 0,
    reason        text        NOT NULL DEFAULT '',
    error_code    text,
    error_message text,
    data          bytea,
    PRIMARY KEY (run_seq, seq)
);

-- Every registered version of every workflow (weft.WorkflowStore). Ids
-- compare as bytes (COLLATE "C"), the order ListWorkflows lists them in.
-- A new version is numbered one past the id's latest under an advisory
-- lock on the id; digest is the hex SHA-256 the caller computed of
-- definition.
CREATE TABLE workflows (
    id          text COLLATE "C" NOT NULL,
    version     integer     NOT NULL,                  -- from 1 for each id
    digest      text        NOT NULL,
    name        text        NOT NULL DEFAULT '',
    description text        NOT NULL DEFAULT '',
    steps       integer     NOT NULL,
    definition  bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (id, version)
);
