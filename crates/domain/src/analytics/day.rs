//! Calendar days as plain integers, so that daily series are indexed by day
//! number instead of looking dates up in maps.

use jiff::civil::Date;

/// Days since 1970-01-01 (negative before it).
pub(crate) type Day = i32;

/// The day number of a civil date (proleptic Gregorian calendar).
pub(crate) fn day_of(date: Date) -> Day {
    let (y, m, d) = (
        i32::from(date.year()),
        i32::from(date.month()),
        i32::from(date.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let year_of_era = y - era * 400;
    let month_from_march = (m + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date of a day number; clamped to jiff's supported range.
pub(crate) fn date_of(day: Day) -> Date {
    let z = day + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let m = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let y = year_of_era + era * 400 + i32::from(m <= 2);
    match (i16::try_from(y), i8::try_from(m), i8::try_from(d)) {
        (Ok(y), Ok(m), Ok(d)) => {
            Date::new(y, m, d).unwrap_or(if day < 0 { Date::MIN } else { Date::MAX })
        }
        _ if day < 0 => Date::MIN,
        _ => Date::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_jiff_day_differences() {
        let epoch = Date::new(1970, 1, 1).unwrap();
        assert_eq!(day_of(epoch), 0);
        for (y, m, d) in [
            (1900, 3, 1),
            (2000, 2, 29),
            (2021, 12, 18),
            (2024, 12, 31),
            (1969, 12, 31),
            (2100, 1, 1),
        ] {
            let date = Date::new(y, m, d).unwrap();
            let n = day_of(date);
            assert_eq!(date_of(n), date);
            let span = epoch.until(date).unwrap();
            assert_eq!(i64::from(n), i64::from(span.get_days()), "{date}");
        }
    }
}
