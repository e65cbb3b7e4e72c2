-- The newest block of each bar series moves to a table of its own (SQLite). Never
-- edit once applied: add a new numbered file.
--
-- Why: `bar_blocks` is clustered by series, so a live feed that adds a bar or a few
-- to each of 500 series rewrites the newest block of every one of them, each on a page
-- of its own: ~500 pages (2 MB of WAL, then again through the checkpoint) per commit.
-- Here those partly filled blocks sit side by side, a few per page, and a commit
-- rewrites ~100 pages; a block moves to `bar_blocks` once, when a newer one starts.
--
-- Invariant (src/sqlite/bars.rs): a series with bars has exactly one row here, its
-- newest block; every block of the series in `bar_blocks` is older.
-- * series: the `bar_blocks.key` prefix of the series, key >> 29, i.e.
--   (instrument_id << 3) | interval code;
-- * block:  the block number (the key's low 29 bits, less 2^28);
-- * data:   the block, in the format of `bar_blocks.data`.
CREATE TABLE bar_tails (
    series INTEGER PRIMARY KEY,
    block  INTEGER NOT NULL,
    data   BLOB    NOT NULL
);

INSERT INTO bar_tails (series, block, data)
SELECT key >> 29, (key & 536870911) - 268435456, data
FROM bar_blocks
WHERE key IN (SELECT max(key) FROM bar_blocks GROUP BY key >> 29);

DELETE FROM bar_blocks
WHERE key IN (SELECT (series << 29) | (block + 268435456) FROM bar_tails);
