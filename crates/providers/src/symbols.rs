//! Mapping our (Yahoo-style) symbols to each provider's spelling.
//!
//! An instrument's `provider_symbol` overrides these when the instrument
//! names that provider; the functions here are the defaults.

use pricetrack_domain::{Instrument, InstrumentKind};

/// `BTC-USD` → (`BTC`, `USD`); `ETHBTC` has no separator and gives `None`.
pub fn split_pair(symbol: &str) -> Option<(&str, &str)> {
    let s = symbol.strip_suffix("=X").unwrap_or(symbol);
    if let Some((b, q)) = s.split_once(['-', '/']) {
        return (!b.is_empty() && !q.is_empty()).then_some((b, q));
    }
    // FX as Yahoo writes it: EURUSD=X.
    if symbol.ends_with("=X") && s.len() == 6 {
        return Some((&s[..3], &s[3..]));
    }
    None
}

/// CoinGecko coin id of a ticker (`BTC` → `bitcoin`), for the common coins.
pub fn coingecko_id(base: &str) -> Option<&'static str> {
    Some(match base {
        "BTC" => "bitcoin",
        "ETH" => "ethereum",
        "USDT" => "tether",
        "USDC" => "usd-coin",
        "BNB" => "binancecoin",
        "SOL" => "solana",
        "XRP" => "ripple",
        "ADA" => "cardano",
        "DOGE" => "dogecoin",
        "TRX" => "tron",
        "DOT" => "polkadot",
        "MATIC" | "POL" => "matic-network",
        "LTC" => "litecoin",
        "BCH" => "bitcoin-cash",
        "LINK" => "chainlink",
        "XLM" => "stellar",
        "AVAX" => "avalanche-2",
        "ATOM" => "cosmos",
        "XMR" => "monero",
        "ETC" => "ethereum-classic",
        "UNI" => "uniswap",
        "SHIB" => "shiba-inu",
        "TON" => "the-open-network",
        "NEAR" => "near",
        "ALGO" => "algorand",
        "XTZ" => "tezos",
        "DAI" => "dai",
        _ => return None,
    })
}

/// CoinGecko coin id and vs-currency of an instrument.
pub fn coingecko(instrument: &Instrument) -> Option<(String, String)> {
    let vs = instrument.currency.as_str().to_ascii_lowercase();
    let (base, quote) = split_pair(instrument.symbol.as_str())
        .unwrap_or((instrument.symbol.as_str(), instrument.currency.as_str()));
    let id = coingecko_id(base)?;
    let vs = if quote.is_empty() {
        vs
    } else {
        quote.to_ascii_lowercase()
    };
    Some((id.to_owned(), vs))
}

/// Binance spot pair: `BTC-USD` → `BTCUSDT` (USD trades as the USDT stablecoin),
/// `ETH-EUR` → `ETHEUR`, `ETH-BTC` → `ETHBTC`.
pub fn binance(instrument: &Instrument) -> Option<String> {
    if instrument.kind != InstrumentKind::Crypto {
        return None;
    }
    let (base, quote) = split_pair(instrument.symbol.as_str())?;
    let quote = if quote == "USD" { "USDT" } else { quote };
    Some(format!("{base}{quote}"))
}

/// Stooq symbol: lower case with a market suffix (`AAPL` → `aapl.us`,
/// `VOD.L` → `vod.uk`, `SAP.DE` → `sap.de`, `7203.T` → `7203.jp`,
/// `^GSPC` → `^spx`, `EURUSD=X` → `eurusd`, `GC=F` → `gc.f`, `BTC-USD` → `btcusd`).
pub fn stooq(instrument: &Instrument) -> Option<String> {
    let s = instrument.symbol.as_str();
    let lower = |x: &str| x.to_ascii_lowercase();
    let mapped = match instrument.kind {
        InstrumentKind::Fx => {
            let (b, q) = split_pair(s)?;
            lower(&format!("{b}{q}"))
        }
        InstrumentKind::Crypto => {
            let (b, q) = split_pair(s)?;
            lower(&format!("{b}{q}"))
        }
        InstrumentKind::Item => return None,
        _ if s.starts_with('^') => match s {
            "^GSPC" => "^spx".into(),
            "^DJI" => "^dji".into(),
            "^IXIC" => "^ndq".into(),
            "^NDX" => "^ndx".into(),
            "^FTSE" => "^ukx".into(),
            "^GDAXI" => "^dax".into(),
            "^FCHI" => "^cac".into(),
            "^N225" => "^nkx".into(),
            other => lower(other),
        },
        _ if s.ends_with("=F") => format!("{}.f", lower(s.trim_end_matches("=F"))),
        _ => match s.rsplit_once('.') {
            Some((base, "L")) => format!("{}.uk", lower(base)),
            Some((base, "DE" | "F")) => format!("{}.de", lower(base)),
            Some((base, "T")) => format!("{}.jp", lower(base)),
            Some((base, "HK")) => format!("{}.hk", lower(base)),
            Some((base, "US")) => format!("{}.us", lower(base)),
            // Share classes: BRK.B → brk-b.us.
            Some((base, class)) if class.len() == 1 => {
                format!("{}-{}.us", lower(base), lower(class))
            }
            Some(_) => return None,
            None => format!("{}.us", lower(s)),
        },
    };
    Some(mapped)
}

/// Alpha Vantage equity symbol: US tickers as they are, other markets with
/// Alpha Vantage's suffixes (`VOD.L` → `VOD.LON`, `SAP.DE` → `SAP.DEX`,
/// `SHOP.TO` → `SHOP.TRT`).
pub fn alphavantage(instrument: &Instrument) -> Option<String> {
    let s = instrument.symbol.as_str();
    match s.rsplit_once('.') {
        None => Some(s.to_owned()),
        Some((base, "L")) => Some(format!("{base}.LON")),
        Some((base, "DE")) => Some(format!("{base}.DEX")),
        Some((base, "TO")) => Some(format!("{base}.TRT")),
        Some((base, "V")) => Some(format!("{base}.TRV")),
        Some((base, "PA")) => Some(format!("{base}.PAR")),
        Some((base, "AS")) => Some(format!("{base}.AMS")),
        Some((base, "SS")) => Some(format!("{base}.SHH")),
        Some((base, "SZ")) => Some(format!("{base}.SHZ")),
        Some((base, "BO")) => Some(format!("{base}.BSE")),
        Some((_, c)) if c.len() == 1 => Some(s.replace('.', "-")),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricetrack_domain::{Currency, ProviderName, Symbol};

    fn inst(sym: &str, kind: InstrumentKind, ccy: Currency) -> Instrument {
        Instrument::new(
            Symbol::parse(sym).unwrap(),
            sym.into(),
            kind,
            ccy,
            None,
            ProviderName::parse("yahoo").unwrap(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn maps_btc_usd_to_bitcoin_and_btcusdt() {
        let btc = inst("BTC-USD", InstrumentKind::Crypto, Currency::USD);
        assert_eq!(coingecko(&btc), Some(("bitcoin".into(), "usd".into())));
        assert_eq!(binance(&btc).as_deref(), Some("BTCUSDT"));
    }

    #[test]
    fn maps_stocks_to_stooq_and_alpha_vantage() {
        let aapl = inst("AAPL", InstrumentKind::Stock, Currency::USD);
        assert_eq!(stooq(&aapl).as_deref(), Some("aapl.us"));
        assert_eq!(alphavantage(&aapl).as_deref(), Some("AAPL"));
        let vod = inst("VOD.L", InstrumentKind::Stock, Currency::GBP);
        assert_eq!(stooq(&vod).as_deref(), Some("vod.uk"));
        assert_eq!(alphavantage(&vod).as_deref(), Some("VOD.LON"));
        let brk = inst("BRK.B", InstrumentKind::Stock, Currency::USD);
        assert_eq!(stooq(&brk).as_deref(), Some("brk-b.us"));
        let spx = inst("^GSPC", InstrumentKind::Index, Currency::USD);
        assert_eq!(stooq(&spx).as_deref(), Some("^spx"));
        let eur = inst("EURUSD=X", InstrumentKind::Fx, Currency::USD);
        assert_eq!(stooq(&eur).as_deref(), Some("eurusd"));
        assert_eq!(split_pair("EURUSD=X"), Some(("EUR", "USD")));
    }
}
