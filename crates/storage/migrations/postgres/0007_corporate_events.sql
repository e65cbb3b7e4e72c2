-- Dividends and splits reported by providers (PostgreSQL). Never edit once
-- applied: add a new numbered file.
--
-- One row per instrument, kind and date: a provider repeating an event replaces
-- it (a corrected amount) and keeps recorded_at, when it was first seen.
-- * amount: dividend per share in the instrument's currency.
-- * numerator, denominator: a split of numerator new shares for denominator old ones.

CREATE TABLE corporate_events (
    instrument_id INTEGER     NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    kind          TEXT        NOT NULL CHECK (kind IN ('dividend', 'split')),
    date          DATE        NOT NULL,
    amount        NUMERIC,
    numerator     NUMERIC,
    denominator   NUMERIC,
    source        TEXT        NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (instrument_id, kind, date),
    CHECK (kind <> 'dividend' OR amount IS NOT NULL),
    CHECK (kind <> 'split' OR (numerator IS NOT NULL AND denominator IS NOT NULL))
);
