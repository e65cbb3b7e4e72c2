-- Dividends and splits reported by providers (SQLite). Never edit once applied:
-- add a new numbered file.
--
-- One row per instrument, kind and date: a provider repeating an event replaces
-- it (a corrected amount) and keeps recorded_at, when it was first seen.
-- * amount: dividend per share in the instrument's currency, canonical decimal text.
-- * numerator, denominator: a split of numerator new shares for denominator old
--   ones, canonical decimal text.
-- * recorded_at: epoch microseconds.

CREATE TABLE corporate_events (
    instrument_id INTEGER NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('dividend', 'split')),
    date          TEXT    NOT NULL
        CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    amount        TEXT,
    numerator     TEXT,
    denominator   TEXT,
    source        TEXT    NOT NULL,
    recorded_at   INTEGER NOT NULL,
    PRIMARY KEY (instrument_id, kind, date),
    CHECK (kind <> 'dividend' OR amount IS NOT NULL),
    CHECK (kind <> 'split' OR (numerator IS NOT NULL AND denominator IS NOT NULL))
);
