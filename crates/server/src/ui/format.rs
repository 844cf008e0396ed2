//! How pages write numbers, durations, money and instants.

use jiff::tz::TimeZone;
use smarketing_core::Timestamp;

/// A working-time duration in words: "1 h 05 min", "12 min", "under a minute".
pub fn working(seconds: i64) -> String {
    let minutes = seconds.unsigned_abs() / 60;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "under a minute".to_string(),
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

/// An instant for a `<time>` element: its machine form and, in the
/// company's zone, its text.
pub struct When {
    pub iso: String,
    pub text: String,
}

pub fn when(at: Timestamp, tz: &TimeZone) -> When {
    let zoned = at.to_zoned(tz.clone());
    When {
        iso: at.to_string(),
        text: zoned.strftime("%a %-d %b, %H:%M %Z").to_string(),
    }
}

/// Whole units of money from minor units, grouped by thousands: "65,000".
pub fn money(minor: i64) -> String {
    let major = minor / 100;
    let digits = major.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if major < 0 { format!("-{out}") } else { out }
}

/// A share as a whole percentage: "42 %"; "—" when there is none.
pub fn percent(share: Option<f64>) -> String {
    share.map_or("—".to_string(), |s| format!("{:.0} %", s * 100.0))
}

/// Hours with one decimal: "1.5 h"; "—" when there are none.
pub fn hours(h: Option<f64>) -> String {
    h.map_or("—".to_string(), |h| format!("{h:.1} h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_for_numbers() {
        assert_eq!(working(30), "under a minute");
        assert_eq!(working(12 * 60 + 5), "12 min");
        assert_eq!(working(3600 + 5 * 60), "1 h 05 min");
        assert_eq!(money(6_500_000_012), "65,000,000");
        assert_eq!(money(-150_000), "-1,500");
        assert_eq!(money(99), "0");
        assert_eq!(percent(Some(0.423)), "42 %");
        assert_eq!(percent(None), "—");
    }
}
