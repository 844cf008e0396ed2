//! The ChannelAttribution path format (columns `path, total_conversions,
//! total_conversion_value, total_null`; a path is channels joined by " > ")
//! and attribution on it, so analysts can check us against other tools.

use super::markov::{MAX_SYMBOLS, MarkovChain};
use super::models::{Model, Roles};
use super::shapley::ShapleyGame;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::fmt;

/// A bad line of a paths file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct PathsError {
    /// 1-based line number.
    pub line: usize,
    /// The column at fault, if one is.
    pub column: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for PathsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}: column {c}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

const COLUMNS: [&str; 4] = [
    "path",
    "total_conversions",
    "total_conversion_value",
    "total_null",
];

/// Journeys aggregated by channel path.
#[derive(Debug, Clone, Default)]
pub struct PathTable {
    /// Channel names, indexed by symbol.
    pub channels: Vec<String>,
    /// Every row's symbols, one after another.
    symbols: Vec<u32>,
    rows: Vec<PathRow>,
}

#[derive(Debug, Clone, Copy)]
struct PathRow {
    start: u32,
    len: u32,
    conversions: f64,
    value: f64,
    nulls: f64,
}

/// One channel's credit from a paths file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelCredit {
    pub channel: String,
    pub conversions: f64,
    pub value: f64,
    /// Markov only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_effect_conversions: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_effect_value: Option<f64>,
}

fn number(field: &str, line: usize, column: &'static str) -> Result<f64, PathsError> {
    let bad = |message: String| PathsError {
        line,
        column: Some(column),
        message,
    };
    let f = field.trim();
    // Whole numbers are the common case and parse faster as integers.
    let x = match f.parse::<u64>() {
        Ok(i) => i as f64,
        Err(_) => f
            .parse::<f64>()
            .map_err(|_| bad(format!("{f:?} is not a number")))?,
    };
    if !x.is_finite() || x < 0.0 {
        return Err(bad(format!("{f} is not a count of zero or more")));
    }
    Ok(x)
}

fn unquote(field: &str) -> std::borrow::Cow<'_, str> {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\"").into(),
        None => field.into(),
    }
}

/// Splits a CSV line into fields, honouring double quotes.
fn fields(line: &str) -> Vec<&str> {
    if !line.contains('"') {
        return line.split(',').collect();
    }
    let mut out = vec![];
    let (mut start, mut quoted) = (0, false);
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&line[start..]);
    out
}

impl PathTable {
    /// Parses a paths file. Columns are found by their header names.
    pub fn parse(text: &str) -> Result<PathTable, PathsError> {
        let mut lines = text.split('\n').enumerate();
        let header = lines
            .next()
            .map(|(_, l)| l.trim_end_matches('\r').trim_start_matches('\u{feff}'))
            .unwrap_or("");
        let names: Vec<&str> = fields(header).into_iter().map(str::trim).collect();
        let mut at = [0usize; 4];
        for (i, c) in COLUMNS.iter().enumerate() {
            at[i] = names
                .iter()
                .position(|n| n == c)
                .ok_or_else(|| PathsError {
                    line: 1,
                    column: None,
                    message: format!(
                        "the header has no column {c:?}; it needs {}",
                        COLUMNS.join(", ")
                    ),
                })?;
        }
        let width = names.len();
        let mut table = PathTable::default();
        let mut index: FxHashMap<String, u32> = FxHashMap::default();
        for (i, line) in lines {
            let line_no = i + 1;
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let f = fields(line);
            if f.len() != width {
                return Err(PathsError {
                    line: line_no,
                    column: None,
                    message: format!("{} fields where the header has {width}", f.len()),
                });
            }
            let conversions = number(f[at[1]], line_no, COLUMNS[1])?;
            let value = number(f[at[2]], line_no, COLUMNS[2])?;
            let nulls = number(f[at[3]], line_no, COLUMNS[3])?;
            let path = unquote(f[at[0]]);
            let start = table.symbols.len() as u32;
            for name in path.split('>') {
                let name = name.trim();
                if name.is_empty() {
                    return Err(PathsError {
                        line: line_no,
                        column: Some("path"),
                        message: format!("{path:?} has an empty channel"),
                    });
                }
                let s = match index.get(name) {
                    Some(s) => *s,
                    None => {
                        let s = table.channels.len() as u32;
                        if s as usize >= MAX_SYMBOLS {
                            return Err(PathsError {
                                line: line_no,
                                column: Some("path"),
                                message: format!("more than {MAX_SYMBOLS} distinct channels"),
                            });
                        }
                        index.insert(name.to_string(), s);
                        table.channels.push(name.to_string());
                        s
                    }
                };
                table.symbols.push(s);
            }
            table.rows.push(PathRow {
                start,
                len: table.symbols.len() as u32 - start,
                conversions,
                value,
                nulls,
            });
        }
        Ok(table)
    }

    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    fn path(&self, r: &PathRow) -> &[u32] {
        &self.symbols[r.start as usize..(r.start + r.len) as usize]
    }

    /// Credit per channel, sorted by channel name. Models that need touch
    /// instants or stage changes (time decay, U, W, full path) are refused:
    /// a paths file has neither.
    pub fn attribute(&self, model: Model) -> Result<Vec<ChannelCredit>, crate::Invalid> {
        let n = self.channels.len();
        let mut conv = vec![0.0; n];
        let mut value = vec![0.0; n];
        let mut removal: Option<(Vec<f64>, Vec<f64>)> = None;
        match model {
            Model::Markov { order } => {
                let mut chain = MarkovChain::new(order)?;
                for r in &self.rows {
                    chain.add(self.path(r), r.conversions, r.value, r.nulls);
                }
                let result = chain.solve(n)?;
                let mut re = (vec![0.0; n], vec![0.0; n]);
                for (i, c) in result.credit.iter().enumerate() {
                    conv[i] = c.conversions;
                    value[i] = c.value;
                    re.0[i] = c.removal_effect_conversions;
                    re.1[i] = c.removal_effect_value;
                }
                removal = Some(re);
            }
            Model::Shapley => {
                let mut game = ShapleyGame::default();
                for r in &self.rows {
                    game.add(self.path(r), r.conversions, r.value, r.nulls);
                }
                for (i, c) in game.solve(n).iter().enumerate() {
                    conv[i] = c.conversions;
                    value[i] = c.value;
                }
            }
            Model::TimeDecay { .. } | Model::UShaped | Model::WShaped | Model::FullPath => {
                return Err(crate::Invalid::new(
                    "model_needs_touches",
                    "model",
                    format!(
                        "{} needs touch instants or stage changes, which a paths file does not have; use first_touch, last_touch, linear, position_based, j_shaped, inverse_j, markov or shapley",
                        model.name()
                    ),
                ));
            }
            per_touch => {
                let mut w = vec![];
                let mut at = vec![];
                for r in self.rows.iter().filter(|r| r.conversions > 0.0) {
                    let path = self.path(r);
                    at.clear();
                    at.extend(0..path.len() as i64);
                    per_touch.touch_weights(&at, path.len() as i64, Roles::default(), &mut w);
                    for (s, w) in path.iter().zip(&w) {
                        conv[*s as usize] += w * r.conversions;
                        value[*s as usize] += w * r.value;
                    }
                }
            }
        }
        let mut out: Vec<ChannelCredit> = (0..n)
            .map(|i| ChannelCredit {
                channel: self.channels[i].clone(),
                conversions: conv[i],
                value: value[i],
                removal_effect_conversions: removal.as_ref().map(|r| r.0[i]),
                removal_effect_value: removal.as_ref().map(|r| r.1[i]),
            })
            .collect();
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        Ok(out)
    }

    /// Total conversions and value over all rows.
    pub fn totals(&self) -> (f64, f64) {
        self.rows
            .iter()
            .fold((0.0, 0.0), |(c, v), r| (c + r.conversions, v + r.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_bad_lines_by_number() {
        let t = PathTable::parse(
            "path,total_conversions,total_conversion_value,total_null\n\
             a > b,1,10,0\n\"b > a\",0,0,2\r\n\n",
        )
        .unwrap();
        assert_eq!(t.rows(), 2);
        assert_eq!(t.channels, ["a", "b"]);
        let first = t.attribute(Model::FirstTouch).unwrap();
        assert_eq!((first[0].conversions, first[0].value), (1.0, 10.0));
        let e = PathTable::parse(
            "path,total_conversions,total_conversion_value,total_null\na,1,1,0\nb,-1,0,0\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (3, Some("total_conversions")));
        assert_eq!(
            e.to_string(),
            "line 3: column total_conversions: -1 is not a count of zero or more"
        );
        let e = PathTable::parse("path,conversions\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = PathTable::parse(
            "path,total_conversions,total_conversion_value,total_null\na > > b,1,1,0\n",
        )
        .unwrap_err();
        assert_eq!(e.column, Some("path"));
        let e =
            PathTable::parse("path,total_conversions,total_conversion_value,total_null\na,1,x,0\n")
                .unwrap_err();
        assert_eq!((e.line, e.column), (2, Some("total_conversion_value")));
        assert!(t.attribute(Model::UShaped).is_err());
    }

    #[test]
    fn empty_file_gives_empty_credit() {
        let t =
            PathTable::parse("path,total_conversions,total_conversion_value,total_null\n").unwrap();
        for m in [Model::Linear, Model::Markov { order: 2 }, Model::Shapley] {
            assert!(t.attribute(m).unwrap().is_empty());
        }
    }
}
