//! The attribution models of product.md and the per-touch weights of the
//! rule-based ones (first, last, linear, U, W, full path, time decay,
//! position-based, J, inverse J). Markov and Shapley are in their own modules.

use crate::Invalid;
use serde::Serialize;

/// An attribution model with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Model {
    FirstTouch,
    LastTouch,
    Linear,
    UShaped,
    WShaped,
    FullPath,
    /// Weight ∝ 2^(−Δt / half-life), Δt = conversion − touch.
    TimeDecay {
        half_life_days: f64,
    },
    PositionBased,
    JShaped,
    InverseJ,
    Markov {
        order: u8,
    },
    Shapley,
}

/// Model names as users write them.
pub const MODEL_NAMES: [&str; 12] = [
    "first_touch",
    "last_touch",
    "linear",
    "u_shaped",
    "w_shaped",
    "full_path",
    "time_decay",
    "position_based",
    "j_shaped",
    "inverse_j",
    "markov",
    "shapley",
];

/// A touch's role in a journey, for the keyed models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    First,
    Last,
    LeadCreation,
    OpportunityCreation,
    ClosedWon,
}

/// Positions in the journey of the touches recorded as causes of the stage
/// changes into lead, opportunity and customer (None when the change is not
/// part of this conversion's story).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    pub lead: Option<usize>,
    pub opportunity: Option<usize>,
    pub won: Option<usize>,
}

impl Model {
    /// Parses `name`, with the half-life (days) and Markov order that apply.
    pub fn parse(name: &str, half_life_days: f64, order: u8) -> Result<Model, Invalid> {
        Ok(match name.trim() {
            "first_touch" | "first" => Model::FirstTouch,
            "last_touch" | "last" => Model::LastTouch,
            "linear" => Model::Linear,
            "u_shaped" => Model::UShaped,
            "w_shaped" => Model::WShaped,
            "full_path" => Model::FullPath,
            "time_decay" => {
                if !(half_life_days.is_finite() && half_life_days > 0.0) {
                    return Err(Invalid::new(
                        "invalid_half_life",
                        "half_life_days",
                        format!(
                            "the half-life must be a positive number of days, not {half_life_days}"
                        ),
                    ));
                }
                Model::TimeDecay { half_life_days }
            }
            "position_based" => Model::PositionBased,
            "j_shaped" => Model::JShaped,
            "inverse_j" => Model::InverseJ,
            "markov" => Model::Markov {
                order: super::markov::check_order(order, "order")?,
            },
            "shapley" => Model::Shapley,
            other => {
                return Err(Invalid::new(
                    "unknown_model",
                    "model",
                    format!(
                        "{other:?} is not a model; use one of {}",
                        MODEL_NAMES.join(", ")
                    ),
                ));
            }
        })
    }

    /// Every model with the given parameters, in the order of [`MODEL_NAMES`].
    pub fn all(half_life_days: f64, order: u8) -> Result<Vec<Model>, Invalid> {
        MODEL_NAMES
            .iter()
            .map(|n| Model::parse(n, half_life_days, order))
            .collect()
    }

    /// A column-friendly name: `time_decay_7d`, `markov_2`.
    pub fn label(&self) -> String {
        match self {
            Model::TimeDecay { half_life_days } => format!("time_decay_{half_life_days}d"),
            Model::Markov { order } => format!("markov_{order}"),
            other => other.name().to_string(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Model::FirstTouch => "first_touch",
            Model::LastTouch => "last_touch",
            Model::Linear => "linear",
            Model::UShaped => "u_shaped",
            Model::WShaped => "w_shaped",
            Model::FullPath => "full_path",
            Model::TimeDecay { .. } => "time_decay",
            Model::PositionBased => "position_based",
            Model::JShaped => "j_shaped",
            Model::InverseJ => "inverse_j",
            Model::Markov { .. } => "markov",
            Model::Shapley => "shapley",
        }
    }

    /// Whether the model credits touches one journey at a time (the
    /// rule-based ones), rather than learning from all journeys.
    pub fn is_per_touch(&self) -> bool {
        !matches!(self, Model::Markov { .. } | Model::Shapley)
    }

    /// The fixed role weights and the weight of the rest.
    fn keyed(&self) -> Option<(&'static [(Role, f64)], f64)> {
        use Role::*;
        Some(match self {
            Model::UShaped => (&[(First, 0.4), (LeadCreation, 0.4)], 0.2),
            Model::WShaped => (
                &[
                    (First, 0.3),
                    (LeadCreation, 0.3),
                    (OpportunityCreation, 0.3),
                ],
                0.1,
            ),
            Model::FullPath => (
                &[
                    (First, 0.225),
                    (LeadCreation, 0.225),
                    (OpportunityCreation, 0.225),
                    (ClosedWon, 0.225),
                ],
                0.1,
            ),
            Model::PositionBased => (&[(First, 0.4), (Last, 0.4)], 0.2),
            Model::JShaped => (&[(First, 0.2), (Last, 0.6)], 0.2),
            Model::InverseJ => (&[(First, 0.6), (Last, 0.2)], 0.2),
            _ => return None,
        })
    }

    /// Weights of the touches of one journey, summing to 1, into `out`
    /// (cleared first). `at` are the touch instants in journey order (ms),
    /// `conversion_at` the conversion's instant. Markov and Shapley have no
    /// per-touch weights and leave `out` empty.
    ///
    /// A keyed role without a touch (an MQL has no opportunity-creation
    /// touch) drops out, and the remaining weights are scaled up to sum to 1.
    pub fn touch_weights(&self, at: &[i64], conversion_at: i64, roles: Roles, out: &mut Vec<f64>) {
        out.clear();
        let n = at.len();
        if n == 0 || !self.is_per_touch() {
            return;
        }
        out.resize(n, 0.0);
        match self {
            Model::FirstTouch => out[0] = 1.0,
            Model::LastTouch => out[n - 1] = 1.0,
            Model::Linear => out.iter_mut().for_each(|w| *w = 1.0 / n as f64),
            Model::TimeDecay { half_life_days } => {
                let h = half_life_days * 86_400_000.0;
                // Relative to the latest touch, so that old journeys do not
                // underflow to 0/0.
                let latest = at.iter().copied().max().unwrap_or(conversion_at);
                let mut sum = 0.0;
                for (w, t) in out.iter_mut().zip(at) {
                    *w = (-((latest - t) as f64) / h).exp2();
                    sum += *w;
                }
                out.iter_mut().for_each(|w| *w /= sum);
            }
            keyed => {
                let (weights, rest) = keyed.keyed().expect("a keyed model");
                let position = |r: Role| match r {
                    Role::First => Some(0),
                    Role::Last => Some(n - 1),
                    Role::LeadCreation => roles.lead,
                    Role::OpportunityCreation => roles.opportunity,
                    Role::ClosedWon => roles.won,
                };
                let mut is_key = vec![false; n];
                let mut keyed_sum = 0.0;
                for &(role, w) in weights {
                    if let Some(p) = position(role).filter(|p| *p < n) {
                        out[p] += w;
                        is_key[p] = true;
                        keyed_sum += w;
                    }
                }
                let rest_count = is_key.iter().filter(|k| !**k).count();
                let key_count = n - rest_count;
                for (w, k) in out.iter_mut().zip(&is_key) {
                    if rest_count == 0 {
                        *w += rest / key_count as f64;
                    } else if !k {
                        *w += rest / rest_count as f64;
                    }
                }
                let total = keyed_sum + rest;
                if (total - 1.0).abs() > 1e-15 {
                    out.iter_mut().for_each(|w| *w /= total);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(m: Model, n: usize, roles: Roles) -> Vec<f64> {
        let at: Vec<i64> = (0..n as i64).map(|i| i * 1000).collect();
        let mut out = vec![];
        m.touch_weights(&at, n as i64 * 1000, roles, &mut out);
        out
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn the_examples_of_the_data_readme() {
        let lead_first = Roles {
            lead: Some(0),
            ..Default::default()
        };
        for m in Model::all(7.0, 1)
            .unwrap()
            .into_iter()
            .filter(Model::is_per_touch)
        {
            assert!(close(&weights(m, 1, lead_first), &[1.0]), "{m:?}");
        }
        assert!(close(
            &weights(Model::PositionBased, 2, lead_first),
            &[0.5, 0.5]
        ));
        assert!(close(&weights(Model::JShaped, 2, lead_first), &[0.3, 0.7]));
        let full = Roles {
            lead: Some(0),
            opportunity: Some(1),
            won: Some(2),
        };
        let r = 0.1 / 3.0;
        assert!(close(
            &weights(Model::FullPath, 3, full),
            &[0.45 + r, 0.225 + r, 0.225 + r]
        ));
        // U-shaped gives the first touch 0.8 when it is also the lead touch.
        let u = weights(Model::UShaped, 5, lead_first);
        assert!(close(&u, &[0.8, 0.05, 0.05, 0.05, 0.05]));
    }

    #[test]
    fn weights_always_sum_to_one() {
        for n in 1..9 {
            for roles in [
                Roles::default(),
                Roles {
                    lead: Some(n / 2),
                    opportunity: Some(n - 1),
                    won: None,
                },
            ] {
                for m in Model::all(3.5, 1)
                    .unwrap()
                    .into_iter()
                    .filter(Model::is_per_touch)
                {
                    let w = weights(m, n, roles);
                    let s: f64 = w.iter().sum();
                    assert!((s - 1.0).abs() < 1e-12, "{m:?} n={n}: {w:?}");
                    assert!(w.iter().all(|x| *x >= 0.0));
                }
            }
        }
    }

    #[test]
    fn time_decay_halves_per_half_life() {
        let day = 86_400_000;
        let mut out = vec![];
        Model::TimeDecay {
            half_life_days: 7.0,
        }
        .touch_weights(&[0, 7 * day], 7 * day, Roles::default(), &mut out);
        assert!(close(&out, &[1.0 / 3.0, 2.0 / 3.0]));
        // Years-old touches do not underflow.
        Model::TimeDecay {
            half_life_days: 1.0,
        }
        .touch_weights(&[0, day], 5000 * day, Roles::default(), &mut out);
        assert!(close(&out, &[1.0 / 3.0, 2.0 / 3.0]));
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(
            Model::parse("magic", 7.0, 1).unwrap_err().code,
            "unknown_model"
        );
        assert_eq!(
            Model::parse("time_decay", 0.0, 1).unwrap_err().field,
            "half_life_days"
        );
        assert_eq!(
            Model::parse("markov", 7.0, 5).unwrap_err().code,
            "invalid_order"
        );
        assert_eq!(Model::all(7.0, 2).unwrap().len(), 12);
    }
}
