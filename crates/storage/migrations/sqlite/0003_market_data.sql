-- Market-data jobs (SQLite): per-series fetch state and the quarantine of bars
-- that failed validation. Never edit once applied: add a new numbered file.
-- Timestamps are epoch microseconds except bar start times (epoch seconds).

-- One row per series kept current (instrument × interval). The state lives here,
-- not in memory, so a restart resumes and several processes agree on what is due.
-- claimed_until is a lease: a worker that dies loses its claim when it expires.
CREATE TABLE fetch_jobs (
    instrument_id   INTEGER NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    interval        INTEGER NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    next_due_at     INTEGER NOT NULL,
    claimed_until   INTEGER,
    claimed_by      TEXT,
    last_attempt_at INTEGER,
    last_success_at INTEGER,
    last_error      TEXT,
    last_error_at   INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0,
    failures_total  INTEGER NOT NULL DEFAULT 0,
    provider        TEXT,
    simulated       INTEGER NOT NULL DEFAULT 0,
    backfill_done   INTEGER NOT NULL DEFAULT 0,
    backfill_anchor INTEGER,
    backfill_cursor INTEGER,
    backfill_floor  INTEGER,
    PRIMARY KEY (instrument_id, interval)
);
CREATE INDEX fetch_jobs_due ON fetch_jobs (active, next_due_at);

-- Records held back by the validator, with the raw record, the source and why.
-- dedupe_key is the bar time (or the raw record when there is no time): the same
-- bad bar from the same source replaces its earlier entry instead of piling up.
CREATE TABLE quarantine (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument_id INTEGER NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    interval      INTEGER NOT NULL,
    time          INTEGER,
    open          REAL,
    high          REAL,
    low           REAL,
    close         REAL,
    volume        REAL,
    raw           TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    reason_code   TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    dedupe_key    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (instrument_id, interval, source, dedupe_key)
);
CREATE INDEX quarantine_instrument ON quarantine (instrument_id, id);
