-- An instrument's own source for the `url` provider (SQLite). Never edit once
-- applied: add a new numbered file.
--
-- * instruments.url_source: JSON text {"url": …, "extract": …, "number_format": …}
--   (the shape of PRICETRACK_PROVIDER_URL_SOURCES' values), or NULL: the
--   environment's map is then the fallback.

ALTER TABLE instruments ADD COLUMN url_source TEXT
    CHECK (url_source IS NULL OR json_valid(url_source));
