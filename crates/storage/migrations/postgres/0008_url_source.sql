-- An instrument's own source for the `url` provider (PostgreSQL). Never edit
-- once applied: add a new numbered file.
--
-- * instruments.url_source: JSON text {"url": …, "extract": …, "number_format": …}
--   (the shape of PRICETRACK_PROVIDER_URL_SOURCES' values), or NULL: the
--   environment's map is then the fallback. TEXT rather than JSONB: it is only
--   ever read whole and decoded in Rust, as on SQLite.

ALTER TABLE instruments ADD COLUMN url_source TEXT;
