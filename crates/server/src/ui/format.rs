//! Number, money and change formatting for the UI. Pure.

use rust_decimal::{Decimal, prelude::ToPrimitive};

/// HTML/XML escaping for text and attribute values built outside templates.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Groups the integer part with thin commas: 1234567.891 → "1,234,567.89".
pub fn group(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "—".to_owned();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
        None => (text.clone(), None),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "−"
    } else {
        ""
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Decimals that suit a price's magnitude (crypto fractions need more).
pub fn price_decimals(v: f64) -> usize {
    let a = v.abs();
    if a == 0.0 || a >= 1.0 {
        2
    } else if a >= 0.01 {
        4
    } else {
        6
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// A price or amount with its currency: "$1,234.56", "€12.30", "1,234.00 CHF".
pub fn format_price(v: f64, currency: &str) -> String {
    let decimals = if currency == "JPY" {
        0
    } else {
        price_decimals(v)
    };
    money_text(v, decimals, currency)
}

fn money_text(v: f64, decimals: usize, currency: &str) -> String {
    let body = group(v, decimals);
    match symbol(currency) {
        Some(s) => match body.strip_prefix('−') {
            Some(rest) => format!("−{s}{rest}"),
            None => format!("{s}{body}"),
        },
        None if currency.is_empty() => body,
        None => format!("{body} {currency}"),
    }
}

/// Money amounts (values, gains) with two decimals.
pub fn money(v: Decimal, currency: &str) -> String {
    let decimals = if currency == "JPY" { 0 } else { 2 };
    money_text(v.to_f64().unwrap_or(f64::NAN), decimals, currency)
}

pub fn money_f(v: f64, currency: &str) -> String {
    let decimals = if currency == "JPY" { 0 } else { 2 };
    money_text(v, decimals, currency)
}

/// A signed change: "+$1.20" / "−$0.80".
pub fn signed_money_f(v: f64, currency: &str) -> String {
    let text = money_f(v, currency);
    if v > 0.0 { format!("+{text}") } else { text }
}

pub fn signed_price(v: f64, currency: &str) -> String {
    let text = format_price(v, currency);
    if v > 0.0 { format!("+{text}") } else { text }
}

/// A fraction as a percentage with an arrow: "▲ 1.23%", "▼ 0.50%".
pub fn pct_arrow(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "—".to_owned();
    }
    let p = fraction * 100.0;
    if p > 0.0005 {
        format!("▲ {}%", group(p, 2))
    } else if p < -0.0005 {
        format!("▼ {}%", group(p.abs(), 2))
    } else {
        "0.00%".to_owned()
    }
}

/// A fraction as a signed percentage: "+1.23%", "−0.50%".
pub fn pct(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "—".to_owned();
    }
    let p = fraction * 100.0;
    let text = group(p, 2);
    if p > 0.0005 {
        format!("+{text}%")
    } else {
        format!("{text}%")
    }
}

/// `up`, `down` or `flat`: the CSS class of a change.
pub fn direction(v: f64) -> &'static str {
    if v > 0.0 {
        "up"
    } else if v < 0.0 {
        "down"
    } else {
        "flat"
    }
}

/// 1234 → "1.2k", 5_600_000 → "5.6M".
pub fn compact_number(v: f64) -> String {
    let a = v.abs();
    let (n, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        return group(v, if a < 10.0 && a.fract() != 0.0 { 2 } else { 0 });
    };
    format!("{}{suffix}", group(n, if n.abs() < 10.0 { 2 } else { 1 }))
}

/// A decimal quantity without trailing zeros, grouped.
pub fn quantity(q: Decimal) -> String {
    let n = q.normalize();
    let scale = n.scale() as usize;
    group(n.to_f64().unwrap_or(f64::NAN), scale.min(8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn groups_thousands_and_signs_with_a_real_minus() {
        assert_eq!(group(1234567.891, 2), "1,234,567.89");
        assert_eq!(group(-12.5, 2), "−12.50");
        assert_eq!(group(999.0, 0), "999");
        assert_eq!(group(-0.001, 2), "0.00");
    }

    #[test]
    fn money_uses_symbols_or_codes() {
        assert_eq!(format_price(187.25, "USD"), "$187.25");
        assert_eq!(format_price(-3.5, "EUR"), "−€3.50");
        assert_eq!(format_price(1234.0, "CHF"), "1,234.00 CHF");
        assert_eq!(format_price(0.000123, "USD"), "$0.000123");
        assert_eq!(money(dec!(1500), "JPY"), "¥1,500");
    }

    #[test]
    fn changes_carry_sign_and_arrow_not_only_colour() {
        assert_eq!(pct_arrow(0.0123), "▲ 1.23%");
        assert_eq!(pct_arrow(-0.005), "▼ 0.50%");
        assert_eq!(pct(0.1), "+10.00%");
        assert_eq!(signed_money_f(-2.0, "USD"), "−$2.00");
        assert_eq!(direction(-1.0), "down");
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact_number(1234.0), "1.23k");
        assert_eq!(compact_number(5_600_000.0), "5.60M");
        assert_eq!(quantity(dec!(10.500)), "10.5");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
