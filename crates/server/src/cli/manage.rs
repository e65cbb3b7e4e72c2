//! `pricetrack instrument|portfolio|user|token …`.

use super::{
    acting_user,
    table::{Align, Table},
};
use crate::http::dto::{InstrumentIn, InstrumentOut, TransactionOut};
use anyhow::bail;
use clap::Subcommand;
use pricetrack_app::{
    AppContext, AppError, auth, instruments, portfolios,
    ports::{InstrumentQuery, PageRequest, PortfolioDraft, Role},
};
use pricetrack_domain::{Currency, InstrumentKind, Symbol};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum InstrumentCommand {
    /// Add an instrument.
    Add {
        /// Ticker or free name, upper case: AAPL, BRK.B, BTC-USD, GC=F, ROLEX-SUB-2019.
        symbol: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// stock, etf, fund, bond, crypto, commodity, fx, index or item.
        #[arg(long)]
        kind: String,
        /// Quote currency (ISO 4217 or a crypto code).
        #[arg(long)]
        currency: String,
        /// Exchange code (NASDAQ, NYSE, LSE, XETRA, EURONEXT, TSE…): decides the
        /// market calendar the refresh follows.
        #[arg(long)]
        exchange: Option<String>,
        /// Market-data provider (default: manual for items, yahoo otherwise).
        #[arg(long)]
        provider: Option<String>,
        /// The provider's own symbol when it differs (e.g. `bitcoin` on CoinGecko).
        #[arg(long)]
        provider_symbol: Option<String>,
        /// First trading day (YYYY-MM-DD): bars before it are quarantined.
        #[arg(long)]
        listing_date: Option<String>,
        /// Where the `url` provider reads the price, as JSON:
        /// '{"url": "https://example.com/p/{SYMBOL}", "extract": {"css": {"selector": "span.price"}}, "number_format": "decimal_comma"}'.
        /// `extract` is one of {"json_path": "$.price"}, {"css": {"selector": "…", "attribute": "…"}}
        /// or {"regex": "…"} (its first group is the price); `number_format` is auto (default),
        /// decimal_point or decimal_comma; `{DATE}` in the URL fetches each day (history).
        #[arg(long, value_name = "JSON")]
        url_source: Option<String>,
    },
    /// List instruments.
    List {
        /// Only this kind (stock, etf, fund, bond, crypto, commodity, fx, index, item).
        #[arg(long)]
        kind: Option<String>,
        /// Part of the symbol or name.
        #[arg(long)]
        search: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Show one instrument as JSON.
    Show { symbol: String },
    /// Remove an instrument and its bars (refused while transactions use it).
    Rm { symbol: String },
}

fn symbol(raw: &str) -> anyhow::Result<Symbol> {
    Symbol::parse(raw).map_err(|e| AppError::invalid_field("symbol", e.to_string()).into())
}

async fn admin(ctx: &AppContext) -> anyhow::Result<pricetrack_app::ports::User> {
    acting_user(ctx, "admin").await
}

pub async fn instrument(ctx: &AppContext, cmd: InstrumentCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        InstrumentCommand::Add {
            symbol,
            name,
            kind,
            currency,
            exchange,
            provider,
            provider_symbol,
            listing_date,
            url_source,
        } => {
            let url_source = url_source
                .map(|raw| serde_json::from_str::<serde_json::Value>(&raw))
                .transpose()
                .map_err(|e| {
                    AppError::invalid_field("url_source", format!("--url-source is not JSON: {e}"))
                })?;
            let input = InstrumentIn {
                symbol,
                name,
                kind,
                currency,
                exchange,
                provider,
                provider_symbol,
                listing_date,
                url_source,
            };
            let instrument = input.into_domain().map_err(AppError::Invalid)?;
            let created =
                instruments::create_instrument(ctx, &admin(ctx).await?, instrument).await?;
            println!(
                "added {} ({}, {}, provider {})",
                created.symbol, created.kind, created.currency, created.provider
            );
        }
        InstrumentCommand::List {
            kind,
            search,
            limit,
        } => {
            let kind = kind
                .as_deref()
                .map(str::parse::<InstrumentKind>)
                .transpose()
                .map_err(|e| AppError::invalid_field("kind", e.to_string()))?;
            let query = InstrumentQuery {
                kind,
                search,
                page: PageRequest::new(Some(limit), None),
            };
            let page = instruments::list_instruments(ctx, &query).await?;
            let mut t = Table::new(&[
                ("symbol", Align::Left),
                ("name", Align::Left),
                ("kind", Align::Left),
                ("currency", Align::Left),
                ("exchange", Align::Left),
                ("provider", Align::Left),
            ]);
            for i in &page.items {
                t.row(vec![
                    i.symbol.to_string(),
                    i.name.clone(),
                    i.kind.to_string(),
                    i.currency.to_string(),
                    i.exchange.clone().unwrap_or_default(),
                    i.provider.to_string(),
                ]);
            }
            print!("{}", t.render());
            println!("{} of {} instrument(s)", page.items.len(), page.total);
        }
        InstrumentCommand::Show { symbol: s } => {
            let i = instruments::get_instrument(ctx, &symbol(&s)?).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&InstrumentOut::from(&i))?
            );
        }
        InstrumentCommand::Rm { symbol: s } => {
            let s = symbol(&s)?;
            instruments::delete_instrument(ctx, &admin(ctx).await?, &s).await?;
            println!("removed {s} and its bars");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum PortfolioCommand {
    /// List a user's portfolios.
    List {
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Create a portfolio.
    Create {
        name: String,
        /// Base (reporting) currency.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Delete a portfolio and its transactions.
    Rm {
        /// Name or id.
        portfolio: String,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Holdings at the close of a date (default today), in the portfolio's
    /// cost-basis method; with a period, each position's gain over it.
    Holdings {
        /// Name or id (`all`: every portfolio of the user combined).
        portfolio: String,
        /// Holdings at the close of this date (YYYY-MM-DD).
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        period: super::analytics::PeriodArgs,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Headline figures for a period: initial and final value, flows, income,
    /// gains, fees, taxes, TWR, XIRR, and the Ghostfolio/PP figures.
    Summary {
        /// Name or id (`all`: every portfolio of the user combined).
        portfolio: String,
        #[command(flatten)]
        period: super::analytics::PeriodArgs,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Value, contributions, invested cost, TWR and drawdown over a period
    /// (default 1Y), one row per day, week or month (default).
    Performance {
        /// Name or id (`all`: every portfolio of the user combined).
        portfolio: String,
        #[command(flatten)]
        period: super::analytics::PeriodArgs,
        /// 1d, 1wk or 1mo.
        #[arg(long)]
        interval: Option<String>,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Set a portfolio's cost-basis method (average, fifo, lifo or hifo).
    SetMethod {
        /// Name or id.
        portfolio: String,
        method: String,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// List transactions.
    Transactions {
        /// Name or id.
        portfolio: String,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

pub async fn portfolio(ctx: &AppContext, cmd: PortfolioCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PortfolioCommand::List { user } => {
            let user = acting_user(ctx, &user).await?;
            let mut t = Table::new(&[
                ("id", Align::Right),
                ("name", Align::Left),
                ("base", Align::Left),
            ]);
            for p in portfolios::list_portfolios(ctx, &user).await? {
                t.row(vec![p.id.to_string(), p.name, p.base_currency.to_string()]);
            }
            print!("{}", t.render());
        }
        PortfolioCommand::Create {
            name,
            currency,
            user,
        } => {
            let user = acting_user(ctx, &user).await?;
            let base_currency = Currency::parse(&currency)
                .map_err(|e| AppError::invalid_field("currency", e.to_string()))?;
            let p = portfolios::create_portfolio(
                ctx,
                &user,
                PortfolioDraft {
                    name,
                    base_currency,
                },
            )
            .await?;
            println!(
                "created portfolio {} (id {}, {})",
                p.name, p.id, p.base_currency
            );
        }
        PortfolioCommand::Rm { portfolio, user } => {
            let user = acting_user(ctx, &user).await?;
            let p = portfolios::find_portfolio(ctx, &user, &portfolio).await?;
            portfolios::delete_portfolio(ctx, &user, p.id).await?;
            println!("deleted portfolio {}", p.name);
        }
        PortfolioCommand::Holdings {
            portfolio,
            at,
            period,
            user,
        } => {
            return super::analytics::holdings(ctx, &user, &portfolio, at.as_deref(), &period)
                .await;
        }
        PortfolioCommand::Summary {
            portfolio,
            period,
            user,
        } => return super::analytics::summary(ctx, &user, &portfolio, &period).await,
        PortfolioCommand::Performance {
            portfolio,
            period,
            interval,
            user,
        } => {
            return super::analytics::performance(
                ctx,
                &user,
                &portfolio,
                &period,
                interval.as_deref(),
            )
            .await;
        }
        PortfolioCommand::SetMethod {
            portfolio,
            method,
            user,
        } => {
            let user = acting_user(ctx, &user).await?;
            let p = portfolios::find_portfolio(ctx, &user, &portfolio).await?;
            let cost_basis_method =
                pricetrack_app::portfolio_analytics::parse_cost_basis_method("method", &method)?;
            let p = portfolios::set_portfolio_settings(
                ctx,
                &user,
                p.id,
                pricetrack_app::ports::PortfolioSettings { cost_basis_method },
            )
            .await?;
            println!(
                "{} now uses {}",
                p.name,
                pricetrack_app::settings::method_as_str(p.cost_basis_method)
            );
        }
        PortfolioCommand::Transactions { portfolio, user } => {
            let user = acting_user(ctx, &user).await?;
            let p = portfolios::find_portfolio(ctx, &user, &portfolio).await?;
            let ledger = ctx.store.ledger(p.id).await.map_err(AppError::from)?;
            let mut t = Table::new(&[
                ("id", Align::Right),
                ("time", Align::Left),
                ("type", Align::Left),
                ("symbol", Align::Left),
                ("quantity", Align::Right),
                ("price", Align::Right),
                ("fee", Align::Right),
                ("amount", Align::Right),
                ("ccy", Align::Left),
                ("note", Align::Left),
            ]);
            let show =
                |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
            for r in &ledger {
                let o = TransactionOut::from(r);
                t.row(vec![
                    o.id.to_string(),
                    o.time,
                    o.kind,
                    o.symbol.unwrap_or_default(),
                    show(o.quantity),
                    show(o.price),
                    show(o.fee),
                    show(o.amount),
                    o.currency,
                    o.note,
                ]);
            }
            print!("{}", t.render());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        name: String,
        /// Give the admin role.
        #[arg(long)]
        admin: bool,
    },
    /// List users.
    List,
    /// Set a user's web UI password (prompted twice on a terminal).
    Passwd {
        name: String,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn user(ctx: &AppContext, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add { name, admin } => {
            let role = if admin { Role::Admin } else { Role::User };
            let u = auth::create_user(ctx, &name, role).await?;
            println!(
                "added user {} ({}); create a token with: pricetrack token create --user {}",
                u.name,
                u.role.as_str(),
                u.name
            );
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => crate::ui::passwd(ctx, &name, password_stdin).await?,
        UserCommand::List => {
            let mut t = Table::new(&[
                ("id", Align::Right),
                ("name", Align::Left),
                ("role", Align::Left),
                ("created", Align::Left),
            ]);
            for u in ctx.store.list_users().await.map_err(AppError::from)? {
                t.row(vec![
                    u.id.to_string(),
                    u.name,
                    u.role.as_str().to_owned(),
                    u.created_at.to_string(),
                ]);
            }
            print!("{}", t.render());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token (printed once).
    Create {
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
        /// A note to tell tokens apart (e.g. the machine using it).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a user's tokens (never the secrets).
    List {
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Revoke a token by id.
    Revoke {
        id: i64,
        /// The user to act as.
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

pub async fn token(ctx: &AppContext, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Create { user, label } => {
            let user = acting_user(ctx, &user).await?;
            let issued = auth::issue_token(ctx, &user, &label).await?;
            eprintln!(
                "token {} for {} (store it now; it is not shown again):",
                issued.record.id, user.name
            );
            println!("{}", issued.secret);
        }
        TokenCommand::List { user } => {
            let user = acting_user(ctx, &user).await?;
            let mut t = Table::new(&[
                ("id", Align::Right),
                ("prefix", Align::Left),
                ("label", Align::Left),
                ("created", Align::Left),
                ("last used", Align::Left),
            ]);
            for tok in ctx
                .store
                .list_tokens(user.id)
                .await
                .map_err(AppError::from)?
            {
                t.row(vec![
                    tok.id.to_string(),
                    format!("{}…", tok.prefix),
                    tok.label,
                    tok.created_at.to_string(),
                    tok.last_used_at
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "never".to_owned()),
                ]);
            }
            print!("{}", t.render());
        }
        TokenCommand::Revoke { id, user } => {
            let user = acting_user(ctx, &user).await?;
            if !ctx
                .store
                .revoke_token(user.id, id)
                .await
                .map_err(AppError::from)?
            {
                bail!("{} has no token {id}", user.name);
            }
            println!("revoked token {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
