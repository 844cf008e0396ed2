//! `smarketing-bench paths` and `smarketing-bench reports`: the analytics
//! figures of the reports issue, on seeded data generated at the issue's
//! sizes (a ChannelAttribution paths file; the demo company at a million
//! contacts), with medians of several runs and peak memory.

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smarketing_app::demo::DemoSize;
use smarketing_app::import::Progress;
use smarketing_app::{App, Clock};
use smarketing_core::analytics::attribution::{AttributionQuery, Conversion, attribute};
use smarketing_core::analytics::dataset::Dataset;
use smarketing_core::analytics::funnel::{Cohort, funnel, velocity};
use smarketing_core::analytics::models::Model;
use smarketing_core::segment::Dimension;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const CHANNELS: [&str; 9] = [
    "content_download",
    "direct",
    "email",
    "events",
    "organic_search",
    "paid_search",
    "referral",
    "social",
    "webinar",
];

/// Median of a few timings.
pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = vec![];
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    (median(times), last.expect("at least one run"))
}

/// A memory figure of this process from /proc/self/status, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak resident memory of this process in bytes (VmHWM).
pub fn peak_rss() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// Resident memory of this process now, in bytes (VmRSS).
pub fn rss() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// Resets the peak so the next reading covers only what follows (Linux).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Writes a seeded paths file with `rows` distinct paths over the sample's
/// nine channels: journeys from a random first-order chain, 1 to 28 touches
/// (10.3 on average, as 10.4M touches over 1M contacts),
/// converting more often the more channels they touch.
pub fn write_paths(file: &Path, rows: usize, seed: u64) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = CHANNELS.len();
    let mut next = vec![vec![0.0f64; n]; n];
    for row in &mut next {
        let mut sum = 0.0;
        for w in row.iter_mut() {
            *w = rng.random::<f64>().powi(2);
            sum += *w;
        }
        row.iter_mut().for_each(|w| *w /= sum);
    }
    let pick = |rng: &mut ChaCha8Rng, row: &[f64]| {
        let mut x: f64 = rng.random();
        for (i, w) in row.iter().enumerate() {
            x -= w;
            if x <= 0.0 {
                return i;
            }
        }
        row.len() - 1
    };
    let mut paths: HashMap<Vec<u8>, (u64, u64, u64)> = HashMap::with_capacity(rows);
    let mut journey = vec![];
    while paths.len() < rows {
        let len = 1 + (rng.random::<f64>().powi(2) * 28.0) as usize;
        journey.clear();
        let mut c = rng.random_range(0..n);
        for _ in 0..len {
            journey.push(c as u8);
            c = pick(&mut rng, &next[c]);
        }
        let mut seen = [false; 9];
        journey.iter().for_each(|c| seen[*c as usize] = true);
        let distinct = seen.iter().filter(|s| **s).count() as f64;
        let converts = rng.random::<f64>() < 0.01 + 0.012 * distinct;
        let e = paths.entry(journey.clone()).or_insert((0, 0, 0));
        if converts {
            e.0 += 1;
            e.1 += rng.random_range(5_000..100_000);
        } else {
            e.2 += 1;
        }
    }
    let mut lines: Vec<String> = paths
        .into_iter()
        .map(|(p, (c, v, z))| {
            let path: Vec<&str> = p.iter().map(|c| CHANNELS[*c as usize]).collect();
            format!("{},{c},{v},{z}", path.join(" > "))
        })
        .collect();
    lines.sort_unstable();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?,
    );
    writeln!(
        out,
        "path,total_conversions,total_conversion_value,total_null"
    )?;
    for l in lines {
        writeln!(out, "{l}")?;
    }
    out.flush()?;
    Ok(())
}

/// Figures of `bench paths`.
pub struct PathFigures {
    pub rows: usize,
    pub bytes: u64,
    pub in_process: Duration,
    pub parse: Duration,
    pub cli_wall: Duration,
    /// |P − conversions ÷ journeys| ÷ P: the chain's own exactness check.
    pub self_check: f64,
    /// |Σ credit − conversions| ÷ conversions.
    pub sum_check: f64,
}

pub fn paths(file: &Path, rows: usize, runs: usize) -> Result<PathFigures> {
    if !file.exists() {
        eprintln!("generating {} paths into {} …", rows, file.display());
        write_paths(file, rows, 640)?;
    }
    let bytes = std::fs::metadata(file)?.len();
    let (parse, table) = time(runs, || {
        smarketing_app::paths_file::read_paths(file).expect("valid")
    });
    let (in_process, credit) = time(runs, || {
        let t = smarketing_app::paths_file::read_paths(file).expect("valid");
        t.attribute(Model::Markov { order: 1 }).expect("solves")
    });
    let (conversions, _) = table.totals();
    let credited: f64 = credit.iter().map(|c| c.conversions).sum();
    // P from the chain against the share of converting journeys.
    let solved = table.markov_chain(1)?.solve(table.channels.len())?;
    let share = solved.total_conversions / solved.journeys;
    let exe = crate::product_binary()?;
    let mut walls = vec![];
    for _ in 0..runs {
        let t = Instant::now();
        let out = std::process::Command::new(&exe)
            .args(["attribution", "--paths"])
            .arg(file)
            .args(["--model", "markov", "--order", "1", "--format", "csv"])
            .env("SMARKETING_CONFIG", "/nonexistent/smarketing.toml")
            .output()?;
        walls.push(t.elapsed());
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(PathFigures {
        rows: table.rows(),
        bytes,
        in_process,
        parse,
        cli_wall: median(walls),
        self_check: (solved.conversion_probability - share).abs() / share,
        sum_check: (credited - conversions).abs() / conversions,
    })
}

/// Figures of `bench reports`.
pub struct ReportFigures {
    pub generated: Option<Duration>,
    pub contacts: u64,
    pub touches: u64,
    pub changes: u64,
    pub deals: u64,
    pub load: Duration,
    pub peak_rss_load: Option<u64>,
    pub heuristics: Duration,
    pub funnel: Duration,
    pub time_in_stage: Duration,
    pub markov3: Duration,
    pub shapley: Duration,
    pub report_first: Duration,
    pub report_cached: Duration,
    /// DuckDB on the same rows, or why not.
    pub duckdb: Result<DuckDbTimes, String>,
}

/// The issue's reference measured in the same run: the same contacts and
/// stage changes written to CSV, loaded into DuckDB (through python3's
/// `duckdb` module), then the funnel by source and the time-in-stage
/// median/p90 by source timed there (medians of `runs`, load excluded).
/// DuckDB's times on the same rows, median of the runs.
#[derive(Debug, Clone, Copy)]
pub struct DuckDbTimes {
    pub funnel: Duration,
    pub time_in_stage: Duration,
    /// First, last, linear, U-shaped and time-decay credit of won deals by
    /// channel, in one query (touches up to the close).
    pub attribution: Duration,
}

fn duckdb_reference(ds: &Dataset, runs: usize) -> Result<DuckDbTimes, String> {
    let dir = std::env::temp_dir().join(format!("smarketing-duckdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let write = || -> std::io::Result<()> {
        let mut c = std::io::BufWriter::new(std::fs::File::create(dir.join("contacts.csv"))?);
        writeln!(c, "id,source")?;
        let source = smarketing_core::analytics::dataset::dim_index(Dimension::SourceChannel);
        for (i, row) in ds.contacts.iter().enumerate() {
            let code = row.dims[source];
            let name = ds.values[source]
                .get(code as usize)
                .map_or("", String::as_str);
            writeln!(c, "{i},{name}")?;
        }
        c.flush()?;
        let mut s = std::io::BufWriter::new(std::fs::File::create(dir.join("changes.csv"))?);
        writeln!(s, "contact,stage,ts")?;
        for i in 0..ds.contacts.len() {
            for ch in ds.changes_of(i) {
                if let Some(r) = ch.stage.funnel_rank() {
                    writeln!(s, "{i},{r},{}", ch.at)?;
                }
            }
        }
        s.flush()?;
        let mut t = std::io::BufWriter::new(std::fs::File::create(dir.join("touches.csv"))?);
        writeln!(t, "contact,ts,channel")?;
        for i in 0..ds.contacts.len() {
            for touch in ds.touches_of(i) {
                writeln!(
                    t,
                    "{i},{},{}",
                    touch.at, ds.channels[touch.channel as usize]
                )?;
            }
        }
        t.flush()?;
        let mut d = std::io::BufWriter::new(std::fs::File::create(dir.join("won.csv"))?);
        writeln!(d, "deal,contact,ts,amount")?;
        for deal in &ds.deals {
            if let (smarketing_core::analytics::dataset::DealStatus::Won, Some(at)) =
                (deal.status, deal.closed_at)
                && deal.contact != u32::MAX
            {
                writeln!(d, "{},{},{at},{}", deal.id, deal.contact, deal.amount_minor)?;
            }
        }
        d.flush()
    };
    write().map_err(|e| e.to_string())?;
    let script = format!(
        r#"
import duckdb, json, statistics, time
con = duckdb.connect()
con.execute("CREATE TABLE contacts AS SELECT * FROM read_csv_auto('{d}/contacts.csv')")
con.execute("CREATE TABLE changes AS SELECT * FROM read_csv_auto('{d}/changes.csv')")
con.execute("CREATE TABLE touches AS SELECT * FROM read_csv_auto('{d}/touches.csv')")
con.execute("CREATE TABLE won AS SELECT * FROM read_csv_auto('{d}/won.csv')")
funnel = "SELECT c.source, ch.stage, count(DISTINCT ch.contact) FROM changes ch JOIN contacts c ON c.id = ch.contact GROUP BY ALL"
tis = ("WITH f AS (SELECT contact, stage, min(ts) AS ts FROM changes GROUP BY ALL) "
       "SELECT c.source, a.stage, median(b.ts - a.ts), quantile_cont(b.ts - a.ts, 0.9) "
       "FROM f a JOIN f b ON a.contact = b.contact AND b.stage = a.stage + 1 JOIN contacts c ON c.id = a.contact GROUP BY ALL")
attribution = ("WITH j AS (SELECT w.deal, w.amount, t.channel, "
       "pow(0.5, (w.ts - t.ts) / 604800000.0) AS decay, "
       "row_number() OVER (PARTITION BY w.deal ORDER BY t.ts) AS pos, "
       "count(*) OVER (PARTITION BY w.deal) AS n FROM won w JOIN touches t ON t.contact = w.contact AND t.ts <= w.ts), "
       "k AS (SELECT *, sum(decay) OVER (PARTITION BY deal) AS decays FROM j) "
       "SELECT channel, sum(CASE WHEN pos = 1 THEN amount END), sum(CASE WHEN pos = n THEN amount END), "
       "sum(amount / n), sum(amount * CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 0.5 WHEN pos = 1 OR pos = n THEN 0.4 ELSE 0.2 / (n - 2) END), "
       "sum(amount * decay / decays) FROM k GROUP BY channel")
def timed(q):
    xs = []
    for _ in range({runs}):
        t = time.perf_counter(); con.execute(q).fetchall(); xs.append(time.perf_counter() - t)
    return statistics.median(xs)
print(json.dumps([timed(funnel), timed(tis), timed(attribution)]))
"#,
        d = dir.display()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(if err.contains("No module named 'duckdb'") {
            "skipped: python3 has no duckdb module (pip install duckdb)".into()
        } else {
            format!("failed: {}", err.lines().last().unwrap_or(""))
        });
    }
    let secs: Vec<f64> = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    match secs.as_slice() {
        [f, t, a] => Ok(DuckDbTimes {
            funnel: Duration::from_secs_f64(*f),
            time_in_stage: Duration::from_secs_f64(*t),
            attribution: Duration::from_secs_f64(*a),
        }),
        _ => Err("unexpected output".into()),
    }
}

fn won(models: Vec<Model>) -> AttributionQuery {
    AttributionQuery::channels(Conversion::Won, models)
}

pub async fn reports(
    db: &Path,
    contacts: usize,
    runs: usize,
    progress: &dyn Progress,
) -> Result<ReportFigures> {
    let url = format!("sqlite://{}", db.display());
    let store =
        smarketing_store::Store::connect(&url, 4, smarketing_store::SqliteSync::Normal).await?;
    let app = App::new(store, Clock::System);
    app.prepare().await?;
    let mut generated = None;
    {
        let t = Instant::now();
        let size = DemoSize {
            accounts: (contacts / 7).max(1),
            contacts,
            touches_per_contact: 10.4,
            months: 12,
        };
        let (summary, _) = app.generate_demo(7, size, progress).await?;
        if summary.generated {
            generated = Some(t.elapsed());
        }
    }
    // Load in a fresh measure of peak memory.
    let (_, playbook) = app.playbook().await?;
    reset_peak_rss();
    let mut conn = app.store().acquire().await?;
    let (ds, figures) = app.load_dataset(&mut conn, &playbook).await?;
    drop(conn);
    let peak_rss_load = peak_rss();
    let per_touch: Vec<Model> = Model::all(7.0, 1)?
        .into_iter()
        .filter(Model::is_per_touch)
        .collect();
    let ds: &Dataset = &ds;
    let (heuristics, _) = time(runs, || attribute(ds, &won(per_touch.clone())));
    let by_source = Cohort {
        dimension: Some(Dimension::SourceChannel),
        ..Cohort::all_leads()
    };
    let (funnel_t, _) = time(runs, || funnel(ds, &by_source));
    let (tis, _) = time(runs, || velocity(ds, &by_source));
    let (markov3, _) = time(runs, || {
        attribute(ds, &won(vec![Model::Markov { order: 3 }]))
    });
    let (shapley, _) = time(runs, || attribute(ds, &won(vec![Model::Shapley])));
    // Through the app: the first request loads and computes, the next is served from the cache.
    let q = smarketing_app::reports::CohortQuery {
        by: Some("source_channel".into()),
        ..Default::default()
    };
    let t = Instant::now();
    app.funnel_report(&q).await?;
    let report_first = t.elapsed();
    let (report_cached, _) = {
        let mut times = vec![];
        for _ in 0..runs {
            let t = Instant::now();
            app.funnel_report(&q).await?;
            times.push(t.elapsed());
        }
        (median(times), ())
    };
    let duckdb = duckdb_reference(ds, runs);
    Ok(ReportFigures {
        duckdb,
        generated,
        contacts: figures.contacts,
        touches: figures.touches,
        changes: figures.changes,
        deals: figures.deals,
        load: figures.took,
        peak_rss_load,
        heuristics,
        funnel: funnel_t,
        time_in_stage: tis,
        markov3,
        shapley,
        report_first,
        report_cached,
    })
}
