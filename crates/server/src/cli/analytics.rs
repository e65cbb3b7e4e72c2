//! `pricetrack portfolio summary|performance|holdings` and `pricetrack check-cases`:
//! the same app functions the API calls, printed as aligned tables.

use super::{
    acting_user,
    table::{Align, Table},
};
use anyhow::Context;
use clap::Args;
use jiff::civil::Date;
use pricetrack_app::{
    AppContext, AppError,
    portfolio_analytics::{self as pa, Scope, parse_period, parse_resolution},
    portfolios,
    ports::User,
    reference_cases::run_cases,
    settings::method_as_str,
};
use pricetrack_domain::analytics::{PeriodPreset, PeriodSpec};
use rust_decimal::Decimal;
use std::{path::PathBuf, process::ExitCode};

/// Which period: a preset or a custom range.
#[derive(Debug, Clone, Args)]
pub struct PeriodArgs {
    /// 1D, WTD, 1W, MTD, 1M, YTD, 1Y, 3Y, 5Y or MAX.
    #[arg(long)]
    pub period: Option<String>,
    /// First day of a custom period (YYYY-MM-DD), with --to.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day of a custom period (included), with --from.
    #[arg(long)]
    pub to: Option<String>,
}

impl PeriodArgs {
    fn spec(&self, default: PeriodPreset) -> Result<PeriodSpec, AppError> {
        parse_period(
            self.period.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            default,
        )
    }

    fn given(&self) -> bool {
        self.period.is_some() || self.from.is_some() || self.to.is_some()
    }
}

/// A portfolio by name or id; `all` (when no portfolio has that name) is all
/// of the user's portfolios combined.
async fn scope(ctx: &AppContext, user: &User, reference: &str) -> anyhow::Result<Scope> {
    match portfolios::find_portfolio(ctx, user, reference).await {
        Ok(p) => Ok(Scope::Portfolio(p.id)),
        Err(AppError::NotFound { .. }) if reference.eq_ignore_ascii_case("all") => Ok(Scope::All {
            currency: None,
            method: None,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Money with two decimals.
fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

fn pct(r: Option<f64>) -> String {
    r.map_or_else(
        || "–".to_owned(),
        // Rounds tiny negatives to 0.00% rather than printing -0.00%.
        |r| format!("{:.2}%", (r * 100.0 * 100.0).round() / 100.0 + 0.0),
    )
}

fn pct_dec(r: Option<Decimal>) -> String {
    r.map_or_else(
        || "–".to_owned(),
        // Two decimals always (50.00%, not 50.0%), as `pct` prints.
        |r| format!("{:.2}%", (r * Decimal::ONE_HUNDRED).round_dp(2)),
    )
}

fn header(info: &pa::ScopeInfo) -> String {
    let names: Vec<&str> = info.portfolios.iter().map(|(_, n)| n.as_str()).collect();
    format!(
        "{} ({}, {}, as of {})",
        if names.is_empty() {
            "(no portfolios)".to_owned()
        } else {
            names.join(" + ")
        },
        info.base_currency,
        method_as_str(info.cost_basis_method),
        info.evaluation_date
    )
}

/// `pricetrack portfolio summary NAME [--period P | --from D --to D]`.
pub async fn summary(
    ctx: &AppContext,
    user: &str,
    portfolio: &str,
    period: &PeriodArgs,
) -> anyhow::Result<ExitCode> {
    let user = acting_user(ctx, user).await?;
    let spec = period.spec(PeriodPreset::Max)?;
    let scope = scope(ctx, &user, portfolio).await?;
    let answer = pa::summary(ctx, &user, scope, spec).await?;
    let s = &answer.value;
    let st = &s.period_statement;
    println!("{}", header(&answer.scope));
    println!(
        "period {} … {} ({} days; the close of {} is the initial value)",
        s.period.start.tomorrow().unwrap_or(s.period.start),
        s.period.end,
        s.period.days(),
        s.period.start
    );
    let mut t = Table::new(&[("figure", Align::Left), ("value", Align::Right)]);
    let mut row = |name: &str, value: String| t.row(vec![name.to_owned(), value]);
    row("initial value", money(st.initial_value));
    row("flows in", money(st.inflows));
    row("flows out", money(st.outflows));
    row("income (dividends + interest)", money(st.earnings));
    row("realized gains", money(st.realized_gains));
    row(
        "realized gains: price effect",
        money(st.realized_price_effect),
    );
    row(
        "realized gains: currency effect",
        money(st.realized_currency_effect),
    );
    row("unrealized gains", money(st.unrealized_gains));
    row(
        "unrealized gains: price effect",
        money(st.unrealized_price_effect),
    );
    row(
        "unrealized gains: currency effect",
        money(st.unrealized_currency_effect),
    );
    row("fees", money(st.fees));
    row("taxes", money(st.taxes));
    row("currency gains", money(st.currency_gains));
    row("final value", money(st.final_value));
    row("invested capital", money(st.invested_capital));
    row("simple return on cost", pct_dec(st.simple_return_on_cost));
    row("TWR", pct(Some(s.twr)));
    row("TWR annualized", pct(s.twr_annualized));
    row(
        "XIRR",
        match (&s.xirr, &s.xirr_unavailable_reason) {
            (Some(x), _) => pct(Some(*x)),
            (None, Some(reason)) => format!("– ({reason})"),
            (None, None) => "–".to_owned(),
        },
    );
    row("volatility (ann.)", pct(s.volatility));
    row(
        "max drawdown",
        pct(s.max_drawdown.as_ref().map(|m| m.max_drawdown)),
    );
    row("market value (now)", money(s.market_value));
    row("cash", money(s.cash_balance));
    row("total value", money(s.total_value));
    row("cost basis", money(s.cost_basis));
    row("unrealized gain (now)", money(s.unrealized_gain));
    row(
        "unrealized gain after fees (now)",
        money(s.unrealized_gain_net),
    );
    row("realized gain (since inception)", money(s.realized_gain));
    row(
        "realized gain after fees (since inception)",
        money(s.realized_gain_net),
    );
    row(
        "dividends (gross, since inception)",
        money(s.dividends_gross),
    );
    row("roai net performance", money(s.roai.roai_net_performance));
    row(
        "roai net performance %",
        pct_dec(Some(s.roai.roai_net_performance_pct)),
    );
    row("pp ttwror", pct(Some(s.pp.ttwror)));
    row("pp irr", pct(s.pp.irr));
    row("pp delta", money(s.pp.delta.delta));
    print!("{}", t.render());
    Ok(ExitCode::SUCCESS)
}

/// `pricetrack portfolio performance NAME [--period P] [--interval 1d|1wk|1mo]`.
pub async fn performance(
    ctx: &AppContext,
    user: &str,
    portfolio: &str,
    period: &PeriodArgs,
    interval: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let user = acting_user(ctx, user).await?;
    let spec = period.spec(PeriodPreset::OneYear)?;
    let resolution = parse_resolution(interval.or(Some("1mo")))?;
    let scope = scope(ctx, &user, portfolio).await?;
    let answer = pa::performance(ctx, &user, scope, spec, resolution).await?;
    println!("{}", header(&answer.scope));
    let mut t = Table::new(&[
        ("date", Align::Left),
        ("value", Align::Right),
        ("net contributions", Align::Right),
        ("invested", Align::Right),
        ("TWR", Align::Right),
        ("drawdown", Align::Right),
    ]);
    for p in &answer.value.points {
        t.row(vec![
            p.date.to_string(),
            money(p.value),
            money(p.net_contributions),
            money(p.total_investment),
            pct(Some(p.twr)),
            pct(Some(p.drawdown)),
        ]);
    }
    print!("{}", t.render());
    Ok(ExitCode::SUCCESS)
}

/// `pricetrack portfolio holdings NAME [--at DATE] [--period P]`: positions at
/// the close of a date; with a period, each position's gain and contribution
/// over it.
pub async fn holdings(
    ctx: &AppContext,
    user: &str,
    portfolio: &str,
    at: Option<&str>,
    period: &PeriodArgs,
) -> anyhow::Result<ExitCode> {
    let user = acting_user(ctx, user).await?;
    let at = at
        .map(|raw| {
            raw.trim().parse::<Date>().map_err(|_| {
                AppError::invalid_field("at", format!("{raw:?} is not a date (YYYY-MM-DD)"))
            })
        })
        .transpose()?;
    let spec = period
        .given()
        .then(|| period.spec(PeriodPreset::Max))
        .transpose()?;
    let scope = scope(ctx, &user, portfolio).await?;
    let answer = pa::holdings(ctx, &user, scope.clone(), at).await?;
    let contributions = match spec {
        Some(spec) => Some(pa::contributions(ctx, &user, scope, spec).await?),
        None => None,
    };
    let h = &answer.value;
    let mut headers = vec![
        ("symbol", Align::Left),
        ("quantity", Align::Right),
        ("avg cost", Align::Right),
        ("price", Align::Right),
        ("ccy", Align::Left),
        ("cost basis", Align::Right),
        ("value", Align::Right),
        ("unrealized", Align::Right),
        ("%", Align::Right),
        ("unrealized net", Align::Right),
        ("realized net", Align::Right),
        ("weight", Align::Right),
    ];
    if contributions.is_some() {
        headers.push(("period gain", Align::Right));
        headers.push(("contribution", Align::Right));
    }
    let mut t = Table::new(&headers);
    for r in &h.holdings {
        let mut cells = vec![
            r.symbol.to_string(),
            r.quantity.normalize().to_string(),
            r.average_cost_quote.round_dp(4).normalize().to_string(),
            r.market_price_quote
                .map_or_else(|| "–".to_owned(), |p| p.normalize().to_string()),
            r.quote_currency.to_string(),
            money(r.cost_basis),
            money(r.market_value),
            money(r.unrealized_gain),
            pct_dec(r.unrealized_gain_pct),
            money(r.unrealized_gain_net),
            money(r.realized_gain_net),
            pct_dec(r.weight),
        ];
        if let Some(c) = &contributions {
            let mine = c.value.holdings.iter().find(|x| x.symbol == r.symbol);
            cells.push(mine.map_or_else(|| "–".to_owned(), |x| money(x.gain)));
            cells.push(pct(mine.and_then(|x| x.contribution)));
        }
        t.row(cells);
    }
    println!(
        "{} — holdings at the close of {}{}",
        header(&answer.scope),
        h.date,
        contributions
            .as_ref()
            .map(|c| format!(
                "; gains over {} … {}",
                c.value.period.start, c.value.period.end
            ))
            .unwrap_or_default()
    );
    print!("{}", t.render());
    for cash in &h.cash {
        println!(
            "cash {}: {} ({} {})",
            cash.currency,
            money(cash.amount),
            money(cash.amount_in_base),
            answer.scope.base_currency
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `pricetrack check-cases FILE.json`: every case through the analytics,
/// per field ours / expected / pass or fail; non-zero unless all pass.
pub fn check_cases(file: &PathBuf) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let report = run_cases(&text).with_context(|| format!("checking {}", file.display()))?;
    print!("{}", report.render());
    Ok(if report.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
