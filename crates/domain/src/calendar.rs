//! Market calendars: when an exchange trades, and which local date a moment belongs to.
//!
//! Regular sessions only (no pre/post-market). Holidays are computed from rules
//! (Easter by the Gregorian computus, observed-day and substitute-day rules,
//! equinoxes for Japan) for any year, plus the few one-off closures that no
//! rule predicts (state funerals, jubilees, storms). The rules are those in
//! force today; old years follow them too, except where a rule's start year is
//! known and cheap to honour (Juneteenth from 2022, Japan's 2020/2021 Olympic
//! moves, TSE's 15:30 close from 2024-11-05).
//!
//! * NYSE / Nasdaq: 09:30–16:00 America/New_York (13:00 on early-close days).
//! * LSE: 08:00–16:30 Europe/London (12:30 on 24 and 31 December).
//! * Xetra: 09:00–17:30 Europe/Berlin.
//! * Euronext: 09:00–17:30 Europe/Paris (14:05 on 24 and 31 December).
//! * TSE: 09:00–11:30 and 12:30–15:30 Asia/Tokyo (15:00 close before 2024-11-05).
//! * Crypto: always open; the trading date is the UTC date.
//! * FX: 24/5, Sunday 17:00 to Friday 17:00 New York; the trading date rolls at
//!   17:00 New York (Sunday evening belongs to Monday). No holidays.
//!
//! Time zones come from the system tz database through jiff; when it is missing
//! a POSIX TZ rule with today's DST rules stands in.

use crate::InstrumentKind;
use jiff::{
    Timestamp,
    civil::{Date, Time, Weekday, date, time},
    tz::TimeZone,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A market with its own trading hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Market {
    /// NYSE and Nasdaq (same hours and holidays).
    Nyse,
    Lse,
    Xetra,
    Euronext,
    Tse,
    /// Trades around the clock, every day.
    Crypto,
    /// Sunday 17:00 – Friday 17:00 New York.
    Fx,
}

impl Market {
    pub const ALL: [Market; 7] = [
        Self::Nyse,
        Self::Lse,
        Self::Xetra,
        Self::Euronext,
        Self::Tse,
        Self::Crypto,
        Self::Fx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nyse => "nyse",
            Self::Lse => "lse",
            Self::Xetra => "xetra",
            Self::Euronext => "euronext",
            Self::Tse => "tse",
            Self::Crypto => "crypto",
            Self::Fx => "fx",
        }
    }

    /// IANA name of the market's time zone.
    pub fn time_zone_name(self) -> &'static str {
        match self {
            Self::Nyse | Self::Fx => "America/New_York",
            Self::Lse => "Europe/London",
            Self::Xetra => "Europe/Berlin",
            Self::Euronext => "Europe/Paris",
            Self::Tse => "Asia/Tokyo",
            Self::Crypto => "UTC",
        }
    }

    /// Today's rule for the zone, used only when the tz database is missing.
    fn posix_fallback(self) -> &'static str {
        match self {
            Self::Nyse | Self::Fx => "EST5EDT,M3.2.0,M11.1.0",
            Self::Lse => "GMT0BST,M3.5.0/1,M10.5.0",
            Self::Xetra | Self::Euronext => "CET-1CEST,M3.5.0,M10.5.0/3",
            Self::Tse => "JST-9",
            Self::Crypto => "UTC0",
        }
    }

    /// Maps an exchange code as providers and users write it (`NYSE`, `XNAS`,
    /// `NMS`, `LSE`, `XETRA`, `GER`, `EPA`, `TSE`, `JPX`, `CCC`, …).
    pub fn from_exchange_code(code: &str) -> Option<Market> {
        let c = code.trim().to_ascii_uppercase();
        let m = match c.as_str() {
            "NYSE" | "XNYS" | "NYQ" | "NASDAQ" | "XNAS" | "NMS" | "NGM" | "NCM" | "NAS"
            | "NASDAQGS" | "NASDAQGM" | "NASDAQCM" | "US" | "ARCA" | "NYSEARCA" | "PCX"
            | "BATS" | "AMEX" | "ASE" | "NYSEAMERICAN" | "XASE" | "ARCX" => Market::Nyse,
            "LSE" | "XLON" | "LON" | "L" | "IOB" => Market::Lse,
            "XETRA" | "XETR" | "GER" | "ETR" | "DE" | "FRA" | "XFRA" | "F" => Market::Xetra,
            "EURONEXT" | "XPAR" | "PAR" | "EPA" | "ENX" | "PA" | "XAMS" | "AMS" | "AS" | "XBRU"
            | "BRU" | "BR" | "XLIS" | "LIS" | "LS" => Market::Euronext,
            "TSE" | "XTKS" | "JPX" | "TYO" | "T" | "JPX-TSE" => Market::Tse,
            "CCC" | "CRYPTO" | "CCY" => Market::Crypto,
            "FX" | "FOREX" | "CDS" => Market::Fx,
            _ => return None,
        };
        Some(m)
    }

    /// Maps a Yahoo-style symbol by its suffix: `.L` LSE, `.DE`/`.F` Xetra,
    /// `.PA`/`.AS`/`.BR`/`.LS` Euronext, `.T` TSE, `=X` FX, `-USD`-style pairs
    /// are not guessed (use the kind); no suffix means a US listing.
    /// Returns `None` for a suffix of an exchange without a calendar here.
    pub fn from_symbol_suffix(symbol: &str) -> Option<Market> {
        if symbol.ends_with("=X") {
            return Some(Market::Fx);
        }
        match symbol.rsplit_once('.') {
            None => Some(Market::Nyse),
            Some((_, suffix)) => match suffix {
                "L" | "IL" => Some(Market::Lse),
                "DE" | "F" => Some(Market::Xetra),
                "PA" | "AS" | "BR" | "LS" => Some(Market::Euronext),
                "T" => Some(Market::Tse),
                // Share classes such as BRK.B or BF.A are US listings.
                s if s.len() == 1 => Some(Market::Nyse),
                "US" => Some(Market::Nyse),
                _ => None,
            },
        }
    }

    /// The market an instrument trades on: crypto and hand-priced items never
    /// close; FX and futures (`=F`) follow the 24/5 FX week; everything else by
    /// exchange code, then by symbol suffix, then US.
    pub fn for_instrument(kind: InstrumentKind, exchange: Option<&str>, symbol: &str) -> Market {
        match kind {
            InstrumentKind::Crypto | InstrumentKind::Item => return Market::Crypto,
            InstrumentKind::Fx => return Market::Fx,
            _ => {}
        }
        if let Some(m) = exchange.and_then(Market::from_exchange_code) {
            return m;
        }
        if kind == InstrumentKind::Commodity && symbol.ends_with("=F") {
            return Market::Fx;
        }
        Market::from_symbol_suffix(symbol).unwrap_or(Market::Nyse)
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One regular session: `[open, close)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub open: Timestamp,
    pub close: Timestamp,
}

impl Session {
    pub fn contains(&self, at: Timestamp) -> bool {
        self.open <= at && at < self.close
    }
}

/// A market's calendar, with its time zone resolved.
#[derive(Debug, Clone)]
pub struct Calendar {
    market: Market,
    tz: TimeZone,
}

impl PartialEq for Calendar {
    fn eq(&self, other: &Self) -> bool {
        self.market == other.market
    }
}

impl Calendar {
    pub fn new(market: Market) -> Self {
        let tz = match market {
            Market::Crypto => TimeZone::UTC,
            _ => TimeZone::get(market.time_zone_name())
                .or_else(|_| TimeZone::posix(market.posix_fallback()))
                .unwrap_or(TimeZone::UTC),
        };
        Self { market, tz }
    }

    pub fn for_instrument(kind: InstrumentKind, exchange: Option<&str>, symbol: &str) -> Self {
        Self::new(Market::for_instrument(kind, exchange, symbol))
    }

    pub fn market(&self) -> Market {
        self.market
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// True when the market never closes (crypto).
    pub fn is_continuous(&self) -> bool {
        self.market == Market::Crypto
    }

    /// The name of the holiday that closes the market on `date`, if any.
    /// Weekends are not holidays.
    pub fn holiday(&self, date: Date) -> Option<&'static str> {
        match self.market {
            Market::Nyse => nyse_holiday(date),
            Market::Lse => lse_holiday(date),
            Market::Xetra => xetra_holiday(date),
            Market::Euronext => euronext_holiday(date),
            Market::Tse => tse_holiday(date),
            Market::Crypto | Market::Fx => None,
        }
    }

    /// Whether the market has a regular session on this local date.
    pub fn is_trading_day(&self, date: Date) -> bool {
        match self.market {
            Market::Crypto => true,
            _ => !is_weekend(date) && self.holiday(date).is_none(),
        }
    }

    /// The regular sessions of a local trading date (two at TSE, none on a
    /// holiday). Crypto: the whole UTC day. FX: 17:00 New York the day before
    /// until 17:00 on the date.
    pub fn sessions(&self, day: Date) -> Vec<Session> {
        if !self.is_trading_day(day) {
            return Vec::new();
        }
        let local = |d: Date, t: Time| -> Option<Timestamp> {
            self.tz
                .to_ambiguous_timestamp(d.to_datetime(t))
                .compatible()
                .ok()
        };
        let span = |d0: Date, t0: Time, d1: Date, t1: Time| -> Option<Session> {
            Some(Session {
                open: local(d0, t0)?,
                close: local(d1, t1)?,
            })
        };
        let mut out = Vec::with_capacity(2);
        match self.market {
            Market::Crypto => {
                if let Ok(next) = day.tomorrow() {
                    out.extend(span(day, Time::midnight(), next, Time::midnight()));
                }
            }
            Market::Fx => {
                if let Ok(prev) = day.yesterday() {
                    out.extend(span(prev, time(17, 0, 0, 0), day, time(17, 0, 0, 0)));
                }
            }
            Market::Nyse => {
                let close = if nyse_early_close(day) {
                    time(13, 0, 0, 0)
                } else {
                    time(16, 0, 0, 0)
                };
                out.extend(span(day, time(9, 30, 0, 0), day, close));
            }
            Market::Lse => {
                let close = if is_dec(day, 24) || is_dec(day, 31) {
                    time(12, 30, 0, 0)
                } else {
                    time(16, 30, 0, 0)
                };
                out.extend(span(day, time(8, 0, 0, 0), day, close));
            }
            Market::Xetra => out.extend(span(day, time(9, 0, 0, 0), day, time(17, 30, 0, 0))),
            Market::Euronext => {
                let close = if is_dec(day, 24) || is_dec(day, 31) {
                    time(14, 5, 0, 0)
                } else {
                    time(17, 30, 0, 0)
                };
                out.extend(span(day, time(9, 0, 0, 0), day, close));
            }
            Market::Tse => {
                let close = if day >= date(2024, 11, 5) {
                    time(15, 30, 0, 0)
                } else {
                    time(15, 0, 0, 0)
                };
                out.extend(span(day, time(9, 0, 0, 0), day, time(11, 30, 0, 0)));
                out.extend(span(day, time(12, 30, 0, 0), day, close));
            }
        }
        out
    }

    /// The trading date `at` belongs to: the exchange's local calendar date
    /// (not necessarily a trading day), the UTC date for crypto, and for FX the
    /// New York date rolled at 17:00 (Friday 18:00 New York is Saturday).
    pub fn trading_date(&self, at: Timestamp) -> Date {
        match self.market {
            Market::Fx => {
                let dt = self.tz.to_datetime(at);
                if dt.time() >= time(17, 0, 0, 0) {
                    dt.date().tomorrow().unwrap_or(dt.date())
                } else {
                    dt.date()
                }
            }
            _ => self.tz.to_datetime(at).date(),
        }
    }

    /// Whether a regular session is in progress at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        if self.is_continuous() {
            return true;
        }
        let d = self.tz.to_datetime(at).date();
        [d.yesterday().ok(), Some(d), d.tomorrow().ok()]
            .into_iter()
            .flatten()
            .flat_map(|d| self.sessions(d))
            .any(|s| s.contains(at))
    }

    /// The next moment strictly after `after` at which the market opens
    /// (a closed → open transition). `None` for a market that never closes.
    pub fn next_open(&self, after: Timestamp) -> Option<Timestamp> {
        if self.is_continuous() {
            return None;
        }
        self.merged_sessions_from(after)
            .find(|s| s.open > after)
            .map(|s| s.open)
    }

    /// The next moment strictly after `after` at which the market closes: the
    /// end of the session in progress, or of the next one. Back-to-back
    /// sessions (FX from Monday to Friday) count as one. `None` for crypto.
    pub fn next_close(&self, after: Timestamp) -> Option<Timestamp> {
        if self.is_continuous() {
            return None;
        }
        self.merged_sessions_from(after)
            .find(|s| s.close > after)
            .map(|s| s.close)
    }

    /// Sessions from the day before `at` onwards (for up to a year), with
    /// sessions that touch merged into one.
    fn merged_sessions_from(&self, at: Timestamp) -> impl Iterator<Item = Session> + '_ {
        let start = self
            .tz
            .to_datetime(at)
            .date()
            .yesterday()
            .unwrap_or(Date::MIN);
        let mut days = std::iter::successors(Some(start), |d| d.tomorrow().ok()).take(370);
        let mut pending: Option<Session> = None;
        let mut queue: std::collections::VecDeque<Session> = Default::default();
        std::iter::from_fn(move || {
            loop {
                if let Some(s) = queue.pop_front() {
                    match pending {
                        Some(p) if p.close == s.open => {
                            pending = Some(Session {
                                open: p.open,
                                close: s.close,
                            })
                        }
                        Some(p) => {
                            pending = Some(s);
                            return Some(p);
                        }
                        None => pending = Some(s),
                    }
                    continue;
                }
                match days.next() {
                    Some(d) => queue.extend(self.sessions(d)),
                    None => return pending.take(),
                }
            }
        })
    }
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

fn is_dec(d: Date, day: i8) -> bool {
    d.month() == 12 && d.day() == day
}

fn ymd(y: i16, m: i8, d: i8) -> Option<Date> {
    Date::new(y, m, d).ok()
}

/// Easter Sunday (Gregorian), by the anonymous computus.
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 for every year jiff supports.
    Date::new(year, month as i8, day as i8).unwrap_or(date(2000, 4, 23))
}

fn easter_offset(year: i16, days: i64) -> Option<Date> {
    easter_sunday(year)
        .checked_add(jiff::Span::new().days(days))
        .ok()
}

/// The `n`th (1-based; -1 = last) `weekday` of a month.
fn nth_weekday(year: i16, month: i8, n: i8, weekday: Weekday) -> Option<Date> {
    ymd(year, month, 1)?.nth_weekday_of_month(n, weekday).ok()
}

/// US-style observance: Saturday → Friday before, Sunday → Monday after.
fn us_observed(d: Date) -> Option<Date> {
    match d.weekday() {
        Weekday::Saturday => d.yesterday().ok(),
        Weekday::Sunday => d.tomorrow().ok(),
        _ => Some(d),
    }
}

fn nyse_holiday(d: Date) -> Option<&'static str> {
    let y = d.year();
    let is = |x: Option<Date>| x == Some(d);
    // New Year's Day: Sunday → Monday; a Saturday New Year is not observed
    // on the Friday before (NYSE rule 7.2).
    let ny = ymd(y, 1, 1)?;
    if is(Some(ny)) || (ny.weekday() == Weekday::Sunday && is(ny.tomorrow().ok())) {
        return Some("New Year's Day");
    }
    if y >= 1998 && is(nth_weekday(y, 1, 3, Weekday::Monday)) {
        return Some("Martin Luther King Jr. Day");
    }
    if is(nth_weekday(y, 2, 3, Weekday::Monday)) {
        return Some("Washington's Birthday");
    }
    if is(easter_offset(y, -2)) {
        return Some("Good Friday");
    }
    if is(nth_weekday(y, 5, -1, Weekday::Monday)) {
        return Some("Memorial Day");
    }
    if y >= 2022 && is(ymd(y, 6, 19).and_then(us_observed)) {
        return Some("Juneteenth");
    }
    if is(ymd(y, 7, 4).and_then(us_observed)) {
        return Some("Independence Day");
    }
    if is(nth_weekday(y, 9, 1, Weekday::Monday)) {
        return Some("Labor Day");
    }
    if is(nth_weekday(y, 11, 4, Weekday::Thursday)) {
        return Some("Thanksgiving Day");
    }
    if is(ymd(y, 12, 25).and_then(us_observed)) {
        return Some("Christmas Day");
    }
    const ONE_OFF: [(i16, i8, i8, &str); 9] = [
        (2001, 9, 11, "September 11 attacks"),
        (2001, 9, 12, "September 11 attacks"),
        (2001, 9, 13, "September 11 attacks"),
        (2001, 9, 14, "September 11 attacks"),
        (2004, 6, 11, "National Day of Mourning (Reagan)"),
        (2007, 1, 2, "National Day of Mourning (Ford)"),
        (2012, 10, 29, "Hurricane Sandy"),
        (2012, 10, 30, "Hurricane Sandy"),
        (2018, 12, 5, "National Day of Mourning (G. H. W. Bush)"),
    ];
    if (y, d.month(), d.day()) == (2025, 1, 9) {
        return Some("National Day of Mourning (Carter)");
    }
    ONE_OFF
        .iter()
        .find(|(yy, m, dd, _)| (*yy, *m, *dd) == (y, d.month(), d.day()))
        .map(|(_, _, _, name)| *name)
}

/// NYSE closes at 13:00 on 3 July (when a weekday before Independence Day),
/// the day after Thanksgiving and 24 December.
fn nyse_early_close(d: Date) -> bool {
    let y = d.year();
    if is_weekend(d) || nyse_holiday(d).is_some() {
        return false;
    }
    (d.month() == 7 && d.day() == 3)
        || is_dec(d, 24)
        || nth_weekday(y, 11, 4, Weekday::Thursday).and_then(|t| t.tomorrow().ok()) == Some(d)
}

/// England and Wales: a weekend holiday moves to the next free weekday.
fn lse_holiday(d: Date) -> Option<&'static str> {
    let y = d.year();
    let is = |x: Option<Date>| x == Some(d);
    let ny = ymd(y, 1, 1)?;
    let ny_obs = match ny.weekday() {
        Weekday::Saturday => ny.checked_add(jiff::Span::new().days(2)).ok(),
        Weekday::Sunday => ny.tomorrow().ok(),
        _ => Some(ny),
    };
    if is(ny_obs) {
        return Some("New Year's Day");
    }
    if is(easter_offset(y, -2)) {
        return Some("Good Friday");
    }
    if is(easter_offset(y, 1)) {
        return Some("Easter Monday");
    }
    let early_may = match y {
        1995 | 2020 => ymd(y, 5, 8),
        _ => nth_weekday(y, 5, 1, Weekday::Monday),
    };
    if is(early_may) {
        return Some("Early May bank holiday");
    }
    let spring = match y {
        2002 | 2012 => ymd(y, 6, 4),
        2022 => ymd(y, 6, 2),
        _ => nth_weekday(y, 5, -1, Weekday::Monday),
    };
    if is(spring) {
        return Some("Spring bank holiday");
    }
    if is(nth_weekday(y, 8, -1, Weekday::Monday)) {
        return Some("Summer bank holiday");
    }
    // Christmas and Boxing Day with substitute days.
    let xmas = ymd(y, 12, 25)?;
    let (c, b) = match xmas.weekday() {
        Weekday::Friday => (25, 28),
        Weekday::Saturday => (27, 28),
        Weekday::Sunday => (27, 26),
        _ => (25, 26),
    };
    if is(ymd(y, 12, c)) {
        return Some("Christmas Day");
    }
    if is(ymd(y, 12, b)) {
        return Some("Boxing Day");
    }
    match (y, d.month(), d.day()) {
        (1999, 12, 31) => Some("Millennium"),
        (2002, 6, 3) => Some("Golden Jubilee"),
        (2011, 4, 29) => Some("Royal Wedding"),
        (2012, 6, 5) => Some("Diamond Jubilee"),
        (2022, 6, 3) => Some("Platinum Jubilee"),
        (2022, 9, 19) => Some("State Funeral of Queen Elizabeth II"),
        (2023, 5, 8) => Some("Coronation of King Charles III"),
        _ => None,
    }
}

fn xetra_holiday(d: Date) -> Option<&'static str> {
    let y = d.year();
    if easter_offset(y, -2) == Some(d) {
        return Some("Good Friday");
    }
    if easter_offset(y, 1) == Some(d) {
        return Some("Easter Monday");
    }
    match (d.month(), d.day()) {
        (1, 1) => Some("New Year's Day"),
        (5, 1) => Some("Labour Day"),
        (12, 24) => Some("Christmas Eve"),
        (12, 25) => Some("Christmas Day"),
        (12, 26) => Some("Boxing Day"),
        (12, 31) => Some("New Year's Eve"),
        _ => None,
    }
}

fn euronext_holiday(d: Date) -> Option<&'static str> {
    let y = d.year();
    if easter_offset(y, -2) == Some(d) {
        return Some("Good Friday");
    }
    if easter_offset(y, 1) == Some(d) {
        return Some("Easter Monday");
    }
    match (d.month(), d.day()) {
        (1, 1) => Some("New Year's Day"),
        (5, 1) => Some("Labour Day"),
        (12, 25) => Some("Christmas Day"),
        (12, 26) => Some("Boxing Day"),
        _ => None,
    }
}

fn tse_holiday(d: Date) -> Option<&'static str> {
    match (d.month(), d.day()) {
        (1, 2) | (1, 3) => return Some("New Year holidays"),
        (12, 31) => return Some("New Year's Eve"),
        _ => {}
    }
    jp_holiday(d)
}

/// Day of the vernal (`autumn == false`) or autumnal equinox in Japan, 1980–2099.
fn jp_equinox_day(year: i16, autumn: bool) -> i8 {
    let y = f64::from(year - 1980);
    let base = if autumn { 23.2488 } else { 20.8431 };
    (base + 0.242194 * y - (y / 4.0).floor()).floor() as i8
}

/// Japanese national holidays by statute, before substitute and citizens' days.
fn jp_base_holiday(d: Date) -> Option<&'static str> {
    let y = d.year();
    let (m, dd) = (d.month(), d.day());
    let is = |x: Option<Date>| x == Some(d);
    let fixed = match (m, dd) {
        (1, 1) => Some("New Year's Day"),
        (2, 11) => Some("National Foundation Day"),
        (2, 23) if y >= 2020 => Some("Emperor's Birthday"),
        (12, 23) if (1989..=2018).contains(&y) => Some("Emperor's Birthday"),
        (4, 29) => Some("Showa Day"),
        (5, 3) => Some("Constitution Memorial Day"),
        (5, 4) if y >= 2007 => Some("Greenery Day"),
        (5, 5) => Some("Children's Day"),
        (11, 3) => Some("Culture Day"),
        (11, 23) => Some("Labour Thanksgiving Day"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    if y >= 2000 && is(nth_weekday(y, 1, 2, Weekday::Monday)) {
        return Some("Coming of Age Day");
    }
    if m == 3 && dd == jp_equinox_day(y, false) {
        return Some("Vernal Equinox Day");
    }
    if m == 9 && dd == jp_equinox_day(y, true) {
        return Some("Autumnal Equinox Day");
    }
    let marine = match y {
        2020 => ymd(y, 7, 23),
        2021 => ymd(y, 7, 22),
        _ if y >= 2003 => nth_weekday(y, 7, 3, Weekday::Monday),
        _ => ymd(y, 7, 20),
    };
    if is(marine) {
        return Some("Marine Day");
    }
    let mountain = match y {
        2020 => ymd(y, 8, 10),
        2021 => ymd(y, 8, 8),
        _ if y >= 2016 => ymd(y, 8, 11),
        _ => None,
    };
    if is(mountain) {
        return Some("Mountain Day");
    }
    if y >= 2003 && is(nth_weekday(y, 9, 3, Weekday::Monday)) {
        return Some("Respect for the Aged Day");
    }
    let sports = match y {
        2020 => ymd(y, 7, 24),
        2021 => ymd(y, 7, 23),
        _ if y >= 2000 => nth_weekday(y, 10, 2, Weekday::Monday),
        _ => ymd(y, 10, 10),
    };
    if is(sports) {
        return Some("Sports Day");
    }
    match (y, m, dd) {
        (2019, 4, 30) | (2019, 5, 2) => Some("Imperial abdication and enthronement"),
        (2019, 5, 1) => Some("Enthronement Day"),
        (2019, 10, 22) => Some("Enthronement Ceremony"),
        _ => None,
    }
}

/// Japanese holidays including substitute holidays (a holiday on Sunday moves
/// to the next non-holiday) and citizens' holidays (a day between two holidays).
fn jp_holiday(d: Date) -> Option<&'static str> {
    if let Some(h) = jp_base_holiday(d) {
        return Some(h);
    }
    // Substitute: walk back over consecutive holidays looking for a Sunday.
    let mut back = d.yesterday().ok();
    while let Some(p) = back {
        if jp_base_holiday(p).is_none() {
            break;
        }
        if p.weekday() == Weekday::Sunday {
            return Some("Substitute holiday");
        }
        back = p.yesterday().ok();
    }
    let prev = d.yesterday().ok().and_then(jp_base_holiday);
    let next = d.tomorrow().ok().and_then(jp_base_holiday);
    if prev.is_some() && next.is_some() && d.weekday() != Weekday::Sunday {
        return Some("Citizens' holiday");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cal(m: Market) -> Calendar {
        Calendar::new(m)
    }

    #[test]
    fn easter_matches_known_dates() {
        assert_eq!(easter_sunday(2024), date(2024, 3, 31));
        assert_eq!(easter_sunday(2025), date(2025, 4, 20));
        assert_eq!(easter_sunday(2019), date(2019, 4, 21));
        assert_eq!(easter_sunday(2038), date(2038, 4, 25));
        assert_eq!(easter_sunday(1818), date(1818, 3, 22));
    }

    #[test]
    fn nyse_is_closed_on_independence_day_and_good_friday_2024() {
        let c = cal(Market::Nyse);
        assert_eq!(c.holiday(date(2024, 7, 4)), Some("Independence Day"));
        assert_eq!(c.holiday(date(2024, 3, 29)), Some("Good Friday"));
        assert!(!c.is_trading_day(date(2024, 7, 4)));
        assert!(!c.is_trading_day(date(2024, 3, 29)));
        assert!(!c.is_open(ts("2024-07-04T15:00:00Z")));
        assert!(c.is_trading_day(date(2024, 7, 5)));
    }

    #[test]
    fn nyse_full_2024_holiday_list_matches_the_published_one() {
        let c = cal(Market::Nyse);
        let published = [
            date(2024, 1, 1),
            date(2024, 1, 15),
            date(2024, 2, 19),
            date(2024, 3, 29),
            date(2024, 5, 27),
            date(2024, 6, 19),
            date(2024, 7, 4),
            date(2024, 9, 2),
            date(2024, 11, 28),
            date(2024, 12, 25),
        ];
        let found: Vec<Date> = std::iter::successors(Some(date(2024, 1, 1)), |d| d.tomorrow().ok())
            .take_while(|d| d.year() == 2024)
            .filter(|d| c.holiday(*d).is_some())
            .collect();
        assert_eq!(found, published);
    }

    #[test]
    fn nyse_observes_weekend_holidays_on_the_nearest_weekday() {
        let c = cal(Market::Nyse);
        // 2021-07-04 was a Sunday → Monday 5th; 2022-06-19 Sunday → 20th;
        // 2021-12-25 Saturday → Friday 24th; 2022-01-01 Saturday → not observed.
        assert!(!c.is_trading_day(date(2021, 7, 5)));
        assert!(!c.is_trading_day(date(2022, 6, 20)));
        assert!(!c.is_trading_day(date(2021, 12, 24)));
        assert!(c.is_trading_day(date(2021, 12, 31)));
        assert!(!c.is_trading_day(date(2023, 1, 2)));
        assert!(
            c.is_trading_day(date(2021, 6, 18)),
            "no Juneteenth before 2022"
        );
    }

    #[test]
    fn nyse_regular_hours_follow_new_york_dst() {
        let c = cal(Market::Nyse);
        // Winter: 09:30 EST = 14:30Z. Summer: 09:30 EDT = 13:30Z.
        assert!(!c.is_open(ts("2024-01-10T14:29:59Z")));
        assert!(c.is_open(ts("2024-01-10T14:30:00Z")));
        assert!(c.is_open(ts("2024-01-10T20:59:59Z")));
        assert!(!c.is_open(ts("2024-01-10T21:00:00Z")));
        assert!(c.is_open(ts("2024-07-10T13:30:00Z")));
        assert!(!c.is_open(ts("2024-07-10T20:00:00Z")));
    }

    #[test]
    fn nyse_closes_early_after_thanksgiving_and_on_christmas_eve() {
        let c = cal(Market::Nyse);
        let s = c.sessions(date(2024, 11, 29));
        assert_eq!(s[0].close, ts("2024-11-29T18:00:00Z"));
        assert!(!c.is_open(ts("2024-12-24T18:30:00Z")));
        assert!(c.is_open(ts("2024-12-24T17:30:00Z")));
        assert_eq!(
            c.sessions(date(2024, 7, 3))[0].close,
            ts("2024-07-03T17:00:00Z")
        );
    }

    #[test]
    fn next_open_skips_weekends_and_holidays() {
        let c = cal(Market::Nyse);
        // Friday 2024-03-28 after the close → Good Friday and the weekend → Monday.
        assert_eq!(
            c.next_open(ts("2024-03-28T21:00:00Z")),
            Some(ts("2024-04-01T13:30:00Z"))
        );
        assert_eq!(
            c.next_close(ts("2024-03-28T21:00:00Z")),
            Some(ts("2024-04-01T20:00:00Z"))
        );
        // During a session the next close is today's.
        assert_eq!(
            c.next_close(ts("2024-04-02T15:00:00Z")),
            Some(ts("2024-04-02T20:00:00Z"))
        );
        assert_eq!(
            c.next_open(ts("2024-04-02T15:00:00Z")),
            Some(ts("2024-04-03T13:30:00Z"))
        );
    }

    #[test]
    fn lse_is_closed_on_boxing_day_2024_and_has_half_days() {
        let c = cal(Market::Lse);
        assert_eq!(c.holiday(date(2024, 12, 26)), Some("Boxing Day"));
        assert!(!c.is_trading_day(date(2024, 12, 26)));
        assert!(c.is_trading_day(date(2024, 12, 24)));
        assert_eq!(
            c.sessions(date(2024, 12, 24))[0].close,
            ts("2024-12-24T12:30:00Z")
        );
        // Summer time: 08:00 BST = 07:00Z.
        assert!(c.is_open(ts("2024-06-03T07:00:00Z")));
        assert!(!c.is_open(ts("2024-06-03T15:30:00Z")));
    }

    #[test]
    fn lse_substitutes_weekend_christmas_and_new_year() {
        let c = cal(Market::Lse);
        // 2021: Christmas Saturday, Boxing Day Sunday → 27th and 28th.
        assert!(!c.is_trading_day(date(2021, 12, 27)));
        assert!(!c.is_trading_day(date(2021, 12, 28)));
        // 2022-01-01 Saturday → Monday 3rd.
        assert!(!c.is_trading_day(date(2022, 1, 3)));
        assert_eq!(c.holiday(date(2022, 6, 3)), Some("Platinum Jubilee"));
        assert!(!c.is_trading_day(date(2020, 5, 8)));
        assert!(c.is_trading_day(date(2020, 5, 4)));
    }

    #[test]
    fn xetra_and_euronext_close_on_their_own_holidays() {
        let x = cal(Market::Xetra);
        let e = cal(Market::Euronext);
        assert!(!x.is_trading_day(date(2024, 12, 24)));
        assert!(e.is_trading_day(date(2024, 12, 24)));
        assert!(!x.is_trading_day(date(2024, 5, 1)));
        assert!(!e.is_trading_day(date(2024, 4, 1)), "Easter Monday");
        assert!(x.is_open(ts("2024-03-04T08:00:00Z")), "09:00 CET");
        assert!(!x.is_open(ts("2024-03-04T16:30:00Z")), "17:30 CET");
        assert_eq!(
            e.sessions(date(2024, 12, 31))[0].close,
            ts("2024-12-31T13:05:00Z")
        );
    }

    #[test]
    fn tse_closes_for_lunch() {
        let c = cal(Market::Tse);
        // 2025-03-03 (Mon), JST = UTC+9.
        assert!(c.is_open(ts("2025-03-03T02:29:00Z")), "11:29 JST");
        assert!(!c.is_open(ts("2025-03-03T02:30:00Z")), "11:30 JST lunch");
        assert!(!c.is_open(ts("2025-03-03T03:29:00Z")), "12:29 JST lunch");
        assert!(c.is_open(ts("2025-03-03T03:30:00Z")), "12:30 JST");
        assert!(c.is_open(ts("2025-03-03T06:29:00Z")), "15:29 JST");
        assert!(!c.is_open(ts("2025-03-03T06:30:00Z")), "15:30 JST");
        assert_eq!(
            c.next_open(ts("2025-03-03T02:45:00Z")),
            Some(ts("2025-03-03T03:30:00Z"))
        );
        assert_eq!(
            c.next_close(ts("2025-03-03T01:00:00Z")),
            Some(ts("2025-03-03T02:30:00Z"))
        );
        // Before 2024-11-05 the afternoon session ended at 15:00.
        assert!(!c.is_open(ts("2024-03-04T06:10:00Z")));
    }

    #[test]
    fn tse_holidays_include_equinoxes_substitutes_and_new_year() {
        let c = cal(Market::Tse);
        for d in [
            date(2024, 1, 2),
            date(2024, 1, 3),
            date(2024, 1, 8),  // Coming of Age
            date(2024, 2, 12), // substitute for Sunday 11 Feb
            date(2024, 3, 20), // vernal equinox
            date(2024, 5, 6),  // substitute for Sunday 5 May
            date(2024, 9, 23), // substitute for Sunday 22 Sep equinox
            date(2024, 12, 31),
            date(2026, 9, 22), // citizens' holiday between two holidays
        ] {
            assert!(!c.is_trading_day(d), "{d} should be closed");
        }
        assert!(c.is_trading_day(date(2024, 1, 4)));
    }

    #[test]
    fn crypto_never_closes_and_uses_utc_dates() {
        let c = cal(Market::Crypto);
        assert!(c.is_open(ts("2024-12-25T03:00:00Z")));
        assert!(c.is_trading_day(date(2024, 1, 1)));
        assert_eq!(c.next_open(ts("2024-12-25T03:00:00Z")), None);
        assert_eq!(c.next_close(ts("2024-12-25T03:00:00Z")), None);
        assert_eq!(
            c.trading_date(ts("2024-12-25T23:59:59Z")),
            date(2024, 12, 25)
        );
    }

    #[test]
    fn fx_trades_sunday_evening_to_friday_evening_new_york() {
        let c = cal(Market::Fx);
        // 2024-03-01 is a Friday. 17:00 EST = 22:00Z.
        assert!(c.is_open(ts("2024-03-01T21:59:00Z")));
        assert!(!c.is_open(ts("2024-03-01T22:00:00Z")));
        assert!(!c.is_open(ts("2024-03-02T12:00:00Z")));
        assert!(c.is_open(ts("2024-03-03T22:00:00Z")), "Sunday 17:00 EST");
        assert!(
            c.is_open(ts("2024-03-05T22:00:00Z")),
            "open through the week"
        );
        assert_eq!(
            c.next_open(ts("2024-03-02T12:00:00Z")),
            Some(ts("2024-03-03T22:00:00Z"))
        );
        assert_eq!(
            c.next_close(ts("2024-03-04T12:00:00Z")),
            Some(ts("2024-03-08T22:00:00Z")),
            "the week is one session"
        );
        assert_eq!(c.trading_date(ts("2024-03-03T22:30:00Z")), date(2024, 3, 4));
        assert!(!c.is_trading_day(date(2024, 3, 2)));
    }

    #[test]
    fn trading_date_is_the_exchange_local_date() {
        // 2024-01-03 00:30 in Tokyo is still 2 January in UTC.
        let tse = cal(Market::Tse);
        assert_eq!(
            tse.trading_date(ts("2024-01-02T15:30:00Z")),
            date(2024, 1, 3)
        );
        // A New York daily bar stamped at the 09:30 open.
        let nyse = cal(Market::Nyse);
        assert_eq!(
            nyse.trading_date(ts("2020-01-02T14:30:00Z")),
            date(2020, 1, 2)
        );
    }

    #[test]
    fn maps_exchange_codes_suffixes_and_kinds_to_calendars() {
        use InstrumentKind as K;
        assert_eq!(Market::for_instrument(K::Stock, None, "AAPL"), Market::Nyse);
        assert_eq!(
            Market::for_instrument(K::Stock, None, "BRK.B"),
            Market::Nyse
        );
        assert_eq!(Market::for_instrument(K::Stock, None, "VOD.L"), Market::Lse);
        assert_eq!(
            Market::for_instrument(K::Etf, None, "VWCE.DE"),
            Market::Xetra
        );
        assert_eq!(
            Market::for_instrument(K::Stock, None, "MC.PA"),
            Market::Euronext
        );
        assert_eq!(
            Market::for_instrument(K::Stock, None, "7203.T"),
            Market::Tse
        );
        assert_eq!(
            Market::for_instrument(K::Crypto, None, "BTC-USD"),
            Market::Crypto
        );
        assert_eq!(Market::for_instrument(K::Fx, None, "EURUSD=X"), Market::Fx);
        assert_eq!(
            Market::for_instrument(K::Commodity, None, "GC=F"),
            Market::Fx
        );
        assert_eq!(
            Market::for_instrument(K::Stock, Some("XETRA"), "SAP"),
            Market::Xetra
        );
        assert_eq!(Market::from_exchange_code("NMS"), Some(Market::Nyse));
        assert_eq!(Market::from_exchange_code("nowhere"), None);
        assert_eq!(Market::from_symbol_suffix("WSKT.JK"), None);
    }
}
