//! Shapley attribution in closed form: channels are players, and the game
//! v(S) = Σ over non-empty T ⊆ S of CR(T) has the exact value
//! φ(c) = Σ over the channel sets T that contain c of CR(T) / |T|.
//! Linear in the number of distinct channel sets, for any number of channels.

use rustc_hash::FxHashMap;

/// Journeys grouped by their set of distinct channels.
#[derive(Debug, Clone, Default)]
pub struct ShapleyGame {
    /// Sets of symbols below 64 as bit masks → (journeys, conversions, value).
    masks: FxHashMap<u64, (f64, f64, f64)>,
    /// Other sets as sorted distinct symbols.
    sets: FxHashMap<Box<[u32]>, (f64, f64, f64)>,
    scratch: Vec<u32>,
    total_conversions: f64,
    total_value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShapleyCredit {
    /// φ with conversion rates.
    pub phi_conversions: f64,
    /// φ with value rates.
    pub phi_value: f64,
    pub conversions: f64,
    pub value: f64,
}

impl ShapleyGame {
    /// Adds `conversions + nulls` journeys with these channels (any order,
    /// repeats allowed); `value` is the converting ones' total.
    pub fn add(&mut self, symbols: &[u32], conversions: f64, value: f64, nulls: f64) {
        if symbols.is_empty() || conversions + nulls <= 0.0 {
            return;
        }
        self.total_conversions += conversions;
        self.total_value += value;
        if symbols.iter().all(|s| *s < 64) {
            let mask = symbols.iter().fold(0u64, |m, s| m | 1 << s);
            let e = self.masks.entry(mask).or_insert((0.0, 0.0, 0.0));
            e.0 += conversions + nulls;
            e.1 += conversions;
            e.2 += value;
            return;
        }
        let s = &mut self.scratch;
        s.clear();
        s.extend_from_slice(symbols);
        s.sort_unstable();
        s.dedup();
        let entry = match self.sets.get_mut(s.as_slice()) {
            Some(e) => e,
            None => self
                .sets
                .entry(s.clone().into_boxed_slice())
                .or_insert((0.0, 0.0, 0.0)),
        };
        entry.0 += conversions + nulls;
        entry.1 += conversions;
        entry.2 += value;
    }

    /// Credit for symbols `0..symbols`, normalised to the converted totals.
    pub fn solve(&self, symbols: usize) -> Vec<ShapleyCredit> {
        let mut credit = vec![ShapleyCredit::default(); symbols];
        for (&mask, &(n, c, v)) in &self.masks {
            let share = mask.count_ones() as f64 * n;
            let mut m = mask;
            while m != 0 {
                let s = m.trailing_zeros() as usize;
                m &= m - 1;
                if let Some(x) = credit.get_mut(s) {
                    x.phi_conversions += c / share;
                    x.phi_value += v / share;
                }
            }
        }
        for (set, &(n, c, v)) in &self.sets {
            let share = set.len() as f64 * n;
            for &s in set.iter() {
                if let Some(x) = credit.get_mut(s as usize) {
                    x.phi_conversions += c / share;
                    x.phi_value += v / share;
                }
            }
        }
        let sum_c: f64 = credit.iter().map(|c| c.phi_conversions).sum();
        let sum_v: f64 = credit.iter().map(|c| c.phi_value).sum();
        for x in &mut credit {
            if sum_c > 0.0 {
                x.conversions = x.phi_conversions / sum_c * self.total_conversions;
            }
            if sum_v > 0.0 {
                x.value = x.phi_value / sum_v * self.total_value;
            }
        }
        credit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_matches_the_game_by_enumeration() {
        // Three players, sets with made-up rates: the Shapley value of
        // v(S) = Σ_{T ⊆ S} CR(T) by averaging marginal contributions over all
        // orderings must equal Σ_{T ∋ c} CR(T) / |T|.
        let mut g = ShapleyGame::default();
        g.add(&[0], 1.0, 10.0, 3.0);
        g.add(&[1, 0], 2.0, 30.0, 2.0);
        g.add(&[2, 1, 2], 1.0, 5.0, 0.0);
        g.add(&[0, 1, 2], 1.0, 7.0, 4.0);
        let cr: Vec<(Vec<u32>, f64)> = g
            .masks
            .iter()
            .map(|(m, (n, c, _))| ((0..64).filter(|b| m & (1 << b) != 0).collect(), c / n))
            .collect();
        let v = |members: &[u32]| -> f64 {
            cr.iter()
                .filter(|(s, _)| s.iter().all(|x| members.contains(x)))
                .map(|(_, r)| r)
                .sum()
        };
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let credit = g.solve(3);
        for p in 0..3u32 {
            let mut phi = 0.0;
            for o in &orders {
                let at = o.iter().position(|x| *x == p).unwrap();
                phi += v(&o[..=at]) - v(&o[..at]);
            }
            phi /= 6.0;
            assert!((credit[p as usize].phi_conversions - phi).abs() < 1e-12);
        }
        let total: f64 = credit.iter().map(|c| c.conversions).sum();
        assert!((total - 5.0).abs() < 1e-12);
        let value: f64 = credit.iter().map(|c| c.value).sum();
        assert!((value - 52.0).abs() < 1e-12);
    }

    #[test]
    fn large_symbols_use_sorted_sets_with_the_same_result() {
        let (mut small, mut large) = (ShapleyGame::default(), ShapleyGame::default());
        for (p, c, v, z) in [
            (vec![0, 1], 1.0, 4.0, 1.0),
            (vec![1], 0.0, 0.0, 2.0),
            (vec![1, 0, 1], 2.0, 6.0, 0.0),
        ] {
            small.add(&p, c, v, z);
            let shifted: Vec<u32> = p.iter().map(|s| s + 100).collect();
            large.add(&shifted, c, v, z);
        }
        let a = small.solve(2);
        let b = large.solve(102);
        assert_eq!(a[0], b[100]);
        assert_eq!(a[1], b[101]);
    }

    #[test]
    fn no_conversions_no_credit() {
        let mut g = ShapleyGame::default();
        g.add(&[0, 1], 0.0, 0.0, 5.0);
        assert!(g.solve(2).iter().all(|c| c.conversions == 0.0));
    }
}
