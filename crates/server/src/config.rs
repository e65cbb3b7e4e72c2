//! Typed settings: defaults, then an optional `pricetrack.toml`, then the
//! environment. Every problem is reported at once, at start.

use serde::Deserialize;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Every setting, documented in README.md and `.env.example`.
#[derive(Clone)]
pub struct Settings {
    /// `PRICETRACK_BIND`: where `serve` listens.
    pub bind: SocketAddr,
    /// `DATABASE_URL`: `sqlite://path` or `postgres://…`; unset → SQLite in the data directory.
    pub database_url: Option<String>,
    /// `PRICETRACK_DATA`: directory of the default SQLite database.
    pub data_dir: PathBuf,
    /// `PRICETRACK_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `PRICETRACK_MAX_BODY_MB`: largest accepted request body (bar uploads).
    pub max_body_mb: u64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("log_format", &self.log_format)
            .field("max_body_mb", &self.max_body_mb)
            .finish()
    }
}

/// Hides the password of a URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            data_dir: PathBuf::from("pricetrack-data"),
            log_format: LogFormat::Pretty,
            max_body_mb: 64,
        }
    }
}

/// The file form of the settings; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    log_format: Option<String>,
    max_body_mb: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Loads from `PRICETRACK_CONFIG` (or `./pricetrack.toml` when present) and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let file = env("PRICETRACK_CONFIG")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("pricetrack.toml")).filter(|p| p.exists()));
        Self::from_sources(file.as_deref(), env)
    }

    /// Builds settings from an optional file and an environment lookup.
    pub fn from_sources(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let mut settings = Settings::default();
        let file_settings = match file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => toml::from_str::<FileSettings>(&text).unwrap_or_else(|e| {
                    errors.push(format!("{}: {e}", path.display()));
                    FileSettings::default()
                }),
                Err(e) => {
                    errors.push(format!("cannot read {}: {e}", path.display()));
                    FileSettings::default()
                }
            },
            None => FileSettings::default(),
        };

        if let Some(bind) = env("PRICETRACK_BIND").or(file_settings.bind) {
            match bind.parse() {
                Ok(addr) => settings.bind = addr,
                Err(_) => errors.push(format!(
                    "PRICETRACK_BIND / bind: {bind:?} is not an address like 127.0.0.1:8080"
                )),
            }
        }
        settings.database_url = env("DATABASE_URL").or(file_settings.database_url);
        if let Some(dir) = env("PRICETRACK_DATA")
            .map(PathBuf::from)
            .or(file_settings.data_dir)
        {
            settings.data_dir = dir;
        }
        if let Some(format) = env("PRICETRACK_LOG_FORMAT").or(file_settings.log_format) {
            match format.as_str() {
                "pretty" => settings.log_format = LogFormat::Pretty,
                "json" => settings.log_format = LogFormat::Json,
                other => errors.push(format!(
                    "PRICETRACK_LOG_FORMAT / log_format: {other:?} is not pretty or json"
                )),
            }
        }
        let max_body = env("PRICETRACK_MAX_BODY_MB")
            .map(|v| v.parse::<u64>().map_err(|_| v))
            .transpose();
        match max_body {
            Ok(Some(mb)) if (1..=4096).contains(&mb) => settings.max_body_mb = mb,
            Ok(Some(mb)) => errors.push(format!("PRICETRACK_MAX_BODY_MB: {mb} is outside 1–4096")),
            Ok(None) => {
                if let Some(mb) = file_settings.max_body_mb {
                    settings.max_body_mb = mb;
                }
            }
            Err(v) => errors.push(format!(
                "PRICETRACK_MAX_BODY_MB: {v:?} is not a whole number of megabytes"
            )),
        }
        if let Some(url) = &settings.database_url
            && let Err(e) = pricetrack_storage::DatabaseTarget::parse(Some(url), &settings.data_dir)
        {
            errors.push(format!("DATABASE_URL: {e}"));
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError(errors))
        }
    }

    pub fn database_target(
        &self,
    ) -> Result<pricetrack_storage::DatabaseTarget, pricetrack_storage::ConnectError> {
        pricetrack_storage::DatabaseTarget::parse(self.database_url.as_deref(), &self.data_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = Settings::from_sources(None, env(&[])).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("pricetrack-data"));
        assert!(s.database_url.is_none());
    }

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let err = Settings::from_sources(
            None,
            env(&[
                ("PRICETRACK_BIND", "nowhere"),
                ("PRICETRACK_LOG_FORMAT", "xml"),
                ("DATABASE_URL", "mysql://x"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 3, "{err}");
        assert!(err.to_string().contains("postgres://"), "{err}");
    }

    #[test]
    fn database_passwords_are_redacted_in_debug_output() {
        let s = Settings::from_sources(
            None,
            env(&[("DATABASE_URL", "postgres://app:secret@db/pt")]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
