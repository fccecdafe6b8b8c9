//! Settlement periods as calendar days. Installers and admins count days in
//! China Standard Time (UTC+8, which has no daylight saving), so a period
//! `2026-11-01..=2026-11-30` runs from 2026-10-31T16:00Z up to, not
//! including, 2026-11-30T16:00Z. "Today" and "this month" of the earnings
//! summary use the same clock. No I/O here.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

/// How often a tenant settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cadence {
    /// Monday to Sunday.
    Week,
    /// The first to the last day of a calendar month.
    Month,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Week => "week",
            Cadence::Month => "month",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "week" => Ok(Cadence::Week),
            "month" => Ok(Cadence::Month),
            _ => Err("must be `week` or `month`".into()),
        }
    }
}

/// How long after its end a period can be closed: longer than any posting
/// transaction runs and any drift between the servers' clocks, so that no
/// line can be posted behind a close's cutoff.
pub const CLOSE_GRACE: Duration = Duration::minutes(10);

/// China Standard Time's offset from UTC.
const CHINA_OFFSET: Duration = Duration::hours(8);

/// The instant a CST calendar day starts.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    DateTime::<Utc>::from_naive_utc_and_offset(midnight, Utc) - CHINA_OFFSET
}

/// The CST calendar day that `at` falls on.
pub fn day_of(at: DateTime<Utc>) -> NaiveDate {
    (at + CHINA_OFFSET).date_naive()
}

/// The first day of the CST month that `day` falls in.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// A validated period: whole days, in the shape of the tenant's cadence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodSpan {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl PeriodSpan {
    /// The first instant of the period.
    pub fn starts_at(&self) -> DateTime<Utc> {
        day_start(self.first_day)
    }

    /// The first instant after the period.
    pub fn ends_at(&self) -> DateTime<Utc> {
        day_start(self.last_day + Duration::days(1))
    }
}

/// Why a period cannot be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("`{0}` must be a date such as 2026-11-01")]
    NotADate(&'static str),
    #[error("a weekly period runs from a Monday to the Sunday after it")]
    NotAWeek,
    #[error("a monthly period runs from the first to the last day of one month")]
    NotAMonth,
    #[error("the period is not over yet: it can be closed from {0}")]
    NotEnded(DateTime<Utc>),
}

/// Parses `from` and `to` (inclusive, `YYYY-MM-DD`) and checks that they
/// make one whole period of `cadence` that ended at least [`CLOSE_GRACE`]
/// before `now`. Statements are only drawn up for a period that is over,
/// so that no line posted within it can arrive after its close.
pub fn parse_span(
    from: &str,
    to: &str,
    cadence: Cadence,
    now: DateTime<Utc>,
) -> Result<PeriodSpan, SpanError> {
    let first_day = parse_day(from).ok_or(SpanError::NotADate("from"))?;
    let last_day = parse_day(to).ok_or(SpanError::NotADate("to"))?;
    let shaped = match cadence {
        Cadence::Week => {
            first_day.weekday() == Weekday::Mon && last_day == first_day + Duration::days(6)
        }
        Cadence::Month => first_day.day() == 1 && last_day == last_day_of_month(first_day),
    };
    if !shaped {
        return Err(match cadence {
            Cadence::Week => SpanError::NotAWeek,
            Cadence::Month => SpanError::NotAMonth,
        });
    }
    let span = PeriodSpan {
        first_day,
        last_day,
    };
    if span.ends_at() + CLOSE_GRACE > now {
        return Err(SpanError::NotEnded(span.ends_at() + CLOSE_GRACE));
    }
    Ok(span)
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    (text.len() == 10)
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

fn last_day_of_month(first: NaiveDate) -> NaiveDate {
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    next - Duration::days(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    #[test]
    fn a_month_runs_from_the_first_to_the_last_day_in_china_time() {
        let span = parse_span(
            "2026-02-01",
            "2026-02-28",
            Cadence::Month,
            at("2026-03-05T00:00:00Z"),
        )
        .expect("a month");
        assert_eq!(span.starts_at(), at("2026-01-31T16:00:00Z"));
        assert_eq!(span.ends_at(), at("2026-02-28T16:00:00Z"));
    }

    #[test]
    fn a_month_that_is_not_whole_is_refused() {
        let now = at("2026-12-04T00:00:00Z");
        for (from, to) in [("2026-11-02", "2026-11-30"), ("2026-11-01", "2026-11-29")] {
            assert_eq!(
                parse_span(from, to, Cadence::Month, now),
                Err(SpanError::NotAMonth)
            );
        }
    }

    #[test]
    fn a_week_runs_from_monday_to_sunday() {
        let now = at("2026-12-04T00:00:00Z");
        assert!(parse_span("2026-11-23", "2026-11-29", Cadence::Week, now).is_ok());
        assert_eq!(
            parse_span("2026-11-24", "2026-11-30", Cadence::Week, now),
            Err(SpanError::NotAWeek)
        );
    }

    #[test]
    fn a_period_closes_only_once_its_last_day_is_over_in_china() {
        // 2026-11-30 ends at 16:00Z in China; a close waits ten minutes more.
        let early = parse_span(
            "2026-11-01",
            "2026-11-30",
            Cadence::Month,
            at("2026-11-30T16:09:59Z"),
        );
        assert!(matches!(early, Err(SpanError::NotEnded(_))));
        let on_time = parse_span(
            "2026-11-01",
            "2026-11-30",
            Cadence::Month,
            at("2026-11-30T16:10:00Z"),
        );
        assert!(on_time.is_ok());
    }

    #[test]
    fn dates_must_be_whole_iso_dates() {
        let now = at("2026-12-04T00:00:00Z");
        assert_eq!(
            parse_span("2026-11-1", "2026-11-30", Cadence::Month, now),
            Err(SpanError::NotADate("from"))
        );
        assert_eq!(
            parse_span("2026-11-01", "November", Cadence::Month, now),
            Err(SpanError::NotADate("to"))
        );
    }

    #[test]
    fn a_late_evening_in_utc_is_the_next_day_in_china() {
        assert_eq!(
            day_of(at("2026-11-30T20:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 12, 1).expect("a day")
        );
    }
}
