//! Which database to use, chosen by the URL's scheme.

use crate::ConnectError;
use std::path::{Path, PathBuf};

/// File name of the default SQLite database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "pricetrack.db";

/// A database to open: an SQLite file or a PostgreSQL server.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL (may contain a password: print
    /// [`DatabaseTarget::describe`], never the URL itself).
    Postgres(String),
}

impl std::fmt::Debug for DatabaseTarget {
    // Hand-written so that `{:?}` in a log line cannot leak a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl DatabaseTarget {
    /// `url` None → SQLite file `<data_dir>/pricetrack.db`; `sqlite://path` (also
    /// `sqlite:path`) → that file; `postgres://…` or `postgresql://…` → PostgreSQL;
    /// anything else → [`ConnectError::UnsupportedScheme`] naming the accepted schemes.
    pub fn parse(url: Option<&str>, data_dir: &Path) -> Result<Self, ConnectError> {
        let Some(url) = url.map(str::trim) else {
            return Ok(Self::Sqlite(data_dir.join(DEFAULT_SQLITE_FILE)));
        };
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            // Validate now, so a typo fails at start with a clear message: the TLS
            // options here, the rest by the driver.
            let invalid = |reason: String| ConnectError::InvalidUrl {
                url: redact_url(url),
                reason,
            };
            let (driver_url, _) = crate::postgres::tls::split_url(url).map_err(invalid)?;
            driver_url
                .parse::<tokio_postgres::Config>()
                .map_err(|e| invalid(e.to_string()))?;
            return Ok(Self::Postgres(url.to_owned()));
        }
        if lower.starts_with("sqlite:") {
            let rest = &url["sqlite:".len()..];
            let path = rest.strip_prefix("//").unwrap_or(rest);
            // Query options (`?mode=rwc`) are accepted for compatibility and ignored.
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            if path.is_empty() {
                return Err(ConnectError::InvalidUrl {
                    url: url.to_owned(),
                    reason: "no file path after sqlite:// (e.g. sqlite://data/pricetrack.db)"
                        .to_owned(),
                });
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        let scheme = match url.split_once(':') {
            Some((scheme, _)) => scheme.to_owned(),
            None => String::new(),
        };
        Err(ConnectError::UnsupportedScheme { scheme })
    }

    /// A description for logs: the SQLite path, or the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => redact_url(url),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Replaces the password in `scheme://user:password@host/...` and any `password=`
/// query option with `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let redacted: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&redacted.join("&"));
    }
    out
}

/// The same PostgreSQL URL pointing at another database on the same server.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    let mut out = format!("{scheme}://{authority}/{database}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: Option<&str>) -> Result<DatabaseTarget, ConnectError> {
        DatabaseTarget::parse(url, Path::new("/data"))
    }

    #[test]
    fn no_url_means_the_sqlite_file_in_the_data_directory() {
        assert_eq!(
            parse(None).unwrap(),
            DatabaseTarget::Sqlite(PathBuf::from("/data/pricetrack.db"))
        );
    }

    #[test]
    fn sqlite_urls_with_and_without_slashes_name_the_file() {
        assert_eq!(
            parse(Some("sqlite:///var/lib/pt.db")).unwrap(),
            DatabaseTarget::Sqlite(PathBuf::from("/var/lib/pt.db"))
        );
        assert_eq!(
            parse(Some("sqlite://rel/pt.db?mode=rwc")).unwrap(),
            DatabaseTarget::Sqlite(PathBuf::from("rel/pt.db"))
        );
        assert_eq!(
            parse(Some("sqlite:pt.db")).unwrap(),
            DatabaseTarget::Sqlite(PathBuf::from("pt.db"))
        );
        assert!(matches!(
            parse(Some("sqlite://")),
            Err(ConnectError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn postgres_and_postgresql_schemes_select_postgres() {
        for url in ["postgres://u@h/db", "postgresql://u:pw@h:5433/db"] {
            assert_eq!(
                parse(Some(url)).unwrap(),
                DatabaseTarget::Postgres(url.into())
            );
        }
    }

    #[test]
    fn unknown_schemes_are_refused_naming_the_accepted_ones() {
        let err = parse(Some("mysql://u@h/db")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConnectError::UnsupportedScheme { .. }));
        assert!(msg.contains("mysql"), "{msg}");
        assert!(
            msg.contains("sqlite://") && msg.contains("postgres://"),
            "{msg}"
        );
        assert!(parse(Some("pricetrack.db")).is_err());
    }

    #[test]
    fn describe_never_prints_a_password() {
        let t = parse(Some(
            "postgres://app:s3cret@db.example:5432/pt?password=x&sslmode=require",
        ))
        .unwrap();
        let d = t.describe();
        assert!(!d.contains("s3cret") && !d.contains("=x"), "{d}");
        assert_eq!(
            d,
            "postgres://app:***@db.example:5432/pt?password=***&sslmode=require"
        );
        assert!(!format!("{t:?}").contains("s3cret"));
        let err = parse(Some("postgres://app:s3cret@h/db?connect_timeout=abc")).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn with_database_swaps_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}
