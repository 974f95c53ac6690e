-- weft schema, version 3: autovacuum settings for the tables that work as
-- queues.
--
-- Every claim and every outcome updates a steps row (the status is in the
-- predicates of the queue indexes, so the update is never HOT) and leaves
-- a dead entry at the front of steps_ready, which claims walk over until a
-- vacuum removes it; a runs row is updated by every transaction of its
-- run. Vacuum them after a small share of changes, not PostgreSQL's
-- default 20%.
ALTER TABLE steps SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE runs SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 200);
