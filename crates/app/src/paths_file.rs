//! The paths file of `smarketing attribution --paths` (the ChannelAttribution
//! format): read in one part per core through a reused block and parsed by
//! core's `PathsPart`, so a file of hundreds of megabytes is never whole in
//! memory.

use smarketing_core::analytics::on_threads;
use smarketing_core::analytics::paths::{PathTable, PathsError, PathsLayout, PathsPart};
use std::path::{Path, PathBuf};

/// Why a paths file could not be read; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum PathsFileError {
    #[error("reading {}: {source}", file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    /// A bad line, numbered in the whole file.
    #[error("{}:{}: {}{}", file.display(), error.line, error.column.as_ref().map(|c| format!("column {c}: ")).unwrap_or_default(), error.message)]
    Line { file: PathBuf, error: PathsError },
    #[error("{}: not UTF-8 text at byte {at}", file.display())]
    NotText { file: PathBuf, at: u64 },
    #[error("{}:1: a header line of over 64 KB", file.display())]
    LongHeader { file: PathBuf },
}

/// What reading one part can fail with: a bad line (numbered within the
/// part until the parts are joined) or anything else.
enum PartError {
    Line(PathsError),
    File(PathsFileError),
}

/// Reads and parses a paths file: a large file is split in one part per
/// core, and each part is read and parsed by its own thread through one
/// reused block (so the file is never whole in memory: no page faults for
/// it, and the block stays in cache between the read and the parse).
/// Errors name the file and line.
pub fn read_paths(file: &Path) -> Result<PathTable, PathsFileError> {
    // A block: big enough that a read costs little, small enough to stay
    // in the core's cache.
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    read_paths_in(file, 512 << 10, parts, 4 << 20)
}

/// [`read_paths`] with its sizes given: blocks of `block` bytes, and
/// `parts` parts when the lines after the header are over `split` bytes.
pub(crate) fn read_paths_in(
    file: &Path,
    block: usize,
    parts: usize,
    split: u64,
) -> Result<PathTable, PathsFileError> {
    use std::os::unix::fs::FileExt;
    let io = |source| PathsFileError::Io {
        file: file.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(file).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    let bad = |error: PathsError| PathsFileError::Line {
        file: file.to_path_buf(),
        error,
    };
    // Where text that is not UTF-8 starts, counted in the whole file.
    let not_text = |at: u64, e: std::str::Utf8Error| PathsFileError::NotText {
        file: file.to_path_buf(),
        at: at + e.valid_up_to() as u64,
    };
    // The header: the first line, within the first 64 KB.
    let mut head = vec![0u8; (64 << 10).min(size as usize)];
    f.read_exact_at(&mut head, 0).map_err(io)?;
    let header_end = match memchr::memchr(b'\n', &head) {
        Some(i) => i + 1,
        None if head.len() as u64 == size => head.len(),
        None => {
            return Err(PathsFileError::LongHeader {
                file: file.to_path_buf(),
            });
        }
    };
    let header = std::str::from_utf8(&head[..header_end]).map_err(|e| not_text(0, e))?;
    let layout = PathsLayout::from_header(header.trim_end_matches('\n')).map_err(bad)?;
    let body = size - header_end as u64;
    let threads = if body > split { parts.max(1) as u64 } else { 1 };
    // Part k holds the lines that start in [begin_k, begin_k+1), where
    // begin_k = header_end + body·k/T. A part after the first reads from
    // one byte before its start and skips to the first line end, so a line
    // that starts exactly at its start is its own.
    let begin = |k: u64| header_end as u64 + body * k / threads;
    let parse_part = |k: u64| -> Result<PathsPart, PartError> {
        let (start, end) = (begin(k), begin(k + 1));
        let mut part = PathsPart::new(layout, (end - start) as usize);
        let mut buf = vec![0u8; block.max(1)];
        // File offset of buf[0]; bytes of buf holding data.
        let mut base = if k == 0 { start } else { start - 1 };
        let mut filled = 0;
        let mut skipping = k > 0;
        loop {
            let n = ((size - base) as usize - filled).min(buf.len() - filled);
            f.read_exact_at(&mut buf[filled..filled + n], base + filled as u64)
                .map_err(|e| PartError::File(io(e)))?;
            filled += n;
            let at_eof = base + filled as u64 >= size;
            let mut from = 0;
            if skipping {
                match memchr::memchr(b'\n', &buf[..filled]) {
                    // A line that started before the part and runs past
                    // its end leaves it no line of its own.
                    Some(i) if base + i as u64 + 1 >= end => break,
                    Some(i) => {
                        from = i + 1;
                        skipping = false;
                    }
                    None if at_eof => break,
                    None => {
                        // A line longer than a block: keep looking.
                        base += filled as u64;
                        filled = 0;
                        continue;
                    }
                }
            }
            // Our lines are those that start before `end`; the last of them
            // ends at the first '\n' at or after end − 1.
            let limit = end.saturating_sub(base + 1) as usize;
            let last_end = if limit < filled {
                memchr::memchr(b'\n', &buf[limit.max(from)..filled]).map(|i| limit.max(from) + i)
            } else {
                None
            };
            let done = last_end.is_some() || at_eof;
            let upto = match last_end {
                Some(i) => i + 1,
                None if at_eof => filled,
                None => memchr::memrchr(b'\n', &buf[from..filled]).map_or(from, |i| from + i + 1),
            };
            if upto == 0 && filled == buf.len() {
                // A line longer than the block: a bigger block.
                buf.resize(buf.len() * 2, 0);
                continue;
            }
            let text = std::str::from_utf8(&buf[from..upto])
                .map_err(|e| PartError::File(not_text(base + from as u64, e)))?;
            part.feed(text).map_err(PartError::Line)?;
            if done {
                break;
            }
            buf.copy_within(upto..filled, 0);
            base += upto as u64;
            filled -= upto;
        }
        Ok(part)
    };
    let parts = on_threads(&(0..threads).collect::<Vec<u64>>(), |k| parse_part(*k));
    // A bad line's number counts the lines of the parts before it, so the
    // parts are joined in order and the first failure is reported.
    let mut ok = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Ok(p) => ok.push(Ok(p)),
            Err(PartError::Line(e)) => {
                ok.push(Err(e));
                break;
            }
            Err(PartError::File(e)) => return Err(e),
        }
    }
    PathTable::from_parts(ok).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smarketing_core::analytics::models::Model;

    /// Parts read by byte range through blocks give the same table as one
    /// parse of the text, for blocks of 4 KB to 512 KB and one to five
    /// parts, wherever they cut: multi-byte names, quoted lines, CRLF,
    /// blank lines, a line longer than a block around the middle, no final
    /// line end. A bad line keeps its number in the whole file, whichever
    /// part it falls in.
    #[test]
    fn paths_read_in_parts_match_one_parse() {
        let mut text = String::from("path,total_conversions,total_conversion_value,total_null\n");
        let rows = 150_000;
        let (mut conversions, mut value) = (0.0, 0.0);
        for i in 0..rows {
            if i == rows / 2 {
                // About 1.4 MB: longer than a block, around the middle.
                let long = vec!["email"; 200_000].join(" > ");
                text.push_str(&format!("{long} > direct,1,5,0\n\n"));
                (conversions, value) = (conversions + 1.0, value + 5.0);
            }
            // Multi-byte names, so a cut can fall inside a character.
            let extra = ["", " > wébinaire – été", " > ünïcode"][i % 3];
            let path = format!("email > direct{extra}");
            let line = match i % 1000 {
                7 => format!("\"{path}\",{},{},1\r\n", i % 2, i % 7),
                _ => format!("{path},{},{},1\n", i % 2, i % 7),
            };
            text.push_str(&line);
            (conversions, value) = (conversions + (i % 2) as f64, value + (i % 7) as f64);
        }
        let text = text.trim_end().to_string();
        assert!(text.len() > 4 << 20);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paths.csv");
        std::fs::write(&file, &text).unwrap();
        let parsed = PathTable::parse(&text).unwrap();
        assert_eq!(parsed.totals(), (conversions, value));
        let linear = parsed.attribute(Model::Linear).unwrap();
        let markov = parsed.attribute(Model::Markov { order: 2 }).unwrap();
        let sizes = [(512 << 10, 2), (4 << 10, 1), (4 << 10, 3), (100_000, 5)];
        for (block, parts) in sizes {
            let read = read_paths_in(&file, block, parts, 0).unwrap();
            let at = format!("{block}-byte blocks, {parts} parts");
            assert_eq!(read.rows(), rows + 1, "{at}");
            assert_eq!(read.totals(), (conversions, value), "{at}");
            assert_eq!(read.attribute(Model::Linear).unwrap(), linear, "{at}");
            let m = read.attribute(Model::Markov { order: 2 }).unwrap();
            assert_eq!(m, markov, "{at}");
        }
        assert_eq!(read_paths(&file).unwrap().totals(), (conversions, value));
        let mut text = text + "\n";
        text.push_str("email,1,-3,0\n");
        std::fs::write(&file, &text).unwrap();
        for (block, parts) in sizes {
            let e = read_paths_in(&file, block, parts, 0)
                .unwrap_err()
                .to_string();
            assert!(
                e.ends_with(
                    ":150004: column total_conversion_value: -3 is not a count of zero or more"
                ),
                "{block}-byte blocks, {parts} parts: {e}"
            );
        }
        // A bad line in the first part, and text that is not UTF-8 named by
        // its byte in the file.
        let mut bytes = text.clone().into_bytes();
        let second = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        bytes[second] = 0xFF;
        std::fs::write(&file, &bytes).unwrap();
        for (block, parts) in sizes {
            let e = read_paths_in(&file, block, parts, 0)
                .unwrap_err()
                .to_string();
            assert!(
                e.ends_with(&format!("not UTF-8 text at byte {second}")),
                "{e}"
            );
        }
    }
}
