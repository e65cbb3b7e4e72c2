//! Reporting periods. A period is (start, end]: the close of `start` is the
//! reference value and returns are earned on the days after it up to and
//! including `end` (Portfolio Performance's convention; Ghostfolio's ranges
//! likewise start at the close of the day before the period's first day).

use super::{
    AnalyticsError, AnalyticsResult,
    day::{date_of, day_of},
};
use jiff::{
    ToSpan,
    civil::{Date, Weekday},
};
use serde::{Deserialize, Serialize};

/// The named periods of the UI and API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeriodPreset {
    #[serde(rename = "1D")]
    OneDay,
    /// Since the close of the Sunday before this week's Monday.
    #[serde(rename = "WTD")]
    WeekToDate,
    #[serde(rename = "1W")]
    OneWeek,
    #[serde(rename = "MTD")]
    MonthToDate,
    #[serde(rename = "1M")]
    OneMonth,
    #[serde(rename = "YTD")]
    YearToDate,
    #[serde(rename = "1Y")]
    OneYear,
    #[serde(rename = "3Y")]
    ThreeYears,
    #[serde(rename = "5Y")]
    FiveYears,
    /// Since inception: from the close of the day before the first activity.
    #[serde(rename = "MAX")]
    Max,
}

impl PeriodPreset {
    pub const ALL: [PeriodPreset; 10] = [
        Self::OneDay,
        Self::WeekToDate,
        Self::OneWeek,
        Self::MonthToDate,
        Self::OneMonth,
        Self::YearToDate,
        Self::OneYear,
        Self::ThreeYears,
        Self::FiveYears,
        Self::Max,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneDay => "1D",
            Self::WeekToDate => "WTD",
            Self::OneWeek => "1W",
            Self::MonthToDate => "MTD",
            Self::OneMonth => "1M",
            Self::YearToDate => "YTD",
            Self::OneYear => "1Y",
            Self::ThreeYears => "3Y",
            Self::FiveYears => "5Y",
            Self::Max => "MAX",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let upper = s.trim().to_ascii_uppercase();
        Self::ALL.into_iter().find(|p| p.as_str() == upper)
    }
}

/// A preset, or explicit first and last days (both included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodSpec {
    Preset(PeriodPreset),
    /// Returns over the days `from..=to`; the reference value is the close of
    /// the day before `from`.
    Custom {
        from: Date,
        to: Date,
    },
}

/// A resolved period: reference close `start`, last day `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: Date,
    pub end: Date,
}

impl Period {
    /// A period with an explicit reference day; `start` must not be after `end`.
    pub fn new(start: Date, end: Date) -> AnalyticsResult<Self> {
        if start > end {
            return Err(AnalyticsError::InvalidPeriod { start, end });
        }
        Ok(Self { start, end })
    }

    /// Resolves a spec against the evaluation date and the date of the first
    /// activity. Starts before inception are moved to the inception
    /// reference (the day before the first activity).
    pub fn resolve(
        spec: PeriodSpec,
        evaluation_date: Date,
        first_activity: Option<Date>,
    ) -> AnalyticsResult<Self> {
        let end_day = day_of(evaluation_date);
        let inception = first_activity
            .map_or(end_day, |d| day_of(d) - 1)
            .min(end_day);
        let years_back = |n: i64| {
            evaluation_date
                .checked_sub(n.years())
                .map_or(inception, day_of)
        };
        let (start, end) = match spec {
            PeriodSpec::Custom { from, to } => {
                if from > to {
                    return Err(AnalyticsError::InvalidPeriod {
                        start: from,
                        end: to,
                    });
                }
                (day_of(from) - 1, day_of(to))
            }
            PeriodSpec::Preset(p) => {
                let start = match p {
                    PeriodPreset::OneDay => end_day - 1,
                    PeriodPreset::WeekToDate => {
                        let since_monday = evaluation_date.weekday().since(Weekday::Monday);
                        end_day - i32::from(since_monday) - 1
                    }
                    PeriodPreset::OneWeek => end_day - 7,
                    PeriodPreset::MonthToDate => day_of(evaluation_date.first_of_month()) - 1,
                    PeriodPreset::OneMonth => evaluation_date
                        .checked_sub(1.month())
                        .map_or(inception, day_of),
                    PeriodPreset::YearToDate => day_of(evaluation_date.first_of_year()) - 1,
                    PeriodPreset::OneYear => years_back(1),
                    PeriodPreset::ThreeYears => years_back(3),
                    PeriodPreset::FiveYears => years_back(5),
                    PeriodPreset::Max => inception,
                };
                (start, end_day)
            }
        };
        let start = start.max(inception.min(end));
        Period::new(date_of(start), date_of(end))
    }

    /// Calendar days from the reference close to the end.
    pub fn days(&self) -> i32 {
        day_of(self.end) - day_of(self.start)
    }

    /// Whether `date` is inside (start, end].
    pub fn contains(&self, date: Date) -> bool {
        date > self.start && date <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn resolve(p: PeriodPreset, eval: &str) -> Period {
        Period::resolve(PeriodSpec::Preset(p), d(eval), Some(d("2020-01-10"))).unwrap()
    }

    #[test]
    fn presets_start_at_the_close_before_their_first_day() {
        // 2021-12-18 is a Saturday.
        assert_eq!(
            resolve(PeriodPreset::OneDay, "2021-12-18").start,
            d("2021-12-17")
        );
        assert_eq!(
            resolve(PeriodPreset::WeekToDate, "2021-12-18").start,
            d("2021-12-12")
        );
        assert_eq!(
            resolve(PeriodPreset::MonthToDate, "2021-12-18").start,
            d("2021-11-30")
        );
        assert_eq!(
            resolve(PeriodPreset::YearToDate, "2021-12-18").start,
            d("2020-12-31")
        );
        assert_eq!(
            resolve(PeriodPreset::OneYear, "2021-12-18").start,
            d("2020-12-18")
        );
        assert_eq!(
            resolve(PeriodPreset::Max, "2021-12-18").start,
            d("2020-01-09")
        );
        assert_eq!(
            resolve(PeriodPreset::FiveYears, "2021-12-18").start,
            d("2020-01-09")
        );
        // A Monday's week to date starts at the Sunday before.
        assert_eq!(
            resolve(PeriodPreset::WeekToDate, "2021-12-13").start,
            d("2021-12-12")
        );
    }

    #[test]
    fn custom_periods_include_their_first_day() {
        let p = Period::resolve(
            PeriodSpec::Custom {
                from: d("2021-01-01"),
                to: d("2021-12-31"),
            },
            d("2022-06-01"),
            Some(d("2020-01-10")),
        )
        .unwrap();
        assert_eq!((p.start, p.end), (d("2020-12-31"), d("2021-12-31")));
        assert!(
            Period::resolve(
                PeriodSpec::Custom {
                    from: d("2021-02-01"),
                    to: d("2021-01-01")
                },
                d("2022-06-01"),
                None
            )
            .is_err()
        );
    }
}
