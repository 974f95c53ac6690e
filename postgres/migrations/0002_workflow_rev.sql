-- weft schema, version 2: the revision of each run's workflow document.
--
-- A run's workflow changes only when RetryRun replaces it (with edited
-- inputs), which counts up workflow_rev: a process that has read a
-- workflow document keeps it, and reads it again only when the revision
-- it has is no longer the run's (documents of large workflows are
-- megabytes, and a run's record is read at every poll).
ALTER TABLE run_docs ADD COLUMN workflow_rev integer NOT NULL DEFAULT 0;
