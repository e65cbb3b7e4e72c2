-- Market-data jobs (PostgreSQL): per-series fetch state and the quarantine of bars
-- that failed validation. Never edit once applied: add a new numbered file.
-- Bar start times are BIGINT epoch seconds; every other timestamp is TIMESTAMPTZ.

-- One row per series kept current (instrument × interval). The state lives here,
-- not in memory, so a restart resumes and replicas agree on what is due. Replicas
-- claim due rows with FOR UPDATE SKIP LOCKED; claimed_until is a lease, so the
-- claim of a replica that died expires.
CREATE TABLE fetch_jobs (
    instrument_id   INTEGER     NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    interval        SMALLINT    NOT NULL,
    active          BOOLEAN     NOT NULL DEFAULT TRUE,
    next_due_at     TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    claimed_by      TEXT,
    last_attempt_at TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_error      TEXT,
    last_error_at   TIMESTAMPTZ,
    failures        INTEGER     NOT NULL DEFAULT 0,
    failures_total  BIGINT      NOT NULL DEFAULT 0,
    provider        TEXT,
    simulated       BOOLEAN     NOT NULL DEFAULT FALSE,
    backfill_done   BOOLEAN     NOT NULL DEFAULT FALSE,
    backfill_anchor TIMESTAMPTZ,
    backfill_cursor TIMESTAMPTZ,
    backfill_floor  TIMESTAMPTZ,
    PRIMARY KEY (instrument_id, interval)
);
CREATE INDEX fetch_jobs_due ON fetch_jobs (active, next_due_at);

-- Records held back by the validator, with the raw record, the source and why.
-- dedupe_key is the bar time (or the raw record when there is no time): the same
-- bad bar from the same source replaces its earlier entry instead of piling up.
CREATE TABLE quarantine (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instrument_id INTEGER          NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    interval      SMALLINT         NOT NULL,
    time          BIGINT,
    open          DOUBLE PRECISION,
    high          DOUBLE PRECISION,
    low           DOUBLE PRECISION,
    close         DOUBLE PRECISION,
    volume        DOUBLE PRECISION,
    raw           TEXT             NOT NULL,
    source        TEXT             NOT NULL,
    reason_code   TEXT             NOT NULL,
    reason        TEXT             NOT NULL,
    dedupe_key    TEXT             NOT NULL,
    created_at    TIMESTAMPTZ      NOT NULL,
    UNIQUE (instrument_id, interval, source, dedupe_key)
);
CREATE INDEX quarantine_instrument ON quarantine (instrument_id, id);
