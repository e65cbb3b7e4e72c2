-- An instrument's first trading day (SQLite). Never edit once applied: add a new
-- numbered file.
--
-- * instruments.listing_date: 'YYYY-MM-DD' or NULL (unknown). The validator holds
--   back bars dated before it.

ALTER TABLE instruments ADD COLUMN listing_date TEXT
    CHECK (listing_date IS NULL OR listing_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]');
