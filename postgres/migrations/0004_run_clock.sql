-- weft schema, version 4: each run's latest recorded time.
--
-- A run's recorded times never go backwards (see weft.Store): every write
-- that touches a run records its times at the later of the call's time and
-- the latest time already recorded for the run, which is kept here. A
-- transaction reads it with the run's row, which it locks anyway. NULL for
-- none; runs created before this version start from their last event's
-- time.
ALTER TABLE runs ADD COLUMN last_time timestamptz;
UPDATE runs r SET last_time = (SELECT e.time FROM events e WHERE e.run_seq = r.seq AND e.seq = r.last_event);
