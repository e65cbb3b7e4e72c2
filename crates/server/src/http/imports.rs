//! `POST /portfolios/{id}/import` and `GET /portfolios/{id}/export`: the
//! same parsers and writers as `pricetrack tx import|export`.

use super::{
    AppState,
    dto::TransactionOut,
    extract::{ApiQuery, AuthUser},
    problem::{ApiError, ApiResult},
};
use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use pricetrack_app::{
    exports::{ExportFormat, export_transactions},
    imports::{GenericMapping, ImportFormat, ImportOptions, import_transactions},
    portfolios,
};
use pricetrack_domain::{Currency, PortfolioId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// ours (our CSV, default), json (our export), ghostfolio-json, ghostfolio-csv,
    /// pp-csv (Portfolio Performance), wealthfolio-csv or generic.
    format: Option<String>,
    /// generic: which column holds each field, `date=Trade Date,type=Action,symbol=Ticker,quantity=Qty,price=Price,fee=Commission,amount=Net Amount,currency=Currency`.
    map: Option<String>,
    /// generic: the broker's type words, `Kauf=buy,Verkauf=sell`.
    types: Option<String>,
    /// generic: the column delimiter (`;`, `,`, `tab`); detected by default.
    delimiter: Option<String>,
    /// generic: strftime format of the dates (`%d.%m.%Y`).
    date_format: Option<String>,
    /// generic: numbers are written `1.234,56`.
    decimal_comma: Option<bool>,
    /// generic: `type` (a type column), `quantity` (negative = sale) or `amount` (negative = money out).
    sign: Option<String>,
    /// Currency of rows without one.
    currency: Option<String>,
    /// Import the valid rows and list the others in `skipped` (rows that do
    /// not read, name an unknown instrument, or that the ledger refuses)
    /// instead of rejecting the upload.
    #[serde(default)]
    skip_invalid: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedOut {
    /// Line in the uploaded file.
    pub line: u64,
    pub reason: String,
}

/// A row left out by `skip_invalid=true`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidRowOut {
    /// Line in the uploaded file where the row starts.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    pub format: String,
    /// Transactions read from the file.
    pub read: usize,
    /// Transactions written.
    pub imported: usize,
    /// Rows skipped because an identical transaction is already in the portfolio.
    pub duplicates: Vec<SkippedOut>,
    /// With `skip_invalid=true`: every row left out, in file line order (a
    /// line with several faults once for each); empty otherwise.
    pub skipped: Vec<InvalidRowOut>,
    pub transactions: Vec<TransactionOut>,
}

/// Import transactions from a file (the request body), all or nothing.
///
/// Formats: `ours` (our CSV: `date,type,symbol,quantity,price,fee,currency,note`
/// plus optional `amount,tax,ratio`), `json` (our export), `ghostfolio-json`
/// (Ghostfolio's export), `ghostfolio-csv` (with Ghostfolio's header aliases),
/// `pp-csv` (Portfolio Performance, English or German, `;` files with decimal
/// commas), `wealthfolio-csv`, and `generic` with a column mapping (`map`,
/// `types`, `delimiter`, `date_format`, `decimal_comma`, `sign`). Any bad row,
/// unknown instrument or impossible ledger (selling more than is held) is a
/// 422 naming the file's line; nothing is written — unless `skip_invalid=true`:
/// then those rows are left out and listed in `skipped` (line, field, reason),
/// and the rest is written in one transaction (201, also when nothing was
/// left). The ledger check walks the rows in time order with the portfolio's
/// transactions, so a sale that needed a skipped buy is skipped too. A
/// whole-file error (not UTF-8, bad header, not JSON) is always a 422. Rows
/// identical to a transaction already in the portfolio are skipped and listed
/// in `duplicates`.
#[utoipa::path(post, path = "/portfolios/{id}/import", tag = "import/export",
    params(("id" = i64, Path), ImportParams),
    request_body(content = String, description = "The file", content_type = "text/csv"),
    responses((status = 201, body = ImportOut), (status = 404), (status = 422, description = "Errors by file line")),
    security(("bearer" = [])))]
pub async fn import(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    ApiQuery(p): ApiQuery<ImportParams>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImportOut>)> {
    let format: ImportFormat = p.format.as_deref().unwrap_or("ours").parse()?;
    let mapping = match (&p.map, format) {
        (Some(map), ImportFormat::Generic) => Some(GenericMapping::parse(
            map,
            p.types.as_deref(),
            p.delimiter.as_deref(),
            p.date_format.as_deref(),
            p.decimal_comma.unwrap_or(false),
            p.sign.as_deref(),
        )?),
        (Some(_), _) => {
            return Err(ApiError::field(
                "map",
                "a column mapping applies to format=generic only",
            ));
        }
        (None, _) => None,
    };
    let default_currency = p
        .currency
        .as_deref()
        .map(|c| {
            Currency::parse(&c.to_uppercase())
                .map_err(|e| ApiError::field("currency", e.to_string()))
        })
        .transpose()?;
    if body.is_empty() {
        return Err(ApiError::field("body", "send the file as the request body"));
    }
    let options = ImportOptions {
        mapping,
        default_currency,
        skip_invalid: p.skip_invalid,
    };
    let report =
        import_transactions(&state.ctx, &user, PortfolioId(id), format, &body, &options).await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportOut {
            format: report.format.to_string(),
            read: report.read,
            imported: report.imported_count,
            duplicates: report
                .duplicates
                .iter()
                .map(|d| SkippedOut {
                    line: d.line,
                    reason: d.reason.clone(),
                })
                .collect(),
            skipped: report
                .skipped
                .iter()
                .map(|s| InvalidRowOut {
                    line: s.line,
                    field: s.field.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
            transactions: report.imported.iter().map(TransactionOut::from).collect(),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// csv (default) or json.
    format: Option<String>,
}

/// A portfolio's transactions as our CSV (the `ours` import format) or JSON
/// (`{"format": "pricetrack-transactions", "portfolio": …, "transactions": [...]}`,
/// the `json` import format). Importing an export into an empty portfolio
/// reproduces it exactly.
#[utoipa::path(get, path = "/portfolios/{id}/export", tag = "import/export",
    params(("id" = i64, Path), ExportParams),
    responses((status = 200, description = "text/csv or application/json", content_type = "text/csv"), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<i64>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let format: ExportFormat = p.format.as_deref().unwrap_or("csv").parse()?;
    let portfolio = portfolios::get_portfolio(&state.ctx, &user, PortfolioId(id)).await?;
    let text = export_transactions(&state.ctx, &user, portfolio.id, format).await?;
    let filename: String = portfolio
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{filename}-transactions.{}\"",
                    format.extension()
                ),
            ),
        ],
        text,
    )
        .into_response())
}
