//! Instants: UTC, millisecond precision, stored as integers and shown as
//! RFC 3339. Time zones appear only in calendars and in what users see.

use crate::Invalid;
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A point in time, UTC, to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = DateTime))]
pub struct Instant(i64);

impl Instant {
    /// From milliseconds since 1970-01-01T00:00:00Z.
    pub fn from_millis(ms: i64) -> Result<Self, Invalid> {
        Timestamp::from_millisecond(ms)
            .map(|_| Instant(ms))
            .map_err(|_| {
                Invalid::new(
                    "invalid_instant",
                    "instant",
                    format!("{ms} ms is outside the supported range"),
                )
            })
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn timestamp(self) -> Timestamp {
        Timestamp::from_millisecond(self.0).expect("checked on construction")
    }

    /// Parses any RFC 3339 instant with an offset (API input).
    pub fn parse(text: &str, field: &str) -> Result<Self, Invalid> {
        text.trim()
            .parse::<Timestamp>()
            .map(Instant::from)
            .map_err(|_| {
                Invalid::new(
                    "invalid_instant",
                    field,
                    format!("{text:?} is not an RFC 3339 instant such as 2024-10-06T00:04:29Z"),
                )
            })
    }

    /// Parses the strict CSV form `YYYY-MM-DDTHH:MM:SSZ`: a literal `Z`, whole
    /// seconds, a real calendar date.
    pub fn parse_csv(text: &str, field: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                "invalid_instant",
                field,
                format!("{text:?} is not an instant of the form 2024-10-06T00:04:29Z"),
            )
        };
        let b = text.as_bytes();
        let shape = b.len() == 20
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            });
        if !shape {
            return Err(bad());
        }
        text.parse::<Timestamp>()
            .map(Instant::from)
            .map_err(|_| bad())
    }
}

impl From<Timestamp> for Instant {
    fn from(ts: Timestamp) -> Self {
        Instant(ts.as_millisecond())
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whole seconds print without a fraction, as in the CSV format.
        let ts = self.timestamp();
        if self.0 % 1000 == 0 {
            write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
        }
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Instant::parse(&raw, "instant").map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_form_is_strict() {
        let ok = Instant::parse_csv("2024-10-06T00:04:29Z", "occurred_at").unwrap();
        assert_eq!(ok.to_string(), "2024-10-06T00:04:29Z");
        for bad in [
            "2024-10-06T00:04:29",
            "2024-10-06 00:04:29",
            "2024-02-30T00:04:29Z",
            "2024-10-06T25:04:29Z",
            "10/06/2024 00:04",
            "",
            "1728173069",
            "2024-10-06T00:04:29+02:00",
        ] {
            let e = Instant::parse_csv(bad, "occurred_at").unwrap_err();
            assert_eq!(
                (e.code, e.field.as_str()),
                ("invalid_instant", "occurred_at"),
                "{bad}"
            );
        }
    }

    #[test]
    fn api_form_takes_offsets_and_fractions() {
        let a = Instant::parse("2024-10-06T02:04:29.5+02:00", "at").unwrap();
        assert_eq!(a.to_string(), "2024-10-06T00:04:29.500Z");
        assert!(Instant::parse("yesterday", "at").is_err());
    }
}
