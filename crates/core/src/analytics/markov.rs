//! Markov attribution, exact: an absorbing chain over channel states of order
//! 1–4 built from journeys, conversion probability and expected value from
//! linear solves of (I − Q), and each channel's removal effect from the same
//! solve with the channel's states turned into dead ends. No simulation.

use crate::Invalid;
use faer::Mat;
use faer::linalg::solvers::{DenseSolveCore, Solve};
use rustc_hash::FxHashMap;

/// The most states a chain may have: the sparse solve's time and memory
/// grow with the states times the symbols.
pub const MAX_STATES: usize = 500_000;
/// The most states the dense fallback solves: its time grows with the
/// cube of this.
pub const MAX_DENSE_STATES: usize = 5_000;
/// Symbols are packed 16 bits each into a state key.
pub const MAX_SYMBOLS: usize = u16::MAX as usize - 1;

/// A state's symbols packed 16 bits each (plus one, so 0 is "none").
fn pack(window: &[u32]) -> u64 {
    window
        .iter()
        .enumerate()
        .fold(0u64, |k, (i, s)| k | ((*s as u64 + 1) << (16 * i)))
}

fn unpack(key: u64) -> Vec<u32> {
    (0..4)
        .map(|p| ((key >> (16 * p)) & 0xFFFF) as u32)
        .take_while(|s| *s != 0)
        .map(|s| s - 1)
        .collect()
}

/// Validates a Markov order named in input field `field`.
pub fn check_order(order: u8, field: &str) -> Result<u8, Invalid> {
    if (1..=4).contains(&order) {
        Ok(order)
    } else {
        Err(Invalid::new(
            "invalid_order",
            field,
            format!("the Markov order must be 1, 2, 3 or 4, not {order}"),
        ))
    }
}

/// Transition counts of journeys, ready to solve.
///
/// A state's successor is always its window shifted by one symbol, so a
/// transition is stored under (from state, next symbol): a flat array of
/// states × symbols, whatever the order. START's transitions, to any
/// state, have a row of their own.
#[derive(Debug, Clone)]
pub struct MarkovChain {
    order: usize,
    symbols: usize,
    /// With few possible windows, a window's base-(symbols + 1) number
    /// indexes `dense_index` directly; otherwise `index` hashes the key.
    base: Option<usize>,
    dense_index: Vec<u32>,
    /// Packed state key (16 bits a symbol, plus one) → index; index 0 is START.
    index: FxHashMap<u64, u32>,
    keys: Vec<u64>,
    /// Weight from state `s` on symbol `d`, at `s * symbols + d`.
    next: Vec<f64>,
    /// Weight from START into each state.
    start: Vec<f64>,
    /// Per state: weight into CONVERSION, into NULL, and converted value.
    conv: Vec<f64>,
    nulls: Vec<f64>,
    value_out: Vec<f64>,
    total_conversions: f64,
    total_value: f64,
    journeys: f64,
}

/// Windows are numbered directly (not hashed) when there are at most this
/// many possible ones.
const DENSE_KEYS: usize = 1 << 16;

/// One channel's credit.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarkovCredit {
    pub removal_effect_conversions: f64,
    pub removal_effect_value: f64,
    pub conversions: f64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarkovResult {
    pub order: u8,
    /// Transient states besides START.
    pub states: usize,
    pub journeys: f64,
    pub total_conversions: f64,
    pub total_value: f64,
    /// P(conversion) from START; equals conversions ÷ journeys.
    pub conversion_probability: f64,
    /// Expected value from START; equals value ÷ journeys.
    pub expected_value: f64,
    /// Credit per symbol, indexed by symbol.
    pub credit: Vec<MarkovCredit>,
}

impl MarkovChain {
    /// A chain of `order` whose symbols are all below `symbols`.
    pub fn new(order: u8, symbols: usize) -> Result<MarkovChain, Invalid> {
        check_order(order, "order")?;
        let k = order as usize;
        let keys = (symbols + 1)
            .checked_pow(k as u32)
            .filter(|n| *n <= DENSE_KEYS);
        Ok(MarkovChain {
            order: k,
            symbols,
            base: keys.map(|_| symbols + 1),
            dense_index: keys.map_or(vec![], |n| vec![u32::MAX; n]),
            index: FxHashMap::default(),
            keys: vec![0],
            next: vec![0.0; symbols],
            start: vec![0.0],
            conv: vec![0.0],
            nulls: vec![0.0],
            value_out: vec![0.0],
            total_conversions: 0.0,
            total_value: 0.0,
            journeys: 0.0,
        })
    }

    /// The index of a window, if it has been seen.
    fn find(&self, window: &[u32]) -> Option<u32> {
        match self.base {
            Some(base) => {
                let k = window
                    .iter()
                    .fold(0usize, |k, s| k * base + *s as usize + 1);
                Some(self.dense_index[k]).filter(|i| *i != u32::MAX)
            }
            None => self.index.get(&pack(window)).copied(),
        }
    }

    fn state(&mut self, window: &[u32]) -> u32 {
        let next = self.keys.len() as u32;
        let i = match self.base {
            Some(base) => {
                let k = window
                    .iter()
                    .fold(0usize, |k, s| k * base + *s as usize + 1);
                let slot = &mut self.dense_index[k];
                if *slot == u32::MAX {
                    *slot = next;
                }
                *slot
            }
            None => *self.index.entry(pack(window)).or_insert(next),
        };
        if i == next {
            self.keys.push(pack(window));
            self.next.extend(std::iter::repeat_n(0.0, self.symbols));
            self.start.push(0.0);
            self.conv.push(0.0);
            self.nulls.push(0.0);
            self.value_out.push(0.0);
        }
        i
    }

    /// Adds `conversions + nulls` journeys with the channel sequence
    /// `symbols` (each below the chain's symbol count); `value` is the
    /// converting ones' total. An empty sequence has no states and is left out.
    pub fn add(&mut self, symbols: &[u32], conversions: f64, value: f64, nulls: f64) {
        if symbols.is_empty() || conversions + nulls <= 0.0 {
            return;
        }
        let k = self.order;
        let weight = conversions + nulls;
        // One pass: each state's transition is counted when the next
        // different state is seen (consecutive identical states collapse).
        let last = if symbols.len() < k {
            let s = self.state(symbols) as usize;
            self.start[s] += weight;
            s
        } else {
            let mut prev = self.state(&symbols[..k]) as usize;
            self.start[prev] += weight;
            for w in symbols.windows(k).skip(1) {
                let s = self.state(w) as usize;
                if s != prev {
                    self.next[prev * self.symbols + w[k - 1] as usize] += weight;
                    prev = s;
                }
            }
            prev
        };
        self.conv[last] += conversions;
        self.nulls[last] += nulls;
        self.value_out[last] += value;
        self.total_conversions += conversions;
        self.total_value += value;
        self.journeys += weight;
    }

    /// Adds another chain's counts (of the same order and symbols), so
    /// journeys can be counted in parallel.
    pub fn merge(&mut self, other: &MarkovChain) {
        let map: Vec<u32> = (0..other.keys.len())
            .map(|i| {
                if i == 0 {
                    0
                } else {
                    self.state(&unpack(other.keys[i]))
                }
            })
            .collect();
        for (i, &j) in map.iter().enumerate().skip(1) {
            let j = j as usize;
            self.start[j] += other.start[i];
            for d in 0..self.symbols {
                self.next[j * self.symbols + d] += other.next[i * other.symbols + d];
            }
            self.conv[j] += other.conv[i];
            self.nulls[j] += other.nulls[i];
            self.value_out[j] += other.value_out[i];
        }
        self.total_conversions += other.total_conversions;
        self.total_value += other.total_value;
        self.journeys += other.journeys;
    }

    /// Every transient transition with its weight.
    fn transitions(&self) -> Vec<(usize, usize, f64)> {
        let mut out = vec![];
        for (to, w) in self.start.iter().enumerate() {
            if *w != 0.0 {
                out.push((0, to, *w));
            }
        }
        let mut window = vec![];
        for from in 1..self.keys.len() {
            let row = &self.next[from * self.symbols..(from + 1) * self.symbols];
            if row.iter().all(|w| *w == 0.0) {
                continue;
            }
            let shape = unpack(self.keys[from]);
            for (d, w) in row.iter().enumerate() {
                if *w == 0.0 {
                    continue;
                }
                window.clear();
                window.extend_from_slice(&shape[1..]);
                window.push(d as u32);
                let to = self.find(&window).expect("a counted successor was seen");
                out.push((from, to as usize, *w));
            }
        }
        out
    }

    /// Transient states besides START.
    pub fn states(&self) -> usize {
        self.keys.len() - 1
    }

    /// Whether state `i`'s tuple contains `symbol`.
    fn contains(&self, i: usize, symbol: u32) -> bool {
        let key = self.keys[i];
        (0..4).any(|p| (key >> (16 * p)) & 0xFFFF == symbol as u64 + 1)
    }

    /// Solves the chain: removal effects and credit for symbols
    /// `0..symbols`. Each system is solved sparsely by Gauss–Seidel to
    /// full double precision (see [`MarkovChain::solve_dense`] for the
    /// direct solve it falls back to when an iteration converges too slowly).
    pub fn solve(&self, symbols: usize) -> Result<MarkovResult, Invalid> {
        self.check_size(MAX_STATES)?;
        if self.journeys == 0.0 {
            return Ok(self.result(0.0, 0.0, vec![MarkovCredit::default(); symbols]));
        }
        let system = System::new(self);
        let n = self.keys.len();
        let Some([p, e]) = system.gauss_seidel(&vec![false; n]) else {
            return self.solve_dense(symbols);
        };
        // The removal systems are independent: spread over the cores.
        let present: Vec<usize> = (0..symbols)
            .filter(|&c| (1..n).any(|i| self.contains(i, c as u32)))
            .collect();
        let parts = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(present.len().max(1));
        let solved: Vec<(usize, Option<[f64; 2]>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..parts)
                .map(|t| {
                    let (present, system) = (&present, &system);
                    scope.spawn(move || {
                        present
                            .iter()
                            .skip(t)
                            .step_by(parts)
                            .map(|&c| {
                                let dead: Vec<bool> = (0..n)
                                    .map(|i| i > 0 && self.contains(i, c as u32))
                                    .collect();
                                (c, system.gauss_seidel(&dead))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a removal solve panicked"))
                .collect()
        });
        let mut without = vec![None; symbols];
        for (c, w) in solved {
            match w {
                Some(w) => without[c] = Some(w),
                None => return self.solve_dense(symbols),
            }
        }
        Ok(self.credit(p, e, &without))
    }

    fn check_size(&self, most: usize) -> Result<(), Invalid> {
        let n = self.keys.len();
        if n > most {
            return Err(Invalid::new(
                "too_many_states",
                "order",
                format!(
                    "the chain has {n} states, more than the {most} an exact solve handles here; use a lower order"
                ),
            ));
        }
        Ok(())
    }

    /// Credit from START's conversion probability `p` and expected value
    /// `e`, and each symbol's (P, E) with its states removed (`None` when
    /// no state holds it).
    fn credit(&self, p: f64, e: f64, without: &[Option<[f64; 2]>]) -> MarkovResult {
        let mut credit = vec![MarkovCredit::default(); without.len()];
        for (c, w) in credit.iter_mut().zip(without) {
            if let Some([pw, ew]) = w {
                c.removal_effect_conversions = if p > 0.0 { 1.0 - pw / p } else { 0.0 };
                c.removal_effect_value = if e > 0.0 { 1.0 - ew / e } else { 0.0 };
            }
        }
        let re_c: f64 = credit.iter().map(|c| c.removal_effect_conversions).sum();
        let re_v: f64 = credit.iter().map(|c| c.removal_effect_value).sum();
        for c in &mut credit {
            if re_c > 0.0 {
                c.conversions = c.removal_effect_conversions / re_c * self.total_conversions;
            }
            if re_v > 0.0 {
                c.value = c.removal_effect_value / re_v * self.total_value;
            }
        }
        self.result(p, e, credit)
    }

    /// The same as [`MarkovChain::solve`] by dense LU: slower (cubic in
    /// the states), but direct, whatever the chain.
    pub fn solve_dense(&self, symbols: usize) -> Result<MarkovResult, Invalid> {
        self.check_size(MAX_DENSE_STATES)?;
        let n = self.keys.len();
        if self.journeys == 0.0 {
            return Ok(self.result(0.0, 0.0, vec![MarkovCredit::default(); symbols]));
        }
        let system = System::new(self);
        let mut a = Mat::<f64>::identity(n, n);
        let mut b = Mat::<f64>::zeros(n, 2);
        for i in 0..n {
            for k in system.row[i] as usize..system.row[i + 1] as usize {
                a[(i, system.col[k] as usize)] -= system.p[k];
            }
            b[(i, 0)] = system.b[i][0];
            b[(i, 1)] = system.b[i][1];
        }
        // One factorisation serves every removal. With M = (I − Q)⁻¹ and
        // x = M·b, removing channel c deletes the states R that contain it,
        // and the reduced system's START entry is exactly
        //   x_S − M[S, R] · M[R, R]⁻¹ · x[R]
        // (the inverse of a principal submatrix through the full inverse), so
        // each channel costs a solve of size |R| instead of one of size n − |R|.
        let lu = a.partial_piv_lu();
        let x = lu.solve(&b);
        let m = lu.inverse();
        let (p, e) = (x[(0, 0)], x[(0, 1)]);
        let mut without = vec![None; symbols];
        for (c, w) in without.iter_mut().enumerate() {
            let removed: Vec<usize> = (1..n).filter(|&i| self.contains(i, c as u32)).collect();
            if removed.is_empty() {
                continue;
            }
            let r = removed.len();
            let m_rr = Mat::<f64>::from_fn(r, r, |i, j| m[(removed[i], removed[j])]);
            let x_r = Mat::<f64>::from_fn(r, 2, |i, j| x[(removed[i], j)]);
            let z = m_rr.partial_piv_lu().solve(&x_r);
            let mut left = [p, e];
            for (i, &s) in removed.iter().enumerate() {
                left[0] -= m[(0, s)] * z[(i, 0)];
                left[1] -= m[(0, s)] * z[(i, 1)];
            }
            *w = Some(left);
        }
        Ok(self.credit(p, e, &without))
    }

    fn result(&self, p: f64, e: f64, credit: Vec<MarkovCredit>) -> MarkovResult {
        MarkovResult {
            order: self.order as u8,
            states: self.keys.len() - 1,
            journeys: self.journeys,
            total_conversions: self.total_conversions,
            total_value: self.total_value,
            conversion_probability: p,
            expected_value: e,
            credit,
        }
    }
}

/// The chain as the linear system x = Q·x + b: each transient state's
/// successors with their probabilities (sparse rows) and, per state, the
/// probability of converting next and the value converting next.
struct System {
    row: Vec<u32>,
    col: Vec<u32>,
    p: Vec<f64>,
    b: Vec<[f64; 2]>,
    /// Above every state's answer: probability 1, and the largest value
    /// per conversion of any state.
    top: [f64; 2],
}

/// Gauss–Seidel sweeps before an iteration gives way to the dense solve.
const MAX_SWEEPS: usize = 10_000;
/// The solve stops once START's answer is pinned between a lower and an
/// upper bound this close, relative to it.
const BOUND_GAP: f64 = 1e-13;
impl System {
    fn new(chain: &MarkovChain) -> System {
        let n = chain.keys.len();
        let transitions = chain.transitions();
        let mut out: Vec<f64> = (0..n).map(|i| chain.conv[i] + chain.nulls[i]).collect();
        for &(from, _, w) in &transitions {
            out[from] += w;
        }
        // `transitions` lists rows in order (START first, then by state).
        let mut row = vec![0u32; n + 1];
        let mut col = Vec::with_capacity(transitions.len());
        let mut p = Vec::with_capacity(transitions.len());
        for &(from, to, w) in &transitions {
            row[from + 1] += 1;
            col.push(to as u32);
            p.push(w / out[from]);
        }
        for i in 0..n {
            row[i + 1] += row[i];
        }
        let b = (0..n)
            .map(|i| {
                if out[i] > 0.0 {
                    [chain.conv[i] / out[i], chain.value_out[i] / out[i]]
                } else {
                    [0.0, 0.0]
                }
            })
            .collect();
        // Value without a conversion (a paths file may say so) has no
        // bound per conversion: infinite, and the dense solve takes over.
        let most_per_conversion = (0..n)
            .filter(|&i| chain.value_out[i] > 0.0)
            .map(|i| chain.value_out[i] / chain.conv[i])
            .fold(0.0, f64::max);
        System {
            row,
            col,
            p,
            b,
            top: [1.0, most_per_conversion],
        }
    }

    /// START's conversion probability and expected value with the `dead`
    /// states turned into dead ends, by Gauss–Seidel from both sides. The
    /// map x ↦ Q·x + b is monotone (Q ≥ 0) and maps 0 below the solution
    /// and `top` above it (probabilities: 1; values: the largest value per
    /// conversion of any state), so one iterate rises and the other falls
    /// onto the solution, and the answer is certain to lie between them:
    /// the sweeps stop when START's two bounds agree to [`BOUND_GAP`].
    /// `None` when that would take more than [`MAX_SWEEPS`].
    fn gauss_seidel(&self, dead: &[bool]) -> Option<[f64; 2]> {
        let n = self.b.len();
        if !self.top.iter().all(|t| t.is_finite()) {
            return None;
        }
        let mut lo = vec![[0.0f64; 2]; n];
        let mut up: Vec<[f64; 2]> = (0..n)
            .map(|i| if dead[i] { [0.0, 0.0] } else { self.top })
            .collect();
        let mut last_gap = f64::INFINITY;
        for sweep in 0..MAX_SWEEPS {
            for x in [&mut lo, &mut up] {
                // Successors mostly come later in discovery order: sweeping
                // backwards uses their fresh values at once.
                for i in (0..n).rev() {
                    if dead[i] {
                        continue;
                    }
                    let mut v = self.b[i];
                    for k in self.row[i] as usize..self.row[i + 1] as usize {
                        let xj = x[self.col[k] as usize];
                        v[0] += self.p[k] * xj[0];
                        v[1] += self.p[k] * xj[1];
                    }
                    x[i] = v;
                }
            }
            let gap = (0..2)
                .map(|r| {
                    let g = (up[0][r] - lo[0][r]).max(0.0);
                    if g == 0.0 { 0.0 } else { g / up[0][r].abs() }
                })
                .fold(0.0, f64::max);
            if gap <= BOUND_GAP {
                return Some([0.5 * (lo[0][0] + up[0][0]), 0.5 * (lo[0][1] + up[0][1])]);
            }
            // Give up early when the gap shrinks too slowly to close in time.
            if sweep >= 100 && sweep % 100 == 0 {
                let rate = (gap / last_gap).powf(0.01);
                let needed = (BOUND_GAP / gap).ln() / rate.ln();
                if rate >= 1.0 || needed > (MAX_SWEEPS - sweep) as f64 {
                    return None;
                }
                last_gap = gap;
            } else if sweep == 0 {
                last_gap = gap;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_channels_by_hand() {
        // a > b converts, a does not: P = 1/2. Without a nothing converts
        // (RE 1); without b, a > b dies at b (RE 1). Equal credit.
        let mut m = MarkovChain::new(1, 2).unwrap();
        m.add(&[0, 1], 1.0, 10.0, 0.0);
        m.add(&[0], 0.0, 0.0, 1.0);
        let r = m.solve(2).unwrap();
        assert!((r.conversion_probability - 0.5).abs() < 1e-15);
        assert!((r.expected_value - 5.0).abs() < 1e-12);
        for c in &r.credit {
            assert!((c.removal_effect_conversions - 1.0).abs() < 1e-12);
            assert!((c.conversions - 0.5).abs() < 1e-12);
            assert!((c.value - 5.0).abs() < 1e-12);
        }
    }

    #[test]
    fn repeats_collapse_and_short_journeys_are_one_state() {
        let mut m = MarkovChain::new(2, 2).unwrap();
        // a > a > a: windows (a,a),(a,a) collapse to one state.
        m.add(&[0, 0, 0], 1.0, 1.0, 0.0);
        // b alone is shorter than the order: one state (b).
        m.add(&[1], 0.0, 0.0, 3.0);
        let r = m.solve(2).unwrap();
        assert_eq!(r.states, 2);
        assert!((r.conversion_probability - 0.25).abs() < 1e-15);
        assert_eq!(r.credit[1].removal_effect_conversions, 0.0);
        assert!((r.credit[0].conversions - 1.0).abs() < 1e-15);
    }

    #[test]
    fn dense_hashed_and_merged_chains_agree() {
        let journeys: Vec<(Vec<u32>, f64, f64, f64)> = (0..300u32)
            .map(|i| {
                let len = 1 + (i % 7) as usize;
                let path = (0..len as u32).map(|j| (i * 7 + j * 3) % 5).collect();
                (
                    path,
                    (i % 3 == 0) as u8 as f64,
                    (i % 11) as f64,
                    (i % 3 != 0) as u8 as f64,
                )
            })
            .collect();
        for order in 1..=3u8 {
            // 5 symbols: dense; 40 "symbols": hashed (41^order keys).
            let mut dense = MarkovChain::new(order, 5).unwrap();
            let mut hashed = MarkovChain::new(order, 40).unwrap();
            let (mut a, mut b) = (
                MarkovChain::new(order, 5).unwrap(),
                MarkovChain::new(order, 5).unwrap(),
            );
            for (i, (p, c, v, z)) in journeys.iter().enumerate() {
                dense.add(p, *c, *v, *z);
                hashed.add(p, *c, *v, *z);
                if i % 2 == 0 {
                    a.add(p, *c, *v, *z)
                } else {
                    b.add(p, *c, *v, *z)
                }
            }
            a.merge(&b);
            let d = dense.solve(5).unwrap();
            for other in [hashed.solve(5).unwrap(), a.solve(5).unwrap()] {
                assert_eq!(d.states, other.states);
                for (x, y) in d.credit.iter().zip(&other.credit) {
                    assert!(
                        (x.conversions - y.conversions).abs() < 1e-12,
                        "order {order}"
                    );
                    assert!((x.value - y.value).abs() < 1e-9, "order {order}");
                }
            }
        }
    }

    #[test]
    fn the_sparse_iteration_agrees_with_the_dense_solve() {
        // Journeys that loop between channels (slow to converge) and long
        // ones, at every order.
        let mut seed = 7u64;
        let mut next = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for order in 1..=4u8 {
            let mut chain = MarkovChain::new(order, 6).unwrap();
            for _ in 0..3_000 {
                let len = 1 + next(30) as usize;
                let path: Vec<u32> = (0..len)
                    .map(|i| {
                        if next(3) == 0 {
                            (i % 2) as u32
                        } else {
                            next(6) as u32
                        }
                    })
                    .collect();
                let converts = next(4) == 0;
                chain.add(
                    &path,
                    converts as u8 as f64,
                    if converts {
                        100.0 + next(900) as f64
                    } else {
                        0.0
                    },
                    (!converts) as u8 as f64,
                );
            }
            let (fast, dense) = (chain.solve(6).unwrap(), chain.solve_dense(6).unwrap());
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300);
            assert!(close(
                fast.conversion_probability,
                dense.conversion_probability
            ));
            assert!(close(fast.expected_value, dense.expected_value));
            for (f, d) in fast.credit.iter().zip(&dense.credit) {
                assert!(
                    close(f.removal_effect_conversions, d.removal_effect_conversions),
                    "order {order}: {f:?} vs {d:?}"
                );
                assert!(
                    close(f.removal_effect_value, d.removal_effect_value),
                    "order {order}"
                );
                assert!(close(f.conversions, d.conversions), "order {order}");
                assert!(close(f.value, d.value), "order {order}");
            }
        }
    }

    #[test]
    fn nothing_converts_gives_zero_not_nan() {
        let mut m = MarkovChain::new(3, 3).unwrap();
        m.add(&[0, 1, 2, 1], 0.0, 0.0, 2.0);
        let r = m.solve(3).unwrap();
        assert_eq!(r.conversion_probability, 0.0);
        assert!(
            r.credit
                .iter()
                .all(|c| c.conversions == 0.0 && c.value == 0.0)
        );
        let empty = MarkovChain::new(1, 2).unwrap().solve(2).unwrap();
        assert_eq!(empty.credit, vec![MarkovCredit::default(); 2]);
        assert_eq!(MarkovChain::new(5, 2).unwrap_err().code, "invalid_order");
        assert_eq!(MarkovChain::new(0, 2).unwrap_err().code, "invalid_order");
    }
}
