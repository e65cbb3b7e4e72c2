//! User settings and provider API keys on PostgreSQL.

use super::{PgStore, db, get};
use crate::codec::{corrupt, currency, truncate_to_micros};
use async_trait::async_trait;
use jiff::Timestamp;
use pricetrack_app::{
    ports::{ProviderKey, SettingsStore, StoreResult, Theme, UserSettings},
    settings::{method_as_str, parse_method},
};
use pricetrack_domain::UserId;

#[async_trait]
impl SettingsStore for PgStore {
    async fn user_settings(&self, user: UserId) -> StoreResult<Option<UserSettings>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT base_currency, cost_basis_method, theme, dashboard_watchlist
                 FROM user_settings WHERE user_id = $1",
                &[&user.0],
            )
            .await
            .map_err(db("reading settings"))?;
        let Some(row) = row else { return Ok(None) };
        let method: &str = get(&row, 1, "user_settings.cost_basis_method")?;
        let theme: &str = get(&row, 2, "user_settings.theme")?;
        Ok(Some(UserSettings {
            base_currency: currency(
                "user_settings.base_currency",
                get(&row, 0, "user_settings.base_currency")?,
            )?,
            cost_basis_method: parse_method(method)
                .ok_or_else(|| corrupt("user_settings.cost_basis_method", method))?,
            theme: Theme::parse(theme).ok_or_else(|| corrupt("user_settings.theme", theme))?,
            dashboard_watchlist: get(&row, 3, "user_settings.dashboard_watchlist")?,
        }))
    }

    async fn save_user_settings(&self, user: UserId, s: &UserSettings) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO user_settings (user_id, base_currency, cost_basis_method, theme, dashboard_watchlist)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id) DO UPDATE SET base_currency = excluded.base_currency,
                   cost_basis_method = excluded.cost_basis_method, theme = excluded.theme,
                   dashboard_watchlist = excluded.dashboard_watchlist",
                &[
                    &user.0,
                    &s.base_currency.as_str(),
                    &method_as_str(s.cost_basis_method),
                    &s.theme.as_str(),
                    &s.dashboard_watchlist,
                ],
            )
            .await
            .map_err(db("saving settings"))?;
        Ok(())
    }

    async fn provider_keys(&self) -> StoreResult<Vec<ProviderKey>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT provider, api_key, updated_at FROM provider_keys ORDER BY provider COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db("reading provider keys"))?;
        rows.iter()
            .map(|r| {
                Ok(ProviderKey {
                    provider: get(r, 0, "provider_keys.provider")?,
                    key: get(r, 1, "provider_keys.api_key")?,
                    updated_at: get(r, 2, "provider_keys.updated_at")?,
                })
            })
            .collect()
    }

    async fn set_provider_key(
        &self,
        provider: &str,
        key: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        match key {
            Some(key) => client
                .execute(
                    "INSERT INTO provider_keys (provider, api_key, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (provider) DO UPDATE SET api_key = excluded.api_key,
                       updated_at = excluded.updated_at",
                    &[&provider, &key, &truncate_to_micros(now)],
                )
                .await,
            None => {
                client
                    .execute(
                        "DELETE FROM provider_keys WHERE provider = $1",
                        &[&provider],
                    )
                    .await
            }
        }
        .map_err(db("saving a provider key"))?;
        Ok(())
    }
}
