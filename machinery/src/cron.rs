//! CronJob schedules as upstream reads them (robfig/cron's ParseStandard: five fields or an
//! `@` macro such as `@hourly`, and `@every <duration>`), in a time zone, for the apiserver's
//! validation and the CronJob controller alike.

use chrono::{DateTime, TimeZone, Utc};
pub use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// A parsed schedule.
#[derive(Clone, Debug)]
pub enum Schedule {
    Cron(Box<croner::Cron>),
    /// `@every <duration>`: from the last run, every so often.
    Every(Duration),
}

/// Parse a schedule; the error is the parser's message (without the TZ rules, which validation
/// applies itself).
pub fn parse(schedule: &str) -> Result<Schedule, String> {
    if let Some(every) = schedule.strip_prefix("@every ") {
        let nanos = crate::duration::parse_nanos(every.trim()).ok_or_else(|| {
            format!(
                "failed to parse duration {schedule}: time: invalid duration \"{}\"",
                every.trim()
            )
        })?;
        return Ok(Schedule::Every(Duration::from_nanos(nanos.max(1_000_000_000) as u64)));
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    parser
        .parse(schedule)
        .map(|cron| Schedule::Cron(Box::new(cron)))
        .map_err(|e| e.to_string())
}

/// A time zone by its IANA name (`Etc/UTC`, `Europe/Berlin`); `None` when unknown.
pub fn time_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// `t` as RFC 3339 in `tz` (`2026-01-01T10:05:00+01:00`), as the scheduled-timestamp
/// annotation carries it.
pub fn rfc3339_in(t: Timestamp, tz: Tz) -> String {
    tz.from_utc_datetime(&to_chrono(t).naive_utc())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

fn to_chrono(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

fn to_jiff(t: DateTime<Utc>) -> Timestamp {
    Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Schedule {
    /// The first scheduled time strictly after `after`, in `tz`.
    pub fn next_after(&self, after: Timestamp, tz: Tz) -> Option<Timestamp> {
        self.next_after_utc(to_chrono(after), tz).map(to_jiff)
    }

    /// The scheduled times in (`after`, `until`]: the most recent one and how many there were,
    /// counting no further than `limit + 1` (upstream gives up past 100 missed starts).
    pub fn missed(&self, after: Timestamp, until: Timestamp, tz: Tz, limit: usize) -> (Option<Timestamp>, usize) {
        let (last, count) = self.missed_utc(to_chrono(after), to_chrono(until), tz, limit);
        (last.map(to_jiff), count)
    }

    fn next_after_utc(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(every) => chrono::Duration::from_std(*every).ok().map(|d| after + d),
            Schedule::Cron(cron) => cron
                .find_next_occurrence(&tz.from_utc_datetime(&after.naive_utc()), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    fn missed_utc(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        tz: Tz,
        limit: usize,
    ) -> (Option<DateTime<Utc>>, usize) {
        let mut last = None;
        let mut count = 0;
        let mut cursor = after;
        while let Some(next) = self.next_after_utc(cursor, tz) {
            if next > until {
                break;
            }
            last = Some(next);
            count += 1;
            if count > limit {
                // Too many to walk one by one: the most recent is still the one before `until`.
                if let Schedule::Cron(cron) = self {
                    last = cron
                        .find_previous_occurrence(&tz.from_utc_datetime(&until.naive_utc()), true)
                        .ok()
                        .map(|t| t.with_timezone(&Utc));
                }
                break;
            }
            cursor = next;
        }
        (last, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn schedules_in_time_zones_and_missed_starts() {
        let every_5 = parse("*/5 * * * *").unwrap();
        let utc = time_zone("Etc/UTC").unwrap();
        assert_eq!(
            every_5.next_after(at("2026-01-01T10:02:00Z"), utc),
            Some(at("2026-01-01T10:05:00Z"))
        );
        let (last, count) = every_5.missed(at("2026-01-01T10:00:00Z"), at("2026-01-01T10:17:00Z"), utc, 100);
        assert_eq!((last, count), (Some(at("2026-01-01T10:15:00Z")), 3));
        let daily = parse("@daily").unwrap();
        let berlin = time_zone("Europe/Berlin").unwrap();
        assert_eq!(
            daily.next_after(at("2026-01-01T12:00:00Z"), berlin),
            Some(at("2026-01-01T23:00:00Z"))
        );
        assert!(parse("61 * * * *").is_err());
        assert!(matches!(parse("@every 90s"), Ok(Schedule::Every(d)) if d == Duration::from_secs(90)));
        assert!(time_zone("Mars/Olympus").is_none());
    }
}
