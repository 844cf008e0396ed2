//! Reports that scan history — attribution, funnel, velocity — computed in
//! memory over compact columns and journeys. Reading the data is the store's
//! job; everything here is a pure function of what it is given.

pub mod attribution;
pub mod dataset;
pub mod expected;
pub mod funnel;
pub mod markov;
pub mod models;
pub mod paths;
pub mod roi;
pub mod shapley;

#[cfg(test)]
mod sample_tests;

/// Runs `work` on `0..n` cut into one range per core (one range when `n`
/// is below `min_split`), each on its own thread; the results in order, so
/// joining them gives what one pass over `0..n` would.
pub(crate) fn in_parts<T: Send>(
    n: usize,
    min_split: usize,
    work: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let parts = if n < min_split {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |p| p.get().min(8))
    };
    let ranges: Vec<_> = (0..parts)
        .map(|k| n * k / parts..n * (k + 1) / parts)
        .collect();
    on_threads(&ranges, |r| work(r.clone()))
}

/// Runs `work` on each item, each on a thread of its own (a single item on
/// this one); the results in the items' order. A panic in one goes on here.
pub fn on_threads<I: Sync, T: Send>(items: &[I], work: impl Fn(&I) -> T + Sync) -> Vec<T> {
    if items.len() <= 1 {
        return items.iter().map(&work).collect();
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
