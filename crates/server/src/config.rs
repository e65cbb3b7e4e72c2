//! Typed settings: defaults, then an optional `pricetrack.toml`, then the
//! environment. Every problem is reported at once, at start.

use serde::Deserialize;
use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
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
    /// `PRICETRACK_TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For`
    /// names the client (for the login rate limit); empty: none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The file's `[market]` and `[providers]` tables, by the name of the
    /// environment variable each key stands for (`[market] refresh_tick` is
    /// `PRICETRACK_REFRESH_TICK`, `[providers] alphavantage_api_key` is
    /// `PRICETRACK_PROVIDER_ALPHAVANTAGE_API_KEY`). See [`Settings::lookup`].
    pub file_values: BTreeMap<String, String>,
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
            .field("trusted_proxies", &self.trusted_proxies)
            // Values may be API keys: names only.
            .field("file_values", &self.file_values.keys().collect::<Vec<_>>())
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
            trusted_proxies: Vec::new(),
            file_values: BTreeMap::new(),
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
    /// An address or range, or a list of them.
    trusted_proxies: Option<toml::Value>,
    /// Market-data settings: keys are the `PRICETRACK_` variables without the
    /// prefix, in lower case (`refresh_tick = "15s"`).
    #[serde(default)]
    market: BTreeMap<String, toml::Value>,
    /// Provider settings: keys are the `PRICETRACK_PROVIDER_` variables without
    /// the prefix, in lower case (`yahoo_base_url`, `alphavantage_api_key`).
    #[serde(default)]
    providers: BTreeMap<String, toml::Value>,
}

/// A table value as the text its environment variable would hold.
fn value_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) => items
            .iter()
            .map(value_text)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        toml::Value::Datetime(_) | toml::Value::Table(_) => None,
    }
}

/// Checks the file's `[market]` and `[providers]` values the way they will be
/// read, and names every key no setting reads (a typo must not pass unseen).
fn check_file_values(values: &BTreeMap<String, String>, errors: &mut Vec<String>) {
    if values.is_empty() {
        return;
    }
    let read: RefCell<BTreeSet<String>> = RefCell::new(BTreeSet::new());
    let lookup = |k: &str| {
        read.borrow_mut().insert(k.to_owned());
        values.get(k).cloned()
    };
    // A table whose reading stopped at an error may not have read every key:
    // unknown keys are only named for tables read to the end.
    let market_read = match crate::jobs::MarketSettings::from_lookup(lookup) {
        Ok(_) => true,
        Err(e) => {
            errors.push(format!("[market]: {e}"));
            false
        }
    };
    let providers_read = match pricetrack_providers::ProvidersConfig::from_lookup(lookup) {
        Ok(_) => true,
        Err(e) => {
            errors.push(format!("[providers]: {e}"));
            false
        }
    };
    let read = read.into_inner();
    for key in values.keys().filter(|k| !read.contains(*k)) {
        let (table, name, complete) = match key.strip_prefix("PRICETRACK_PROVIDER_") {
            Some(rest) => ("providers", rest, providers_read),
            None => ("market", key.trim_start_matches("PRICETRACK_"), market_read),
        };
        if !complete {
            continue;
        }
        errors.push(format!(
            "[{table}] {}: not a setting (see README.md, Configuration)",
            name.to_ascii_lowercase()
        ));
    }
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
        let proxies = env("PRICETRACK_TRUSTED_PROXIES")
            .or_else(|| file_settings.trusted_proxies.as_ref().and_then(value_text));
        if let Some(raw) = proxies {
            match crate::client_address::parse_trusted_proxies(&raw) {
                Ok(nets) => settings.trusted_proxies = nets,
                Err(e) => errors.push(format!("PRICETRACK_TRUSTED_PROXIES / trusted_proxies: {e}")),
            }
        }
        for (table, prefix, values) in [
            ("market", "PRICETRACK_", &file_settings.market),
            (
                "providers",
                "PRICETRACK_PROVIDER_",
                &file_settings.providers,
            ),
        ] {
            for (key, value) in values {
                match value_text(value) {
                    Some(text) => {
                        settings
                            .file_values
                            .insert(format!("{prefix}{}", key.to_ascii_uppercase()), text);
                    }
                    None => errors.push(format!(
                        "[{table}] {key}: expected a string, number, true/false or a list of them"
                    )),
                }
            }
        }
        check_file_values(&settings.file_values, &mut errors);
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

    /// A market or provider setting by its environment variable's name: the
    /// process environment first, then the file's `[market]`/`[providers]`.
    pub fn lookup(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| self.file_values.get(key).cloned())
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
    fn trusted_proxies_come_from_the_environment_or_a_list_in_the_file() {
        let s = Settings::from_sources(
            None,
            env(&[("PRICETRACK_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]),
        )
        .unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pricetrack.toml");
        std::fs::write(&file, "trusted_proxies = [\"::1\", \"172.16.0.0/12\"]\n").unwrap();
        let s = Settings::from_sources(Some(&file), env(&[])).unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        let err = Settings::from_sources(None, env(&[("PRICETRACK_TRUSTED_PROXIES", "nginx")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("PRICETRACK_TRUSTED_PROXIES"),
            "{err}"
        );
        assert!(err.to_string().contains("nginx"), "{err}");
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

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn market_and_provider_settings_come_from_the_file_by_their_variable_names() {
        let f = file(
            "bind = \"127.0.0.1:9000\"\n\
             [market]\nrefresh_tick = \"30s\"\nrefresh_every_crypto_5m = \"20s\"\n\
             refresh_intraday_intervals = [\"5m\", \"1h\"]\nrefresh_concurrency = 4\n\
             [providers]\nalphavantage_api_key = \"AVKEY1234\"\n\
             yahoo_base_url = \"http://127.0.0.1:9001\"\n",
        );
        let s = Settings::from_sources(Some(f.path()), env(&[])).unwrap();
        let v = |k: &str| s.file_values.get(k).cloned();
        assert_eq!(v("PRICETRACK_REFRESH_TICK").as_deref(), Some("30s"));
        assert_eq!(
            v("PRICETRACK_REFRESH_EVERY_CRYPTO_5M").as_deref(),
            Some("20s")
        );
        assert_eq!(
            v("PRICETRACK_REFRESH_INTRADAY_INTERVALS").as_deref(),
            Some("5m,1h")
        );
        assert_eq!(v("PRICETRACK_REFRESH_CONCURRENCY").as_deref(), Some("4"));
        assert_eq!(
            v("PRICETRACK_PROVIDER_ALPHAVANTAGE_API_KEY").as_deref(),
            Some("AVKEY1234")
        );
        let market = crate::jobs::MarketSettings::from_lookup(|k| v(k)).unwrap();
        assert_eq!(market.tick, std::time::Duration::from_secs(30));
        assert!(
            !format!("{s:?}").contains("AVKEY1234"),
            "keys never in logs"
        );
    }

    #[test]
    fn unknown_or_invalid_file_settings_are_named() {
        let typos = file("[market]\nrefresh_tik = \"30s\"\n[providers]\nyahooo_api_key = \"k\"\n");
        let err = Settings::from_sources(Some(typos.path()), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[market] refresh_tik: not a setting"), "{err}");
        assert!(
            err.contains("[providers] yahooo_api_key: not a setting"),
            "{err}"
        );
        let bad =
            file("[market]\nrefresh_lease = \"soon\"\n[providers]\nyahoo_base_url = \"ftp://x\"\n");
        let err = Settings::from_sources(Some(bad.path()), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("PRICETRACK_REFRESH_LEASE"), "{err}");
        assert!(err.contains("PRICETRACK_PROVIDER_YAHOO_BASE_URL"), "{err}");
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
