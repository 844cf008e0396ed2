//! Moving data in and out: `import` of CSV files and `export` as CSV or
//! JSON, with progress drawn on the terminal.

use crate::config::Config;
use crate::serve::{open, open_existing};
use anyhow::{Context, Result, anyhow, bail};
use smarketing_app::export::ExportFormat;
use smarketing_app::import::{ImportError, ImportKind, ImportOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant as WallClock;

pub use smarketing_app::import::Bar;

/// `smarketing import`: a directory in one transaction, or one file of one kind.
pub async fn import(
    target: String,
    file: Option<PathBuf>,
    opts: ImportOptions,
    cfg: &Config,
) -> Result<()> {
    // A dry run changes nothing, the database's creation included.
    let app = match opts.dry_run {
        true => open_existing(cfg).await?,
        false => open(cfg).await?,
    };
    let started = WallClock::now();
    let result = match file {
        None => app.import_dir(Path::new(&target), opts, &Bar::new()).await,
        Some(f) => {
            let kind: ImportKind = target
                .parse()
                .map_err(|e: smarketing_core::Invalid| anyhow!(e.message))?;
            app.import_file(kind, &f, opts, &Bar::new())
                .await
                .map(|r| vec![r])
        }
    };
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(reports) => {
            let mut total = 0;
            for r in &reports {
                for e in &r.rejected {
                    eprintln!("skipped {e}");
                }
                println!(
                    "{}: {} rows, {} {}, {} skipped",
                    r.file,
                    r.rows,
                    r.rows - r.rejected.len() as u64,
                    if opts.dry_run {
                        "would be imported"
                    } else {
                        "imported"
                    },
                    r.rejected.len()
                );
                total += r.rows;
            }
            println!(
                "{total} rows in {secs:.2} s ({:.0} rows/s)",
                total as f64 / secs.max(1e-9)
            );
            if opts.dry_run {
                println!("dry run: the rows above would be imported; nothing was written");
            }
            Ok(())
        }
        Err(ImportError::InvalidRows { rejected }) => {
            for e in &rejected {
                eprintln!("{e}");
            }
            bail!(
                "{} invalid rows; nothing was imported (use --skip-invalid to import the valid rows)",
                rejected.len()
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// `smarketing export`.
pub async fn export(
    kind: String,
    format: String,
    output: Option<PathBuf>,
    cfg: &Config,
) -> Result<()> {
    let kind: ImportKind = kind
        .parse()
        .map_err(|e: smarketing_core::Invalid| anyhow!(e.message))?;
    let format: ExportFormat = format
        .parse()
        .map_err(|e: smarketing_core::Invalid| anyhow!(e.message))?;
    let app = open_existing(cfg).await?;
    let n = match output {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            let n = app.export(kind, format, &mut f).await?;
            f.flush()?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            app.export(kind, format, &mut lock).await?
        }
    };
    eprintln!("exported {n} rows");
    Ok(())
}
