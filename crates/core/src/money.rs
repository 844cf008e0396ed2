//! Exact money: integer minor units of the one configured currency, never a float.

use crate::Invalid;
use serde::{Deserialize, Serialize};

/// An amount of money in minor units (cents for EUR/USD). Never negative.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

/// Minor units in one major unit of the currencies we support (two decimals).
pub const MINOR_PER_MAJOR: i64 = 100;

/// The largest amount accepted, in minor units (100 billion in a currency
/// with cents): far above any real deal, goal or budget, and small enough
/// that sums over many millions of rows stay exact in 128-bit arithmetic
/// and fit reports' 64-bit totals for any realistic book.
pub const MAX_MINOR: i64 = 10_000_000_000_000;

impl Money {
    pub const ZERO: Money = Money(0);

    /// An amount in minor units; `field` names the input for the error.
    pub fn from_minor(minor: i64, field: &str) -> Result<Self, Invalid> {
        if minor < 0 {
            return Err(Invalid::new(
                "negative_amount",
                field,
                format!("amount must not be negative, got {minor}"),
            ));
        }
        if minor > MAX_MINOR {
            return Err(Invalid::new(
                "amount_too_large",
                field,
                format!("amount must be at most {MAX_MINOR} minor units, got {minor}"),
            ));
        }
        Ok(Money(minor))
    }

    /// An amount in whole units of the currency (the CSV import format).
    pub fn from_major(major: i64, field: &str) -> Result<Self, Invalid> {
        let minor = major.checked_mul(MINOR_PER_MAJOR).ok_or_else(|| {
            Invalid::new(
                "amount_too_large",
                field,
                format!("amount {major} is too large"),
            )
        })?;
        Self::from_minor(minor, field)
    }

    /// Parses a whole-unit amount written as text, as in CSV files.
    pub fn parse_major(text: &str, field: &str) -> Result<Self, Invalid> {
        let major: i64 = text.trim().parse().map_err(|_| {
            Invalid::new(
                "invalid_amount",
                field,
                format!("{text:?} is not a whole number"),
            )
        })?;
        Self::from_major(major, field)
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    /// The amount in whole units, rounded towards zero (for CSV export).
    pub fn major(self) -> i64 {
        self.0 / MINOR_PER_MAJOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_is_refused_with_the_field() {
        let e = Money::from_minor(-1, "amount_minor").unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            ("negative_amount", "amount_minor")
        );
        assert_eq!(
            Money::parse_major("44139", "amount").unwrap().minor(),
            4_413_900
        );
        assert_eq!(
            Money::parse_major("12.5", "amount").unwrap_err().code,
            "invalid_amount"
        );
        assert_eq!(
            Money::from_major(i64::MAX, "amount").unwrap_err().code,
            "amount_too_large"
        );
        assert_eq!(
            Money::from_minor(MAX_MINOR, "x").unwrap().minor(),
            MAX_MINOR
        );
        let e = Money::from_minor(i64::MAX, "amount_minor").unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            ("amount_too_large", "amount_minor")
        );
    }
}
