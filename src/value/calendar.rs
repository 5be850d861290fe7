//! Calendar arithmetic, once for the crate: day counts since 1970-01-01 and
//! dates in the proleptic Gregorian calendar (RFC 3339, `java.time`, what
//! the CBOR codecs write and read) and in the calendar `java.util.Date`
//! prints and Clojure's `#inst` reader uses: `GregorianCalendar` with its
//! default cutover, Julian before 1582-10-15.
//!
//! `jiff` covers only the years -9999 to 9999, and instants here reach
//! ±292 million years (all of `i64` milliseconds), so these are H. Hinnant's
//! `days_from_civil` / `civil_from_days` over `i64`. Years are astronomical
//! (year 0 is 1 BC); months and days count from 1. Callers keep years within
//! ±10¹² so that nothing overflows.

/// Milliseconds in a day.
pub(crate) const MS_PER_DAY: i64 = 86_400_000;

/// The first day of the Gregorian calendar in `GregorianCalendar`
/// (1582-10-15, the day after Julian 1582-10-04), in days since 1970-01-01.
pub(crate) const CUTOVER_DAY: i64 = -141_427;

/// Whether `year` has a 29 February in the proleptic Gregorian calendar.
pub(crate) fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn month_length(month: i64, leap: bool) -> i64 {
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days in `month` (1–12) of `year`, proleptic Gregorian.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    month_length(month, is_leap_year(year))
}

/// March-based month index and day of that year (March 1 is 0).
fn day_of_march_year(month: i64, day: i64) -> i64 {
    let mp = (month + 9) % 12;
    (153 * mp + 2) / 5 + day - 1
}

/// Month and day of a day of a March-based year.
fn month_day(doy: i64) -> (i64, i64) {
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + day_of_march_year(month, day);
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since
/// 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let (month, day) = month_day(doe - (365 * yoe + yoe / 4 - yoe / 100));
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a Julian calendar date.
fn days_from_julian(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(4);
    let yoe = y - era * 4;
    era * 1461 + yoe * 365 + day_of_march_year(month, day) - 719_470
}

/// The Julian calendar date of a day count since 1970-01-01.
fn julian_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_470;
    let era = z.div_euclid(1461);
    let doe = z - era * 1461;
    let yoe = (doe - doe / 1460) / 365;
    let (month, day) = month_day(doe - 365 * yoe);
    (yoe + era * 4 + i64::from(month <= 2), month, day)
}

/// Whether the date (in either calendar) falls before 1582-10-15, where
/// `GregorianCalendar` reads its fields as a Julian date.
fn before_cutover(year: i64, month: i64, day: i64) -> bool {
    (year, month, day) < (1582, 10, 15)
}

/// The date `java.util.Date` shows for a day count since 1970-01-01:
/// Julian before [`CUTOVER_DAY`], Gregorian from it on.
pub(crate) fn java_date_from_days(days: i64) -> (i64, i64, i64) {
    if days < CUTOVER_DAY {
        julian_from_days(days)
    } else {
        civil_from_days(days)
    }
}

/// Days since 1970-01-01 of a date as `GregorianCalendar` reads it: Julian
/// before 1582-10-15, Gregorian from it on (so 1582-10-05 to 1582-10-14,
/// which no calendar shows, are read as Julian dates).
pub(crate) fn days_from_java_date(year: i64, month: i64, day: i64) -> i64 {
    if before_cutover(year, month, day) {
        days_from_julian(year, month, day)
    } else {
        days_from_civil(year, month, day)
    }
}

/// Days in `month` of `year` as `GregorianCalendar` has them: Julian leap
/// years (every fourth) up to 1582, Gregorian ones after.
pub(crate) fn java_days_in_month(year: i64, month: i64) -> i64 {
    month_length(
        month,
        if year <= 1582 {
            year.rem_euclid(4) == 0
        } else {
            is_leap_year(year)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [
            -800_000i64,
            -719_468,
            -1,
            0,
            1,
            19_724,
            2_932_896,
            10_000_000,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_724), (2024, 1, 2));
    }

    #[test]
    fn julian_dates() {
        assert_eq!(julian_from_days(0), (1969, 12, 19));
        assert_eq!(julian_from_days(CUTOVER_DAY - 1), (1582, 10, 4));
        assert_eq!(days_from_julian(1582, 10, 5), CUTOVER_DAY);
        assert_eq!(java_date_from_days(CUTOVER_DAY), (1582, 10, 15));
        assert_eq!(java_date_from_days(CUTOVER_DAY - 1), (1582, 10, 4));
        assert_eq!(days_from_java_date(1582, 10, 4), CUTOVER_DAY - 1);
        assert_eq!(days_from_java_date(1582, 10, 15), CUTOVER_DAY);
        assert_eq!(java_days_in_month(1500, 2), 29);
        assert_eq!(java_days_in_month(1700, 2), 28);
        assert_eq!(java_days_in_month(0, 2), 29);
        assert_eq!(java_days_in_month(-1, 2), 28);
        for days in (-1_000_000i64..1_000_000).step_by(997).chain([
            i64::MIN / MS_PER_DAY - 1,
            i64::MAX / MS_PER_DAY,
            CUTOVER_DAY - 1,
        ]) {
            let (y, m, d) = julian_from_days(days);
            assert_eq!(days_from_julian(y, m, d), days);
            let (y, m, d) = java_date_from_days(days);
            assert_eq!(days_from_java_date(y, m, d), days);
        }
    }
}
