//! Markov attribution, exact: an absorbing chain over channel states of order
//! 1–4 built from journeys, conversion probability and expected value from
//! linear solves of (I − Q), and each channel's removal effect from the same
//! solve with the channel's states turned into dead ends. No simulation.

use crate::Invalid;
use faer::Mat;
use faer::linalg::solvers::{DenseSolveCore, Solve};
use rustc_hash::FxHashMap;

/// The most states a chain may have: the solves are dense, so time grows with
/// the cube of this.
pub const MAX_STATES: usize = 5_000;
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
    states: Vec<(u32, u32)>,
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
            states: Vec::new(),
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
        // (state, its window's last symbol)
        let mut states = std::mem::take(&mut self.states);
        states.clear();
        if symbols.len() < k {
            states.push((self.state(symbols), 0));
        } else {
            for w in symbols.windows(k) {
                let s = self.state(w);
                // Consecutive identical states collapse into one.
                if states.last().map(|l| l.0) != Some(s) {
                    states.push((s, w[k - 1]));
                }
            }
        }
        let weight = conversions + nulls;
        self.start[states[0].0 as usize] += weight;
        for p in states.windows(2) {
            self.next[p[0].0 as usize * self.symbols + p[1].1 as usize] += weight;
        }
        let last = states.last().expect("at least one state").0 as usize;
        self.conv[last] += conversions;
        self.nulls[last] += nulls;
        self.value_out[last] += value;
        self.total_conversions += conversions;
        self.total_value += value;
        self.journeys += weight;
        self.states = states;
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
    /// `0..symbols`.
    pub fn solve(&self, symbols: usize) -> Result<MarkovResult, Invalid> {
        let n = self.keys.len();
        if n > MAX_STATES {
            return Err(Invalid::new(
                "too_many_states",
                "order",
                format!(
                    "the chain has {n} states, more than the {MAX_STATES} an exact solve handles here; use a lower order"
                ),
            ));
        }
        let transitions = self.transitions();
        let mut out: Vec<f64> = (0..n).map(|i| self.conv[i] + self.nulls[i]).collect();
        for &(from, _, w) in &transitions {
            out[from] += w;
        }
        // (I − Q) with rows of the transient states; r and r ⊙ m as two
        // right-hand sides (r·m = value converting from the state ÷ its total).
        let mut a = Mat::<f64>::identity(n, n);
        for &(from, to, w) in &transitions {
            if out[from] > 0.0 {
                a[(from, to)] -= w / out[from];
            }
        }
        let mut b = Mat::<f64>::zeros(n, 2);
        for i in 0..n {
            if out[i] > 0.0 {
                b[(i, 0)] = self.conv[i] / out[i];
                b[(i, 1)] = self.value_out[i] / out[i];
            }
        }
        let mut credit = vec![MarkovCredit::default(); symbols];
        if self.journeys == 0.0 {
            return Ok(self.result(0.0, 0.0, credit));
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
        for (c, credit) in credit.iter_mut().enumerate() {
            let removed: Vec<usize> = (1..n).filter(|&i| self.contains(i, c as u32)).collect();
            if removed.is_empty() {
                continue;
            }
            let r = removed.len();
            let m_rr = Mat::<f64>::from_fn(r, r, |i, j| m[(removed[i], removed[j])]);
            let x_r = Mat::<f64>::from_fn(r, 2, |i, j| x[(removed[i], j)]);
            let z = m_rr.partial_piv_lu().solve(&x_r);
            let mut without = [p, e];
            for (i, &s) in removed.iter().enumerate() {
                without[0] -= m[(0, s)] * z[(i, 0)];
                without[1] -= m[(0, s)] * z[(i, 1)];
            }
            credit.removal_effect_conversions = if p > 0.0 { 1.0 - without[0] / p } else { 0.0 };
            credit.removal_effect_value = if e > 0.0 { 1.0 - without[1] / e } else { 0.0 };
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
        Ok(self.result(p, e, credit))
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
