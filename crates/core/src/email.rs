//! E-mail addresses, normalised so that one person is one contact.

use crate::Invalid;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A syntactically valid e-mail address, trimmed and lower-cased.
/// Contacts are unique by this normalised form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// Mail providers anyone can sign up with (their domain is no company's).
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "live.com",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "gmx.com",
    "web.de",
    "t-online.de",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "libero.it",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "qq.com",
    "163.com",
    "126.com",
    "zoho.com",
    "fastmail.com",
    "hey.com",
    "tutanota.com",
];

impl Email {
    /// Parses and normalises an address. Accepts what real mail systems
    /// accept for the local part (no quoting) and needs a dotted domain.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = |why: &str| {
            Invalid::new(
                "invalid_email",
                "email",
                format!("{raw:?} is not an e-mail address: {why}"),
            )
        };
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.len() > 254 {
            return Err(bad("it is longer than 254 characters"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(bad("it has no @"));
        };
        if domain.contains('@') {
            return Err(bad("it has more than one @"));
        }
        if local.is_empty() || local.len() > 64 {
            return Err(bad("the part before @ is empty or too long"));
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-'!#$&*/=?^`{|}~".contains(c));
        if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad("the part before @ has a character that is not allowed"));
        }
        if domain.is_empty() {
            return Err(bad("nothing follows the @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(bad("the domain is not a valid host name"));
        }
        Ok(Email(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the @.
    /// Whether the address is at a free or personal mail provider, whose
    /// domain says nothing about the person's company.
    pub fn is_free_mail(&self) -> bool {
        FREE_MAIL.contains(&self.domain())
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        let e = Email::parse("  Bscott@Hawkvistabroadband.COM ").unwrap();
        assert_eq!(e.as_str(), "bscott@hawkvistabroadband.com");
        assert_eq!(e.domain(), "hawkvistabroadband.com");
    }

    #[test]
    fn rejects_the_dirty_sample_shapes() {
        for raw in [
            "giulia.rossi.silverhilltechnologies.co.uk",
            "anna@@example.com",
            "anna maria@example.com",
            "anna@",
            "",
            "anna@localhost",
            "anna@exa mple.com",
        ] {
            let err = Email::parse(raw).unwrap_err();
            assert_eq!(err.code, "invalid_email", "{raw}");
            assert_eq!(err.field, "email");
        }
    }

    #[test]
    fn accepts_plus_and_digits() {
        assert!(Email::parse("jonas2@bearloopadvisory.de").is_ok());
        assert!(Email::parse("o'brien+crm@example.co.uk").is_ok());
    }
}
