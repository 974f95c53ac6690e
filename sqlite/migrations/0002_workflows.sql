-- weft schema, version 2: the workflow registry, and the registered
-- version of the workflow each run started from.

-- Every registered version of every workflow (weft.WorkflowStore). A new
-- version is numbered one past the id's latest, by the one writer; digest
-- is the hex SHA-256 the caller computed of definition (JSON), compared
-- with the latest version's to tell whether the content changed.
CREATE TABLE workflows (
    id          TEXT    NOT NULL,
    version     INTEGER NOT NULL,                      -- from 1 for each id
    digest      TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    steps       INTEGER NOT NULL,
    definition  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,                      -- Unix nanoseconds
    PRIMARY KEY (id, version)
);

-- weft.Run.WorkflowVersion: 0 for a workflow submitted inline (and for
-- every run from before this version).
ALTER TABLE runs ADD COLUMN workflow_version INTEGER NOT NULL DEFAULT 0;
