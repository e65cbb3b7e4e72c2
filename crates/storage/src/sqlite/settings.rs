//! User settings and provider API keys on SQLite.

use super::{SqliteStore, db, get};
use crate::codec::{corrupt, currency, from_micros, micros};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::{
    ports::{ProviderKey, SettingsStore, StoreResult, Theme, UserSettings},
    settings::{method_as_str, parse_method},
};
use pricetrack_domain::UserId;
use rusqlite::params;

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn user_settings(&self, user: UserId) -> StoreResult<Option<UserSettings>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT base_currency, cost_basis_method, theme, dashboard_watchlist
                     FROM user_settings WHERE user_id = ?1",
                )
                .map_err(db("reading settings"))?;
            let mut rows = stmt.query([user.0]).map_err(db("reading settings"))?;
            let Some(row) = rows.next().map_err(db("reading settings"))? else {
                return Ok(None);
            };
            let method: String = get(row, 1, "user_settings.cost_basis_method")?;
            let theme: String = get(row, 2, "user_settings.theme")?;
            Ok(Some(UserSettings {
                base_currency: currency(
                    "user_settings.base_currency",
                    &get::<String>(row, 0, "user_settings.base_currency")?,
                )?,
                cost_basis_method: parse_method(&method)
                    .ok_or_else(|| corrupt("user_settings.cost_basis_method", &method))?,
                theme: Theme::parse(&theme)
                    .ok_or_else(|| corrupt("user_settings.theme", &theme))?,
                dashboard_watchlist: get(row, 3, "user_settings.dashboard_watchlist")?,
            }))
        })
        .await
    }

    async fn save_user_settings(&self, user: UserId, settings: &UserSettings) -> StoreResult<()> {
        let s = settings.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO user_settings (user_id, base_currency, cost_basis_method, theme, dashboard_watchlist)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id) DO UPDATE SET base_currency = excluded.base_currency,
                   cost_basis_method = excluded.cost_basis_method, theme = excluded.theme,
                   dashboard_watchlist = excluded.dashboard_watchlist",
            )
            .and_then(|mut st| {
                st.execute(params![
                    user.0,
                    s.base_currency.as_str(),
                    method_as_str(s.cost_basis_method),
                    s.theme.as_str(),
                    s.dashboard_watchlist
                ])
            })
            .map(|_| ())
            .map_err(db("saving settings"))
        })
        .await
    }

    async fn provider_keys(&self) -> StoreResult<Vec<ProviderKey>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT provider, api_key, updated_at FROM provider_keys ORDER BY provider",
                )
                .map_err(db("reading provider keys"))?;
            let mut rows = stmt.query([]).map_err(db("reading provider keys"))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(db("reading provider keys"))? {
                out.push(ProviderKey {
                    provider: get(row, 0, "provider_keys.provider")?,
                    key: get(row, 1, "provider_keys.api_key")?,
                    updated_at: from_micros(
                        "provider_keys.updated_at",
                        get(row, 2, "provider_keys.updated_at")?,
                    )?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn set_provider_key(
        &self,
        provider: &str,
        key: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let (provider, key) = (provider.to_owned(), key.map(str::to_owned));
        self.write(move |c| {
            match key {
                Some(key) => c
                    .prepare_cached(
                        "INSERT INTO provider_keys (provider, api_key, updated_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (provider) DO UPDATE SET api_key = excluded.api_key,
                           updated_at = excluded.updated_at",
                    )
                    .and_then(|mut s| s.execute(params![provider, key, micros(now)])),
                None => c
                    .prepare_cached("DELETE FROM provider_keys WHERE provider = ?1")
                    .and_then(|mut s| s.execute([provider])),
            }
            .map(|_| ())
            .map_err(db("saving a provider key"))
        })
        .await
    }
}
