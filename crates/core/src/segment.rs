//! The dimensions reports break numbers down by, and segments: one value of
//! a dimension (`region=EMEA`) that a goal or a report can be limited to.

use crate::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a contact (and so its touches, handoffs and deals) can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Dimension {
    /// The contact's original source channel.
    SourceChannel,
    /// The campaign of the contact's first touch.
    Campaign,
    Persona,
    /// The company size of the contact's account.
    CompanySize,
    /// The region of the contact's account.
    Region,
    /// The contact's owner (an e-mail address).
    Owner,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::SourceChannel,
        Dimension::Campaign,
        Dimension::Persona,
        Dimension::CompanySize,
        Dimension::Region,
        Dimension::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::SourceChannel => "source_channel",
            Dimension::Campaign => "campaign",
            Dimension::Persona => "persona",
            Dimension::CompanySize => "company_size",
            Dimension::Region => "region",
            Dimension::Owner => "owner",
        }
    }

    /// Parses a dimension named in input field `field`.
    pub fn parse(s: &str, field: &str) -> Result<Dimension, Invalid> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<_> = Dimension::ALL.iter().map(|d| d.as_str()).collect();
                Invalid::new(
                    "unknown_dimension",
                    field,
                    format!("{s:?} is not a dimension; use one of {}", names.join(", ")),
                )
            })
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Dimension::parse(s, "dimension")
    }
}

/// One value of a dimension, written `dimension=value` (`region=EMEA`,
/// `company_size=mid_market`, `owner=ana@example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Segment {
    pub dimension: Dimension,
    pub value: String,
}

impl FromStr for Segment {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let Some((d, v)) = s.split_once('=') else {
            return Err(Invalid::new(
                "invalid_segment",
                "segment",
                format!("{s:?} is not a segment such as region=EMEA or company_size=mid_market"),
            ));
        };
        let dimension = Dimension::parse(d, "segment")?;
        let value = v.trim();
        if value.is_empty() || value.len() > 200 {
            return Err(Invalid::new(
                "invalid_segment",
                "segment",
                format!("the segment {s:?} needs a value of 1 to 200 characters after '='"),
            ));
        }
        Ok(Segment {
            dimension,
            value: value.to_string(),
        })
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.dimension, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_and_bad_ones_name_the_problem() {
        let s: Segment = "region = EMEA".parse().unwrap();
        assert_eq!(s.dimension, Dimension::Region);
        assert_eq!(s.to_string(), "region=EMEA");
        let s: Segment = "owner=ana@example.com".parse().unwrap();
        assert_eq!(s.value, "ana@example.com");
        assert_eq!(
            "EMEA".parse::<Segment>().unwrap_err().code,
            "invalid_segment"
        );
        assert_eq!(
            "colour=red".parse::<Segment>().unwrap_err().code,
            "unknown_dimension"
        );
        assert_eq!(
            "region=".parse::<Segment>().unwrap_err().code,
            "invalid_segment"
        );
        for d in Dimension::ALL {
            assert_eq!(d.as_str().parse::<Dimension>().unwrap(), d);
        }
    }
}
