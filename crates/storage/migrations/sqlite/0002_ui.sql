-- Web UI: browser sessions, the login rate limit, watchlists, user settings and
-- provider API keys (SQLite). Never edit once applied: add a new numbered file.
-- Timestamps are epoch microseconds, like every non-bar time.

-- A session is found by the SHA-256 hash of its cookie secret; the secret itself is
-- never stored. csrf_token is the synchronizer token of the session's forms.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- One row per failed sign-in; key is "user name|client address".
CREATE TABLE login_failures (
    key  TEXT    NOT NULL,
    time INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, time);

CREATE TABLE watchlists (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (owner, name)
);

CREATE TABLE watchlist_items (
    watchlist_id  INTEGER NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    instrument_id INTEGER NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    PRIMARY KEY (watchlist_id, instrument_id)
);
CREATE INDEX watchlist_items_instrument ON watchlist_items (instrument_id);

CREATE TABLE user_settings (
    user_id             INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    base_currency       TEXT    NOT NULL,
    cost_basis_method   TEXT    NOT NULL,
    theme               TEXT    NOT NULL,
    dashboard_watchlist INTEGER
);

-- Instance-wide market-data provider keys (admin). Shown masked in the UI.
CREATE TABLE provider_keys (
    provider   TEXT    PRIMARY KEY,
    api_key    TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
