//! Finding an erased person in other people's free text (a note on their
//! company, a deal named after them) and blanking them out of it.

use regex::{Regex, RegexBuilder};

/// What an erased person's mention is replaced with.
pub const ERASED: &str = "[erased]";

/// The ways free text names a person, from each of their records (e-mail,
/// given name, family name): each e-mail address, each full name, and each
/// family name. A given name alone is not one of them: "Ana" in a note is
/// as likely someone else, and erasing one person must not blank others.
/// Longest first, so a full name goes before its parts.
pub fn mentions<'a>(
    records: impl IntoIterator<Item = (&'a str, Option<&'a str>, Option<&'a str>)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (email, first_name, last_name) in records {
        let first = first_name.map(str::trim).filter(|n| !n.is_empty());
        let last = last_name.map(str::trim).filter(|n| !n.is_empty());
        if !email.trim().is_empty() {
            out.push(email.trim().to_owned());
        }
        if let (Some(f), Some(l)) = (first, last) {
            out.push(format!("{f} {l}"));
        }
        // A one- or two-letter family name ("Li", "O") matches too much.
        if let Some(l) = last.filter(|l| l.chars().count() >= 3) {
            out.push(l.to_owned());
        }
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup_by(|a, b| a.to_lowercase() == b.to_lowercase());
    out
}

/// Finds the mentions of one person in free text.
#[derive(Debug, Clone)]
pub struct Mentions(Regex);

impl Mentions {
    /// A finder for `mentions` (from [`mentions`]), as whole words in any
    /// case; `None` when there is nothing to look for.
    pub fn new(mentions: &[String]) -> Option<Self> {
        if mentions.is_empty() {
            return None;
        }
        let alternatives = mentions
            .iter()
            .map(|m| regex::escape(m))
            .collect::<Vec<_>>()
            .join("|");
        RegexBuilder::new(&alternatives)
            .case_insensitive(true)
            .build()
            .ok()
            .map(Self)
    }

    /// `text` with every mention replaced by [`ERASED`], or `None` when it
    /// has none. A mention counts only as a whole word: "Lindqvist" is not
    /// found in "Lindqvistson", nor "ana@x.io" in "diana@x.io".
    pub fn redact(&self, text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut from = 0;
        let mut found = false;
        while let Some(m) = self.0.find_at(text, from) {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if word(before) || word(after) {
                // Not a whole word here: look again one character on.
                from = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            out.push_str(&text[copied..m.start()]);
            out.push_str(ERASED);
            copied = m.end();
            from = m.end();
            found = true;
        }
        found.then(|| {
            out.push_str(&text[copied..]);
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finder(first: &str, last: &str, email: &str) -> Mentions {
        Mentions::new(&mentions([(email, Some(first), Some(last))])).unwrap()
    }

    #[test]
    fn full_name_family_name_and_email_are_blanked_in_any_case() {
        let m = finder("Erinna", "Zedlitz", "erin@example.com");
        assert_eq!(
            m.redact("Call ERINNA ZEDLITZ (Erin@Example.com) about the Zedlitz deal")
                .as_deref(),
            Some("Call [erased] ([erased]) about the [erased] deal")
        );
    }

    #[test]
    fn only_whole_words_and_not_the_given_name_alone() {
        let m = finder("Ana", "Lindqvist", "ana@x.io");
        assert_eq!(m.redact("Lindqvistson met diana@x.io and Ana"), None);
        assert_eq!(m.redact("Ana Lindqvist.").as_deref(), Some("[erased]."));
        assert_eq!(m.redact("é Lindqvist é").as_deref(), Some("é [erased] é"));
    }

    #[test]
    fn short_family_names_are_not_looked_for_alone() {
        assert_eq!(
            mentions([("", Some("Wei"), Some("Li"))]),
            vec!["Wei Li".to_string()]
        );
        assert!(Mentions::new(&mentions([("", None, None)])).is_none());
    }
}
