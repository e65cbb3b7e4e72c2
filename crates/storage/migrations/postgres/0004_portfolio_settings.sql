-- Portfolio settings and transfers (PostgreSQL). Never edit once applied: add a new
-- numbered file.
--
-- * portfolios.cost_basis_method: the portfolio's cost-basis method
--   ('average', 'fifo', 'lifo', 'hifo').
-- * portfolios.ledger_version: incremented by every committed ledger change, in the
--   same transaction; analytics caches are keyed by it, so every replica sees a
--   change at once.
-- * transactions.type also allows 'transfer_in' and 'transfer_out' (securities
--   delivered in or out without a cash leg).

ALTER TABLE portfolios ADD COLUMN cost_basis_method TEXT NOT NULL DEFAULT 'average'
    CHECK (cost_basis_method IN ('average', 'fifo', 'lifo', 'hifo'));
ALTER TABLE portfolios ADD COLUMN ledger_version BIGINT NOT NULL DEFAULT 0;

ALTER TABLE transactions DROP CONSTRAINT transactions_type_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_type_check
    CHECK (type IN ('buy', 'sell', 'dividend', 'interest', 'fee', 'tax', 'deposit',
                    'withdrawal', 'split', 'transfer_in', 'transfer_out'));
