-- Initial schema (SQLite). Never edit once applied: add a new numbered file.
-- Timestamps: bars.time is epoch seconds; every other *_at / time column is epoch microseconds.
-- Money (quantity, price, fee, amount, tax): canonical decimal TEXT, converted in Rust.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    password_hash TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE instruments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol          TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    exchange        TEXT,
    provider        TEXT    NOT NULL,
    provider_symbol TEXT,
    created_at      INTEGER NOT NULL
);

-- Clustered by (instrument, interval, start): a range read is one sequential scan of the
-- primary-key b-tree. No foreign key on purpose: a per-row parent lookup would slow bulk
-- ingest, and the store resolves (and so checks) every symbol once per call inside the
-- write transaction and deletes an instrument's bars explicitly with the instrument.
CREATE TABLE bars (
    instrument_id INTEGER NOT NULL,
    interval      INTEGER NOT NULL,
    time          INTEGER NOT NULL,
    open          REAL    NOT NULL,
    high          REAL    NOT NULL,
    low           REAL    NOT NULL,
    close         REAL    NOT NULL,
    volume        REAL    NOT NULL,
    PRIMARY KEY (instrument_id, interval, time)
) WITHOUT ROWID;

CREATE TABLE portfolios (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    owner         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    base_currency TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (owner, name)
);

-- The id doubles as the recording sequence: a ledger is ordered by (time, id), and
-- AUTOINCREMENT guarantees a new row sorts after every existing one at the same time.
CREATE TABLE transactions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    portfolio_id  INTEGER NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    time          INTEGER NOT NULL,
    type          TEXT    NOT NULL CHECK (type IN ('buy', 'sell', 'dividend', 'interest', 'fee',
                                                   'tax', 'deposit', 'withdrawal', 'split')),
    instrument_id INTEGER REFERENCES instruments (id) ON DELETE RESTRICT,
    quantity      TEXT,
    price         TEXT,
    fee           TEXT,
    amount        TEXT,
    tax           TEXT,
    ratio         TEXT,
    currency      TEXT    NOT NULL,
    note          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX transactions_ledger ON transactions (portfolio_id, time, id);
CREATE INDEX transactions_instrument ON transactions (instrument_id);
