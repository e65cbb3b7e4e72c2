//! The embedded migrations of both backends. See `migrations/README.md`.

/// One migration: its name (the file name without `.sql`) and its SQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($backend:literal: $($name:literal),* $(,)?) => {
        &[$(Migration {
            name: $name,
            sql: include_str!(concat!("../migrations/", $backend, "/", $name, ".sql")),
        }),*]
    };
}

/// In the order they are applied. Append only.
pub(crate) const SQLITE: &[Migration] = migrations!(
    "sqlite": "0001_initial", "0002_ui", "0003_market_data", "0004_portfolio_settings",
    "0005_listing_date", "0006_bar_blocks", "0007_corporate_events", "0008_url_source",
    "0009_bar_tails"
);
/// In the order they are applied. Append only; same names as [`SQLITE`].
pub(crate) const POSTGRES: &[Migration] = migrations!(
    "postgres": "0001_initial", "0002_ui", "0003_market_data", "0004_portfolio_settings",
    "0005_listing_date", "0006_bar_blocks", "0007_corporate_events", "0008_url_source",
    "0009_bar_tails"
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn sql_files(backend: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .map(|name| name.trim_end_matches(".sql").to_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_backends_have_the_same_migration_names() {
        assert_eq!(sql_files("sqlite"), sql_files("postgres"));
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        for (backend, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let names: Vec<&str> = embedded.iter().map(|m| m.name).collect();
            assert_eq!(
                names,
                sql_files(backend),
                "{backend}: embed every file, in order"
            );
            assert!(embedded.iter().all(|m| !m.sql.trim().is_empty()));
        }
    }

    #[test]
    fn migration_names_are_numbered_and_unique() {
        let names: Vec<&str> = SQLITE.iter().map(|m| m.name).collect();
        for (i, name) in names.iter().enumerate() {
            let number: usize = name[..4].parse().expect("NNNN_ prefix");
            assert_eq!(number, i + 1, "{name} is out of sequence");
        }
    }
}
