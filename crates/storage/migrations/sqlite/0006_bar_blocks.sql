-- Bars move from one row per bar to one row per block of bars (src/bar_blocks.rs):
-- one b-tree entry per bar made the database's per-entry work the whole cost of ingest
-- and range reads. `key` (the rowid) packs (instrument_id, interval, block) so that it
-- sorts like that tuple: the table b-tree is clustered by series and time, and a range
-- read is one ordered scan. `data` holds the block's bars as fixed-size records.
-- No foreign key, as before: an instrument's blocks are deleted with it explicitly.
--
-- The rows of the old `bars` table are converted into blocks by the migration runner
-- right after this file, in the same transaction (src/sqlite/bars.rs,
-- `convert_row_bars`: SQLite has no SQL to write binary floats), which then drops
-- `bars`.
CREATE TABLE bar_blocks (
    key  INTEGER PRIMARY KEY,
    data BLOB    NOT NULL
);
