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
    if parts == 1 {
        return vec![work(0..n)];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..parts)
            .map(|k| scope.spawn(move || work(n * k / parts..n * (k + 1) / parts)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a report thread panicked"))
            .collect()
    })
}
