//! Reporting periods as people write them — `2026` (a year), `2026-Q4` (a
//! quarter), `2026-11` (a month) — turned into instants in a time zone.

use crate::Invalid;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Period {
    Year(i16),
    Quarter(i16, u8),
    Month(i16, u8),
}

impl Period {
    /// The first day of the period and the first day after it.
    pub fn dates(self) -> (Date, Date) {
        let (y, m, months) = match self {
            Period::Year(y) => (y, 1, 12),
            Period::Quarter(y, q) => (y, (q - 1) * 3 + 1, 3),
            Period::Month(y, m) => (y, m, 1),
        };
        let start = Date::new(y, m as i8, 1).expect("validated on parse");
        (start, start.checked_add(months.months()).expect("in range"))
    }

    /// Start and end (exclusive) as instants in `tz`.
    pub fn instants(self, tz: &TimeZone) -> (jiff::Timestamp, jiff::Timestamp) {
        let (a, b) = self.dates();
        let at = |d: Date| d.to_zoned(tz.clone()).expect("in range").timestamp();
        (at(a), at(b))
    }
}

impl Period {
    /// The period of the same length just before this one.
    pub fn previous(self) -> Period {
        match self {
            Period::Year(y) => Period::Year(y - 1),
            Period::Quarter(y, 1) => Period::Quarter(y - 1, 4),
            Period::Quarter(y, q) => Period::Quarter(y, q - 1),
            Period::Month(y, 1) => Period::Month(y - 1, 12),
            Period::Month(y, m) => Period::Month(y, m - 1),
        }
    }
}

impl FromStr for Period {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                "invalid_period",
                "period",
                format!("{s:?} is not a period such as 2026, 2026-Q4 or 2026-11"),
            )
        };
        let t = s.trim();
        let year = |y: &str| y.parse::<i16>().ok().filter(|y| (1970..=9998).contains(y));
        if let Some((y, rest)) = t.split_once('-') {
            let y = year(y).ok_or_else(bad)?;
            if let Some(q) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
                let q: u8 = q.parse().map_err(|_| bad())?;
                return (1..=4)
                    .contains(&q)
                    .then_some(Period::Quarter(y, q))
                    .ok_or_else(bad);
            }
            let m: u8 = rest.parse().map_err(|_| bad())?;
            return ((1..=12).contains(&m) && rest.len() == 2)
                .then_some(Period::Month(y, m))
                .ok_or_else(bad);
        }
        year(t).map(Period::Year).ok_or_else(bad)
    }
}

impl TryFrom<String> for Period {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl From<Period> for String {
    fn from(p: Period) -> String {
        p.to_string()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_bounds() {
        let q: Period = "2026-Q4".parse().unwrap();
        assert_eq!(q.to_string(), "2026-Q4");
        assert_eq!(
            q.dates(),
            (
                Date::new(2026, 10, 1).unwrap(),
                Date::new(2027, 1, 1).unwrap()
            )
        );
        assert_eq!(q.previous().to_string(), "2026-Q3");
        assert_eq!(
            "2026-Q1".parse::<Period>().unwrap().previous().to_string(),
            "2025-Q4"
        );
        assert_eq!(
            "2026-01".parse::<Period>().unwrap().previous().to_string(),
            "2025-12"
        );
        let m: Period = "2026-02".parse().unwrap();
        assert_eq!(m.dates().1, Date::new(2026, 3, 1).unwrap());
        let (a, _) = m.instants(&TimeZone::get("Europe/Berlin").unwrap());
        assert_eq!(a.to_string(), "2026-01-31T23:00:00Z");
        assert_eq!("2026".parse::<Period>().unwrap(), Period::Year(2026));
        for bad in [
            "2026-Q5",
            "2026-13",
            "26-Q1",
            "2026-1",
            "Q4",
            "",
            "next quarter",
        ] {
            assert_eq!(
                bad.parse::<Period>().unwrap_err().code,
                "invalid_period",
                "{bad}"
            );
        }
    }
}
