//! The ChannelAttribution path format (columns `path, total_conversions,
//! total_conversion_value, total_null`; a path is channels joined by " > ")
//! and attribution on it, so analysts can check us against other tools.

use super::markov::{MAX_SYMBOLS, MarkovChain};
use super::models::{Model, Roles};
use super::on_threads;
use super::shapley::ShapleyGame;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::borrow::Cow;
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
    /// The rows in the parts they were parsed in (kept apart: joining
    /// them would copy every symbol once more, on one core).
    parts: Vec<Rows>,
}

/// Rows and their symbols, one row's after another.
#[derive(Debug, Clone, Default)]
struct Rows {
    symbols: Vec<u32>,
    rows: Vec<PathRow>,
}

impl Rows {
    /// Each row with its path.
    fn iter(&self) -> impl Iterator<Item = (&[u32], &PathRow)> {
        self.rows.iter().map(|r| {
            (
                &self.symbols[r.start as usize..(r.start + r.len) as usize],
                r,
            )
        })
    }
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

/// Where the columns are, from a paths file's header line.
#[derive(Debug, Clone, Copy)]
pub struct PathsLayout {
    width: usize,
    at: [usize; 4],
}

impl PathsLayout {
    /// Finds the columns by their names in the header line (line 1).
    pub fn from_header(header: &str) -> Result<PathsLayout, PathsError> {
        let header = header.trim_end_matches('\r').trim_start_matches('\u{feff}');
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
        Ok(PathsLayout {
            width: names.len(),
            at,
        })
    }
}

/// One consecutive part of a paths file's lines, parsed on its own (its
/// own channel symbols; line numbers counted from the part's start) and fed
/// in pieces of whole lines, so a reader can parse a large file on every
/// core through small reused buffers. [`PathTable::from_parts`] joins them.
pub struct PathsPart {
    layout: PathsLayout,
    names: Vec<String>,
    index: Interner,
    symbols: Vec<u32>,
    rows: Vec<PathRow>,
    lines: usize,
}

impl PathsPart {
    /// An empty part; `bytes` (the part's size, if known) sizes its vectors
    /// (a channel and its " > " take about 14 bytes, a row about 150), so
    /// they rarely grow.
    pub fn new(layout: PathsLayout, bytes: usize) -> PathsPart {
        PathsPart {
            layout,
            names: vec![],
            index: Interner::default(),
            symbols: Vec::with_capacity(bytes / 12),
            rows: Vec::with_capacity(bytes / 100),
            lines: 0,
        }
    }

    /// Parses whole lines (a last line may lack its '\n'); errors carry
    /// the line number within the part.
    pub fn feed(&mut self, text: &str) -> Result<(), PathsError> {
        if text.is_empty() {
            return Ok(());
        }
        if memchr::memchr(b'"', text.as_bytes()).is_none() {
            return self.feed_unquoted(text);
        }
        let mut f: Vec<Cow<'_, str>> = Vec::with_capacity(self.layout.width);
        let mut arrows = vec![];
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
            // '\n' is ASCII, so both ends are character boundaries.
            let line = &text[at..end];
            at = end + 1;
            self.lines += 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            split_line(line, &mut f);
            let strs: Vec<&str> = f.iter().map(|x| x.as_ref()).collect();
            arrows.clear();
            if let Some(path) = strs.get(self.layout.at[0]) {
                arrows.extend(memchr::memchr_iter(b'>', path.as_bytes()));
            }
            self.add_row(&strs, &arrows)?;
        }
        Ok(())
    }

    /// [`PathsPart::feed`] for text without quotes, the common case: one
    /// pass finds every line end, comma and '>' together.
    fn feed_unquoted(&mut self, text: &str) -> Result<(), PathsError> {
        let bytes = text.as_bytes();
        let path_column = self.layout.at[0];
        let mut f: Vec<&str> = Vec::with_capacity(self.layout.width);
        let mut arrows = vec![];
        let (mut line_start, mut field_start) = (0, 0);
        let ends = memchr::memchr3_iter(b'\n', b',', b'>', bytes);
        for at in ends.chain((bytes.last() != Some(&b'\n')).then_some(bytes.len())) {
            match bytes.get(at) {
                Some(b'>') => {
                    if f.len() == path_column {
                        arrows.push(at - field_start);
                    }
                }
                Some(b',') => {
                    // ASCII, so a character boundary.
                    f.push(&text[field_start..at]);
                    field_start = at + 1;
                }
                _ => {
                    self.lines += 1;
                    let end = if at > line_start && bytes[at - 1] == b'\r' {
                        at - 1
                    } else {
                        at
                    };
                    if end > line_start {
                        f.push(&text[field_start..end.max(field_start)]);
                        self.add_row(&f, &arrows)?;
                    }
                    f.clear();
                    arrows.clear();
                    (line_start, field_start) = (at + 1, at + 1);
                }
            }
        }
        Ok(())
    }

    /// Adds the row of the line just counted, given its fields and the
    /// offsets of '>' in its path field; a line is checked in the order
    /// field count, numbers, path.
    fn add_row(&mut self, f: &[&str], arrows: &[usize]) -> Result<(), PathsError> {
        let (layout, line) = (self.layout, self.lines);
        if f.len() != layout.width {
            return Err(PathsError {
                line,
                column: None,
                message: format!("{} fields where the header has {}", f.len(), layout.width),
            });
        }
        let conversions = number(f[layout.at[1]], line, COLUMNS[1])?;
        let value = number(f[layout.at[2]], line, COLUMNS[2])?;
        let nulls = number(f[layout.at[3]], line, COLUMNS[3])?;
        let start = self.symbols.len() as u32;
        let path = f[layout.at[0]];
        let mut from = 0;
        for end in arrows.iter().copied().chain(std::iter::once(path.len())) {
            // '>' is ASCII, so both ends are character boundaries.
            let name = path[from..end].trim_ascii();
            from = end + 1;
            if name.is_empty() {
                return Err(PathsError {
                    line,
                    column: Some("path"),
                    message: format!("{path:?} has an empty channel"),
                });
            }
            let s = self.index.get_or_insert(&mut self.names, name);
            self.symbols.push(s);
        }
        self.rows.push(PathRow {
            start,
            len: self.symbols.len() as u32 - start,
            conversions,
            value,
            nulls,
        });
        Ok(())
    }
}

/// Channel names to symbols. A name of up to 16 bytes is its own exact
/// key — its length, first eight and last eight bytes (overlapping, or
/// zero-padded when shorter) — kept in an open-addressed table, so a
/// lookup is a few integer compares; longer names go through a hash map.
struct Interner {
    /// (first 8 bytes, last 8 bytes, length, symbol + 1); symbol 0 is empty.
    slots: Vec<(u64, u64, u32, u32)>,
    long: FxHashMap<Box<str>, u32>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            slots: vec![(0, 0, 0, 0); 64],
            long: FxHashMap::default(),
        }
    }
}

/// The exact key of a name of 1 to 16 bytes: with the length, two
/// overlapping loads determine every byte.
fn short_key(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes")) as u64;
    match n {
        8.. => (
            u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(b[n - 8..].try_into().expect("8 bytes")),
        ),
        4.. => (u32_at(0) | u32_at(n - 4) << 32, 0),
        1.. => (
            b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16,
            0,
        ),
        0 => (0, 0),
    }
}

fn slot_of(first: u64, last: u64, len: u32, mask: usize) -> usize {
    let h = (first ^ last.rotate_left(29) ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 40) as usize & mask
}

impl Interner {
    fn get_or_insert(&mut self, names: &mut Vec<String>, name: &str) -> u32 {
        let b = name.as_bytes();
        let next = names.len() as u32;
        if b.len() > 16 {
            let s = match self.long.get(name) {
                Some(s) => *s,
                None => {
                    self.long.insert(name.into(), next);
                    names.push(name.to_string());
                    next
                }
            };
            return s;
        }
        let (first, last) = short_key(b);
        let len = b.len() as u32;
        let mask = self.slots.len() - 1;
        let mut i = slot_of(first, last, len, mask);
        loop {
            let e = self.slots[i];
            if e.3 == 0 {
                break;
            }
            if e.0 == first && e.1 == last && e.2 == len {
                return e.3 - 1;
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = (first, last, len, next + 1);
        names.push(name.to_string());
        // Keep the table at most half full so probes stay short.
        if names.len() * 2 > self.slots.len() {
            let mut slots = vec![(0, 0, 0, 0); self.slots.len() * 2];
            let mask = slots.len() - 1;
            for e in self.slots.iter().filter(|e| e.3 != 0) {
                let mut i = slot_of(e.0, e.1, e.2, mask);
                while slots[i].3 != 0 {
                    i = (i + 1) & mask;
                }
                slots[i] = *e;
            }
            self.slots = slots;
        }
        next
    }
}

/// One line's fields: borrowed when it has no quotes (the fast, common
/// case), unquoted copies when it has.
fn split_line<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
    if memchr::memchr(b'"', line.as_bytes()).is_some() {
        out.extend(
            fields(line)
                .into_iter()
                .map(|x| Cow::Owned(unquote(x).into_owned())),
        );
    } else {
        let b = line.as_bytes();
        let mut start = 0;
        for i in memchr::memchr_iter(b',', b) {
            out.push(Cow::Borrowed(&line[start..i]));
            start = i + 1;
        }
        out.push(Cow::Borrowed(&line[start..]));
    }
}

impl PathTable {
    /// Parses a paths file. Columns are found by their header names. Large
    /// files are split at line ends and parsed on every core.
    pub fn parse(text: &str) -> Result<PathTable, PathsError> {
        let threads = if text.len() > 4 << 20 {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
        } else {
            1
        };
        let mut parts = vec![];
        let mut rest = text;
        for k in (1..=threads).rev() {
            let cut = if k == 1 {
                rest.len()
            } else {
                let guess = rest.len() / k;
                // Bytes, not chars: `guess` may fall inside a multi-byte
                // character, and '\n' never does.
                memchr::memchr(b'\n', &rest.as_bytes()[guess..])
                    .map_or(rest.len(), |i| guess + i + 1)
            };
            let (a, b) = rest.split_at(cut);
            parts.push(a);
            rest = b;
        }
        PathTable::parse_parts(&parts)
    }

    /// Parses a paths file given as consecutive parts of whole lines (the
    /// first starts with the header), each part on its own thread.
    pub fn parse_parts(parts: &[&str]) -> Result<PathTable, PathsError> {
        let first = parts.first().copied().unwrap_or("");
        let (header, body) = first.split_once('\n').unwrap_or((first, ""));
        let layout = PathsLayout::from_header(header)?;
        let chunks: Vec<&str> = std::iter::once(body)
            .chain(parts.iter().skip(1).copied())
            .collect();
        let parsed = on_threads(&chunks, |c| {
            let mut part = PathsPart::new(layout, c.len());
            part.feed(c).map(|()| part)
        });
        PathTable::from_parts(parsed)
    }

    /// Joins consecutive parts (the first is the one after the header):
    /// one dictionary, symbols renumbered, line numbers made global. The
    /// first part that failed gives the error.
    pub fn from_parts(
        parts: impl IntoIterator<Item = Result<PathsPart, PathsError>>,
    ) -> Result<PathTable, PathsError> {
        let mut table = PathTable::default();
        let mut index: FxHashMap<String, u32> = FxHashMap::default();
        let mut lines_before = 1;
        let mut remaps = vec![];
        for part in parts {
            let part = part.map_err(|mut e| {
                e.line += lines_before;
                e
            })?;
            let mut remap = Vec::with_capacity(part.names.len());
            for name in &part.names {
                let next = table.channels.len() as u32;
                let s = *index.entry(name.clone()).or_insert(next);
                if s == next {
                    if s as usize >= MAX_SYMBOLS {
                        return Err(PathsError {
                            line: lines_before + 1,
                            column: Some("path"),
                            message: format!("more than {MAX_SYMBOLS} distinct channels"),
                        });
                    }
                    table.channels.push(name.clone());
                }
                remap.push(s);
            }
            lines_before += part.lines;
            remaps.push(remap);
            table.parts.push(Rows {
                symbols: part.symbols,
                rows: part.rows,
            });
        }
        // Renumbered in place, each part on its own thread.
        std::thread::scope(|scope| {
            for (part, remap) in table.parts.iter_mut().zip(&remaps) {
                let mut renumber = move || {
                    part.symbols
                        .iter_mut()
                        .for_each(|s| *s = remap[*s as usize])
                };
                if remaps.len() > 1 {
                    scope.spawn(renumber);
                } else {
                    renumber();
                }
            }
        });
        Ok(table)
    }

    /// Every row with its path.
    fn journeys(&self) -> impl Iterator<Item = (&[u32], &PathRow)> {
        self.parts.iter().flat_map(Rows::iter)
    }

    /// The Markov chain of order `order` over every row's journeys.
    pub fn markov_chain(&self, order: u8) -> Result<MarkovChain, crate::Invalid> {
        let count = |rows: &Rows| -> Result<MarkovChain, crate::Invalid> {
            let mut chain = MarkovChain::new(order, self.channels.len())?;
            for (path, r) in rows.iter() {
                chain.add(path, r.conversions, r.value, r.nulls);
            }
            Ok(chain)
        };
        // Each part counted on its own thread, then merged: counts are sums.
        let parts: Vec<Result<MarkovChain, crate::Invalid>> = if self.rows() > 50_000 {
            on_threads(&self.parts, count)
        } else {
            self.parts.iter().map(count).collect()
        };
        let mut parts = parts.into_iter();
        let mut chain = match parts.next() {
            Some(first) => first?,
            None => return count(&Rows::default()),
        };
        for p in parts {
            chain.merge(&p?);
        }
        Ok(chain)
    }

    pub fn rows(&self) -> usize {
        self.parts.iter().map(|p| p.rows.len()).sum()
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
                let result = self.markov_chain(order)?.solve(n)?;
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
                for (path, r) in self.journeys() {
                    game.add(path, r.conversions, r.value, r.nulls);
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
                for (path, r) in self.journeys().filter(|(_, r)| r.conversions > 0.0) {
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
        self.journeys().fold((0.0, 0.0), |(c, v), (_, r)| {
            (c + r.conversions, v + r.value)
        })
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
    fn large_files_split_across_threads_keep_line_numbers_and_totals() {
        let mut text = String::from("path,total_conversions,total_conversion_value,total_null\n");
        let rows = 200_000;
        for i in 0..rows {
            // Multi-byte names, so a split point can fall inside a character.
            let extra = if i % 3 == 0 {
                " > wébinaire – été"
            } else {
                ""
            };
            text.push_str(&format!("email > direct{extra},1,10,2\n"));
        }
        assert!(text.len() > 4 << 20);
        let t = PathTable::parse(&text).unwrap();
        assert_eq!(t.rows(), rows);
        assert_eq!(t.totals(), (rows as f64, 10.0 * rows as f64));
        assert_eq!(t.channels.len(), 3);
        let linear = t.attribute(Model::Linear).unwrap();
        let sum: f64 = linear.iter().map(|c| c.conversions).sum();
        assert!((sum - rows as f64).abs() < 1e-6);
        // A bad row late in the file is named by its line in the whole file.
        text.push_str("email,1,x,0\n");
        let e = PathTable::parse(&text).unwrap_err();
        assert_eq!(
            (e.line, e.column),
            (rows + 2, Some("total_conversion_value"))
        );
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
