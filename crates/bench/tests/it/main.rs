//! The benchmarks' own checks: the crash test, small enough to run with the
//! other tests, serving the `smarketing` binary built beside this one.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smarketing-bench"));
    c.env("RUST_BACKTRACE", "0");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The crash test of `smarketing-bench crash`, small: the served process is
/// killed with SIGKILL three times while batches are sent and retried; every
/// acknowledged event is stored exactly once and the file is sound.
#[test]
fn acknowledged_events_survive_sigkill_exactly_once() {
    let mut args = vec!["crash", "--kills", "3", "--batches", "300"];
    let pg = std::env::var("SMARKETING_TEST_DATABASE_URL").ok();
    let mut runs = vec![args.clone()];
    if let Some(url) = pg.as_deref() {
        args.extend(["--postgres", url]);
        runs.push(args);
    }
    for a in runs {
        let out = bin().args(&a).output().unwrap();
        let s = text(&out.stdout);
        assert!(
            out.status.success() && s.contains("PASS") && s.contains("3 SIGKILLs"),
            "{s}{}",
            text(&out.stderr)
        );
        assert!(s.contains("missing 0") && s.contains("duplicates 0"), "{s}");
    }
}
