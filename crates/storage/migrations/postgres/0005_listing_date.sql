-- An instrument's first trading day (PostgreSQL). Never edit once applied: add a
-- new numbered file.
--
-- * instruments.listing_date: NULL when unknown. The validator holds back bars
--   dated before it.

ALTER TABLE instruments ADD COLUMN listing_date DATE;
