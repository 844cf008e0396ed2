//! Working calendars: a time zone, weekly hours (several intervals a day),
//! holidays (whole or half days) and out-of-office ranges, with exact working
//! time arithmetic across weekends, holidays, midnight and DST changes.
//!
//! A moment is working time when its local wall-clock time falls in one of
//! that local date's intervals and it is not out of office. Both operations
//! split time at every instant where that can change (interval edges mapped
//! through the zone both ways, DST transitions, out-of-office edges, the
//! ends of the range) and test each piece once, so a skipped or repeated
//! local hour is counted exactly as the wall clock shows it.

use crate::Invalid;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MINUTE_MS: i64 = 60_000;
const DAY_MINUTES: u16 = 24 * 60;
/// How far `add_working` looks ahead before deciding the calendar has no
/// working time left.
const SEARCH_DAYS: i32 = 3 * 366;

/// A calendar as people write it (TOML or JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// IANA time zone, such as `Europe/Berlin`.
    pub time_zone: String,
    /// Working intervals per weekday (`mon` … `sun`), as `"09:00-12:30"`.
    pub weekly: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub holidays: Vec<HolidaySpec>,
    #[serde(default)]
    pub out_of_office: Vec<AwaySpec>,
}

/// A day off, or a half day when `hours` lists what is still worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaySpec {
    /// `YYYY-MM-DD` in the calendar's zone.
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<String>,
}

/// An absence, from one instant (inclusive) to another (exclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwaySpec {
    pub from: String,
    pub to: String,
}

/// Intervals of one day, in minutes after local midnight, `[start, end)`.
type DayHours = Vec<(u16, u16)>;

/// A validated calendar, ready for arithmetic.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    tz: TimeZone,
    /// Monday first.
    week: [DayHours; 7],
    holidays: BTreeMap<Date, DayHours>,
    /// Sorted, merged, in epoch milliseconds.
    away: Vec<(i64, i64)>,
    /// Working time per local day, as prefix sums, built on first need: long
    /// ranges are then a subtraction instead of a walk over every day.
    days: std::sync::Arc<std::sync::Mutex<Option<DayTable>>>,
}

/// Local days `first .. first + n`: where each starts, and the working time
/// of all days before it.
#[derive(Debug)]
struct DayTable {
    first: Date,
    /// `n + 1` day starts (epoch ms); the last is the end of the last day.
    starts: Vec<i64>,
    /// `n + 1` prefix sums of working ms; `cum[i]` covers days before `i`.
    cum: Vec<i64>,
}

/// Ranges longer than this use the day table.
const LONG_RANGE_MS: i64 = 2 * 24 * 60 * MINUTE_MS;

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn parse_clock(text: &str, field: &str) -> Result<u16, Invalid> {
    let bad = || {
        Invalid::new(
            "invalid_hours",
            field,
            format!("{text:?} is not a time such as 09:00 (00:00 to 24:00)"),
        )
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) || text.trim().len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses `["09:00-12:30", "13:30-17:30"]` into sorted, non-overlapping intervals.
fn parse_hours(list: &[String], field: &str) -> Result<DayHours, Invalid> {
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let (a, b) = item.split_once('-').ok_or_else(|| {
            Invalid::new(
                "invalid_hours",
                &f,
                format!("{item:?} is not an interval such as 09:00-17:00"),
            )
        })?;
        let (a, b) = (parse_clock(a, &f)?, parse_clock(b, &f)?);
        if a >= b {
            return Err(Invalid::new(
                "invalid_hours",
                &f,
                format!("{item:?} ends before it starts"),
            ));
        }
        out.push((a, b, f));
    }
    out.sort_by_key(|(a, _, _)| *a);
    for pair in out.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(Invalid::new(
                "overlapping_hours",
                &pair[1].2,
                format!("this interval overlaps {}", pair[0].2),
            ));
        }
    }
    Ok(out.into_iter().map(|(a, b, _)| (a, b)).collect())
}

impl CalendarSpec {
    /// The calendar's time zone, in which the company's days, periods and
    /// working hours are reckoned.
    pub fn zone(&self) -> Result<TimeZone, Invalid> {
        TimeZone::get(self.time_zone.trim()).map_err(|_| {
            Invalid::new(
                "unknown_time_zone",
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone such as Europe/Berlin",
                    self.time_zone
                ),
            )
        })
    }
}

impl WorkingCalendar {
    /// Validates a spec: a known zone, well-formed, non-overlapping hours,
    /// real dates, absences that end after they start.
    pub fn from_spec(spec: &CalendarSpec) -> Result<Self, Invalid> {
        let tz = spec.zone()?;
        for key in spec.weekly.keys() {
            if !DAYS.iter().any(|(d, _)| d == key) {
                return Err(Invalid::new(
                    "unknown_weekday",
                    format!("weekly.{key}"),
                    "weekdays are mon, tue, wed, thu, fri, sat, sun",
                ));
            }
        }
        let mut week: [DayHours; 7] = Default::default();
        for (i, (name, _)) in DAYS.iter().enumerate() {
            if let Some(list) = spec.weekly.get(*name) {
                week[i] = parse_hours(list, &format!("weekly.{name}"))?;
            }
        }
        let mut holidays = BTreeMap::new();
        for (i, h) in spec.holidays.iter().enumerate() {
            let field = format!("holidays[{i}]");
            let date: Date = h.date.trim().parse().map_err(|_| {
                Invalid::new(
                    "invalid_date",
                    format!("{field}.date"),
                    format!("{:?} is not a date such as 2026-12-24", h.date),
                )
            })?;
            let hours = parse_hours(&h.hours, &format!("{field}.hours"))?;
            if holidays.insert(date, hours).is_some() {
                return Err(Invalid::new(
                    "duplicate_key",
                    format!("{field}.date"),
                    format!("{date} is listed twice"),
                ));
            }
        }
        let mut away = Vec::with_capacity(spec.out_of_office.len());
        for (i, a) in spec.out_of_office.iter().enumerate() {
            let field = format!("out_of_office[{i}]");
            let from = crate::Instant::parse(&a.from, &format!("{field}.from"))?.millis();
            let to = crate::Instant::parse(&a.to, &format!("{field}.to"))?.millis();
            if to <= from {
                return Err(Invalid::new(
                    "invalid_range",
                    format!("{field}.to"),
                    "an absence must end after it starts",
                ));
            }
            away.push((from, to));
        }
        away.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(away.len());
        for (f, t) in away {
            match merged.last_mut() {
                Some(last) if f <= last.1 => last.1 = last.1.max(t),
                _ => merged.push((f, t)),
            }
        }
        Ok(WorkingCalendar {
            days: Default::default(),
            tz,
            week,
            holidays,
            away: merged,
        })
    }

    /// Weekly working time divided by the weekdays that have any (8 h for
    /// a 09:00-17:00 Monday-to-Friday week); 8 h when the week is empty.
    pub fn typical_working_day(&self) -> SignedDuration {
        let days: Vec<i64> = self
            .week
            .iter()
            .map(|d| d.iter().map(|(a, b)| (*b - *a) as i64).sum::<i64>())
            .filter(|m| *m > 0)
            .collect();
        if days.is_empty() {
            return SignedDuration::from_hours(8);
        }
        SignedDuration::from_mins(days.iter().sum::<i64>() / days.len() as i64)
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn hours_of(&self, date: Date) -> &[(u16, u16)] {
        match self.holidays.get(&date) {
            Some(h) => h,
            None => &self.week[date.weekday().to_monday_zero_offset() as usize],
        }
    }

    fn is_away(&self, ms: i64) -> bool {
        let i = self.away.partition_point(|(f, _)| *f <= ms);
        i > 0 && ms < self.away[i - 1].1
    }

    /// Whether the instant (epoch milliseconds) is working time.
    pub fn is_working_at(&self, ms: i64) -> bool {
        let Ok(ts) = Timestamp::from_millisecond(ms) else {
            return false;
        };
        let local = self.tz.to_datetime(ts);
        let t = local.time();
        let of_day = (t.hour() as i64 * 60 + t.minute() as i64) * MINUTE_MS
            + t.second() as i64 * 1000
            + t.millisecond() as i64;
        self.hours_of(local.date())
            .iter()
            .any(|(a, b)| *a as i64 * MINUTE_MS <= of_day && of_day < *b as i64 * MINUTE_MS)
            && !self.is_away(ms)
    }

    /// Every instant in `[a, b]` where working time may begin or end.
    fn breakpoints(&self, a: i64, b: i64) -> Vec<i64> {
        let mut out = vec![a, b];
        let to_date =
            |ms: i64| Timestamp::from_millisecond(ms).map(|t| self.tz.to_datetime(t).date());
        let (Ok(first), Ok(last)) = (to_date(a), to_date(b)) else {
            return out;
        };
        let mut day = first.checked_sub(1.day()).unwrap_or(first);
        let last = last.checked_add(1.day()).unwrap_or(last);
        while day <= last {
            // Midnight and the interval edges of this local date.
            let mut edges: Vec<u16> = vec![0];
            for (s, e) in self.hours_of(day) {
                edges.push(*s);
                edges.push(*e);
            }
            for minutes in edges {
                let dt = if minutes == DAY_MINUTES {
                    match day.checked_add(1.day()) {
                        Ok(next) => next.to_datetime(jiff::civil::Time::midnight()),
                        Err(_) => continue,
                    }
                } else {
                    day.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
                };
                self.push_local(&mut out, dt, a, b);
            }
            match day.checked_add(1.day()) {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        // DST and other offset changes.
        if let Ok(start) = Timestamp::from_millisecond(a) {
            for tr in self.tz.following(start) {
                let ms = tr.timestamp().as_millisecond();
                if ms > b {
                    break;
                }
                out.push(ms);
            }
        }
        for (f, t) in &self.away {
            out.push(*f);
            out.push(*t);
        }
        out.retain(|m| (a..=b).contains(m));
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Adds the instants a civil datetime maps to (both, when it is skipped
    /// or repeated by a DST change).
    fn push_local(&self, out: &mut Vec<i64>, dt: DateTime, a: i64, b: i64) {
        let amb = self.tz.to_ambiguous_timestamp(dt);
        let offsets = match amb.offset() {
            AmbiguousOffset::Unambiguous { offset } => [Some(offset), None],
            AmbiguousOffset::Gap { before, after } | AmbiguousOffset::Fold { before, after } => {
                [Some(before), Some(after)]
            }
        };
        for off in offsets.into_iter().flatten() {
            if let Ok(ts) = off.to_timestamp(dt) {
                let ms = ts.as_millisecond();
                if (a..=b).contains(&ms) {
                    out.push(ms);
                }
            }
        }
    }

    /// The pieces of `[a, b)` that are working time, in order.
    fn working_pieces(&self, a: i64, b: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let points = self.breakpoints(a, b);
        let pieces: Vec<(i64, i64)> = points
            .windows(2)
            .map(|w| (w[0], w[1]))
            .filter(|(p, q)| q > p && self.is_working_at(*p))
            .collect();
        pieces.into_iter()
    }

    /// Working time between two instants (zero when `b <= a`).
    pub fn working_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        let (a, b) = (a.as_millisecond(), b.as_millisecond());
        if b <= a {
            return SignedDuration::ZERO;
        }
        if b - a > LONG_RANGE_MS
            && let Some(ms) = self.long_between(a, b)
        {
            return SignedDuration::from_millis(ms);
        }
        SignedDuration::from_millis(self.direct_between(a, b))
    }

    fn direct_between(&self, a: i64, b: i64) -> i64 {
        self.working_pieces(a, b).map(|(p, q)| q - p).sum()
    }

    /// The instant a local day starts (its first candidate instant).
    fn day_start(&self, d: Date) -> Option<i64> {
        d.to_zoned(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }

    /// Working time of `[a, b)` from the day table: the partial first and
    /// last days directly, every whole day between by prefix sums. Exact,
    /// because working time is additive over any split. `None` when the
    /// range is outside what the table can cover.
    fn long_between(&self, a: i64, b: i64) -> Option<i64> {
        let date_of = |ms: i64| {
            Timestamp::from_millisecond(ms)
                .ok()
                .map(|t| self.tz.to_datetime(t).date())
        };
        let (da, db) = (date_of(a)?, date_of(b)?);
        let mut guard = self.days.lock().ok()?;
        let covers = |t: &DayTable, lo: Date, hi: Date| {
            lo > t.first
                && t.first
                    .checked_add(((t.starts.len() - 2) as i64).days())
                    .is_ok_and(|last| hi < last)
        };
        if !guard.as_ref().is_some_and(|t| covers(t, da, db)) {
            // (Re)build around the range with a margin, so neighbouring
            // requests reuse it.
            let (lo, hi) = match guard.as_ref() {
                Some(t) => (
                    da.min(t.first),
                    db.max(
                        t.first
                            .checked_add(((t.starts.len() - 1) as i64).days())
                            .ok()?,
                    ),
                ),
                None => (da, db),
            };
            let first = lo.checked_sub(400.days()).ok()?;
            let last = hi.checked_add(400.days()).ok()?;
            let n = first.until(last).ok()?.get_days() as usize;
            if n > 40_000 {
                return None;
            }
            let mut starts = Vec::with_capacity(n + 1);
            let mut d = first;
            for _ in 0..=n {
                starts.push(self.day_start(d)?);
                d = d.checked_add(1.day()).ok()?;
            }
            let mut cum = Vec::with_capacity(n + 1);
            cum.push(0);
            for w in starts.windows(2) {
                let last = *cum.last().expect("non-empty");
                cum.push(last + self.direct_between(w[0], w[1]));
            }
            *guard = Some(DayTable { first, starts, cum });
        }
        let t = guard.as_ref()?;
        // Index of the table day holding an instant (by the table's own
        // boundaries, so odd zones whose midnight moves still tile).
        let index = |ms: i64| t.starts.partition_point(|s| *s <= ms).checked_sub(1);
        let (ia, ib) = (index(a)?, index(b)?);
        if ib <= ia + 1 || ib >= t.starts.len() - 1 {
            return None;
        }
        let whole = t.cum[ib] - t.cum[ia + 1];
        let (first_end, last_start) = (t.starts[ia + 1], t.starts[ib]);
        drop(guard);
        Some(self.direct_between(a, first_end) + whole + self.direct_between(last_start, b))
    }

    /// The instant when `duration` of working time has passed after `start`
    /// (`start` itself when the duration is zero or negative). `None` when
    /// the calendar has no working time in the next three years.
    pub fn add_working(&self, start: Timestamp, duration: SignedDuration) -> Option<Timestamp> {
        let mut left = duration.as_millis() as i64;
        let mut from = start.as_millisecond();
        if left <= 0 {
            return Some(start);
        }
        let week = 7 * 24 * 60 * MINUTE_MS;
        for _ in 0..(SEARCH_DAYS / 7 + 1) {
            let to = from.checked_add(week)?;
            for (p, q) in self.working_pieces(from, to) {
                if q - p >= left {
                    return Timestamp::from_millisecond(p + left).ok();
                }
                left -= q - p;
            }
            from = to;
        }
        None
    }
}

#[cfg(test)]
mod tests;
