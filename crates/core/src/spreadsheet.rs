//! Cells that a spreadsheet would run as formulas. A CSV export may be
//! opened in Excel or LibreOffice, and a name planted through a public
//! `identify` (`=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`) must not run there:
//! such a cell is written with a leading apostrophe, which spreadsheets
//! show as text (OWASP's advice), and an import takes the apostrophe off
//! again so an export imports as it was.

use std::borrow::Cow;

/// The characters a spreadsheet may start a formula with.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet could read `cell` as a formula: it starts with a
/// formula character and is not a plain number (`-12.5` stays a number).
fn is_formula(cell: &str) -> bool {
    cell.starts_with(FORMULA_START) && !is_plain_number(cell)
}

fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `cell` gets an apostrophe: it is a formula, or apostrophes
/// before one (so that taking one off on import gives it back as it was).
fn needs_apostrophe(cell: &str) -> bool {
    is_formula(cell.trim_start_matches('\''))
}

/// `cell` as an export writes it: with a leading apostrophe when a
/// spreadsheet could read it as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_apostrophe(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as an import reads it: the apostrophe an export put before a
/// formula character comes off.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_apostrophe(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_numbers_as_numbers() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("-2+3", "'-2+3"),
            ("\tTab", "'\tTab"),
            ("\rCR", "'\rCR"),
            ("-", "'-"),
            ("-12", "-12"),
            ("-12.50", "-12.50"),
            ("1500", "1500"),
            ("Ada Lovelace", "Ada Lovelace"),
            ("", ""),
            ("'quoted", "'quoted"),
            ("'=already", "''=already"),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
            assert_eq!(restore(&neutralise(cell)), cell, "{cell:?}");
        }
    }
}
