-- Bars move from one row per bar to one row per block of bars (src/bar_blocks.rs):
-- one heap tuple and index entry per bar made PostgreSQL's per-row work the whole cost
-- of ingest and range reads. A block holds the bars of one series within one time
-- bucket (`block`: bar start div (32 × interval)) as fixed-size records; the primary
-- key clusters them by series and time, so a range read is one index range scan.
-- Blocks stay below the TOAST threshold in normal use (32 bars ≈ 1.4 kB), so they are
-- stored inline. No foreign key, as before: an instrument's blocks are deleted with it
-- explicitly.
--
-- The rows of the old `bars` table are converted into blocks by the migration runner
-- right after this file, in the same transaction (src/postgres/bars.rs,
-- `convert_row_bars`, the same encoder as every write), which then drops `bars`.
CREATE TABLE bar_blocks (
    instrument_id INTEGER  NOT NULL,
    interval      SMALLINT NOT NULL,
    block         INTEGER  NOT NULL,
    data          BYTEA    NOT NULL,
    PRIMARY KEY (instrument_id, interval, block)
);
