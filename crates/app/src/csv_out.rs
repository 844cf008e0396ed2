//! CSV as Smarketing writes it, for exports and report files: quoted per
//! RFC 4180 by the csv crate, and every cell neutralised so a spreadsheet
//! shows a planted formula as text (core's `spreadsheet`).

use smarketing_core::spreadsheet::neutralise;
use std::io::Write;

/// A CSV writer whose every cell is neutralised.
pub struct CsvOut<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvOut<W> {
    pub fn new(out: W) -> Self {
        CsvOut {
            inner: csv::Writer::from_writer(out),
        }
    }

    /// Writes one row.
    pub fn row<I, S>(&mut self, cells: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner.write_record(
            cells
                .into_iter()
                .map(|c| neutralise(c.as_ref()).into_owned()),
        )
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use smarketing_core::spreadsheet::restore;

    /// Cells as they come: any text, with formula starts, quotes, commas
    /// and line breaks made likely.
    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[=+\\-@\t\r'\",\n ]{0,3}[a-zA-Z0-9(),|!\"'\n.]{0,12}",
            "-?[0-9]{1,4}(\\.[0-9]{1,2})?",
        ]
    }

    proptest! {
        /// What an export writes parses back into the same cells (after an
        /// import takes the apostrophes off), and no cell parses as a
        /// formula.
        #[test]
        fn exported_cells_parse_back_as_they_were_and_never_as_formulas(
            rows in (1..5usize).prop_flat_map(|width| {
                prop::collection::vec(prop::collection::vec(cell(), width), 1..8)
            })
        ) {
            let mut bytes = Vec::new();
            {
                let mut out = CsvOut::new(&mut bytes);
                for r in &rows {
                    out.row(r).unwrap();
                }
                out.flush().unwrap();
            }
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&bytes[..]);
            let parsed: Vec<Vec<String>> = rdr
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect();
            prop_assert_eq!(parsed.len(), rows.len());
            for (got, sent) in parsed.iter().zip(&rows) {
                prop_assert_eq!(got.len(), sent.len());
                for (g, s) in got.iter().zip(sent) {
                    prop_assert_eq!(restore(g), s.as_str());
                    let dangerous = g.starts_with(['=', '+', '-', '@', '\t', '\r'])
                        && g.parse::<f64>().is_err();
                    prop_assert!(!dangerous, "{:?} is written as {:?}", s, g);
                }
            }
        }
    }
}
