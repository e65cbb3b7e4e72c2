-- Portfolio settings and transfers (SQLite). Never edit once applied: add a new
-- numbered file.
--
-- * portfolios.cost_basis_method: the portfolio's cost-basis method
--   ('average', 'fifo', 'lifo', 'hifo').
-- * portfolios.ledger_version: incremented by every committed ledger change, in the
--   same transaction; analytics caches are keyed by it, so every replica sees a
--   change at once.
-- * transactions.type also allows 'transfer_in' and 'transfer_out' (securities
--   delivered in or out without a cash leg). SQLite cannot alter a CHECK
--   constraint, so the table is rebuilt with the same columns, ids and indexes.

ALTER TABLE portfolios ADD COLUMN cost_basis_method TEXT NOT NULL DEFAULT 'average'
    CHECK (cost_basis_method IN ('average', 'fifo', 'lifo', 'hifo'));
ALTER TABLE portfolios ADD COLUMN ledger_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE transactions_0004 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    portfolio_id  INTEGER NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    time          INTEGER NOT NULL,
    type          TEXT    NOT NULL CHECK (type IN ('buy', 'sell', 'dividend', 'interest', 'fee',
                                                   'tax', 'deposit', 'withdrawal', 'split',
                                                   'transfer_in', 'transfer_out')),
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
INSERT INTO transactions_0004 (id, portfolio_id, time, type, instrument_id, quantity, price,
                               fee, amount, tax, ratio, currency, note)
    SELECT id, portfolio_id, time, type, instrument_id, quantity, price,
           fee, amount, tax, ratio, currency, note
    FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_0004 RENAME TO transactions;
-- AUTOINCREMENT's high-water mark moves with the copied ids, so new ids still sort
-- after every existing one (INSERT of explicit ids updates sqlite_sequence).
CREATE INDEX transactions_ledger ON transactions (portfolio_id, time, id);
CREATE INDEX transactions_instrument ON transactions (instrument_id);
