//! Where the `url` provider reads an instrument's price: pure data.
//!
//! The JSON shape is the one `PRICETRACK_PROVIDER_URL_SOURCES` has always
//! used, so a source written for the environment can be stored on an
//! instrument unchanged. Compiling the expressions (JSONPath, CSS selector,
//! regex) needs parser crates the domain must not depend on; that check lives
//! with the provider (`pricetrack_providers::url_source::validate`).

use serde::{Deserialize, Serialize};

/// How the price is picked from the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extractor {
    /// RFC 9535 JSONPath; the first match (a number or a string) is the price.
    JsonPath(String),
    /// The first element matching the CSS selector; its text, or `attribute`.
    Css {
        selector: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attribute: Option<String>,
    },
    /// The first match; its first capture group when it has one.
    Regex(String),
}

impl Extractor {
    /// The key naming this kind in the JSON shape (`json_path`, `css`, `regex`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::JsonPath(_) => "json_path",
            Self::Css { .. } => "css",
            Self::Regex(_) => "regex",
        }
    }
}

/// How numbers are written on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// Guess: the last of `.`/`,` is the decimal mark when both appear; a
    /// lone `,` followed by exactly three digits is a thousands separator.
    #[default]
    Auto,
    /// `1,234.56`
    DecimalPoint,
    /// `1.234,56`
    DecimalComma,
}

impl NumberFormat {
    pub const ALL: [NumberFormat; 3] = [Self::Auto, Self::DecimalPoint, Self::DecimalComma];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::DecimalPoint => "decimal_point",
            Self::DecimalComma => "decimal_comma",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Where and how to read one instrument's price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlSource {
    /// `http(s)` URL; `{SYMBOL}` and `{DATE}` (YYYY-MM-DD) are replaced.
    pub url: String,
    pub extract: Extractor,
    #[serde(default)]
    pub number_format: NumberFormat,
}

impl UrlSource {
    pub fn new(url: impl Into<String>, extract: Extractor) -> Self {
        Self {
            url: url.into(),
            extract,
            number_format: NumberFormat::Auto,
        }
    }

    pub fn with_number_format(mut self, f: NumberFormat) -> Self {
        self.number_format = f;
        self
    }

    /// Whether each day has its own URL (so history can be fetched).
    pub fn uses_date(&self) -> bool {
        self.url.contains("{DATE}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_environment_json_shape() {
        let css: UrlSource = serde_json::from_str(
            r#"{"url":"https://x.test/{SYMBOL}","extract":{"css":{"selector":"span.p"}},"number_format":"decimal_comma"}"#,
        )
        .unwrap();
        assert_eq!(
            css.extract,
            Extractor::Css {
                selector: "span.p".into(),
                attribute: None
            }
        );
        assert_eq!(css.number_format, NumberFormat::DecimalComma);
        let re: UrlSource =
            serde_json::from_str(r#"{"url":"https://x.test","extract":{"regex":"(\\d+)"}}"#)
                .unwrap();
        assert_eq!(re.number_format, NumberFormat::Auto);
        let back = serde_json::to_value(&css).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"url":"https://x.test/{SYMBOL}","extract":{"css":{"selector":"span.p"}},"number_format":"decimal_comma"})
        );
    }
}
