-- Initial schema (PostgreSQL). Never edit once applied: add a new numbered file.
-- Timestamps: bars.time is BIGINT epoch seconds (compact hot path, same key as SQLite);
-- every other timestamp is TIMESTAMPTZ (microseconds).
-- Money (quantity, price, fee, amount, tax): NUMERIC, converted to rust_decimal in Rust.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT        NOT NULL UNIQUE,
    role          TEXT        NOT NULL CHECK (role IN ('admin', 'user')),
    password_hash TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT        NOT NULL,
    prefix       TEXT        NOT NULL,
    hash         TEXT        NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE instruments (
    id              INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol          TEXT        NOT NULL UNIQUE,
    name            TEXT        NOT NULL,
    kind            TEXT        NOT NULL,
    currency        TEXT        NOT NULL,
    exchange        TEXT,
    provider        TEXT        NOT NULL,
    provider_symbol TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);

-- Primary key on (instrument, interval, start): a range read is one index range scan.
-- No foreign key on purpose: PostgreSQL checks foreign keys with a per-row trigger, which
-- would dominate bulk ingest. The store instead locks the referenced instruments once per
-- call (SELECT ... FOR KEY SHARE, exactly what the foreign key would take) and deletes an
-- instrument's bars explicitly in the same transaction as the instrument.
CREATE TABLE bars (
    instrument_id INTEGER          NOT NULL,
    interval      SMALLINT         NOT NULL,
    time          BIGINT           NOT NULL,
    open          DOUBLE PRECISION NOT NULL,
    high          DOUBLE PRECISION NOT NULL,
    low           DOUBLE PRECISION NOT NULL,
    close         DOUBLE PRECISION NOT NULL,
    volume        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (instrument_id, interval, time)
);

CREATE TABLE portfolios (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner         BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT        NOT NULL,
    base_currency TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (owner, name)
);

-- The id doubles as the recording sequence: a ledger is ordered by (time, id); identity
-- values only grow, so a new row sorts after every existing one at the same time.
CREATE TABLE transactions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    portfolio_id  BIGINT      NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    time          TIMESTAMPTZ NOT NULL,
    type          TEXT        NOT NULL CHECK (type IN ('buy', 'sell', 'dividend', 'interest', 'fee',
                                                       'tax', 'deposit', 'withdrawal', 'split')),
    instrument_id INTEGER REFERENCES instruments (id) ON DELETE RESTRICT,
    quantity      NUMERIC,
    price         NUMERIC,
    fee           NUMERIC,
    amount        NUMERIC,
    tax           NUMERIC,
    ratio         TEXT,
    currency      TEXT        NOT NULL,
    note          TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX transactions_ledger ON transactions (portfolio_id, time, id);
CREATE INDEX transactions_instrument ON transactions (instrument_id);
