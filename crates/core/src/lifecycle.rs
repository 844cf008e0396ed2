//! The lifecycle state machine: which stage moves are allowed, and why not.
//!
//! Forward moves along the funnel may skip stages. A move backwards, or out of
//! the funnel, goes only through the side states *recycled* or *disqualified*,
//! and those need a rejection reason code from the playbook.

use crate::playbook::Playbook;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A lifecycle stage. The funnel order is the order of the variants up to
/// `Evangelist`; `Recycled` and `Disqualified` are side states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Stage {
    Subscriber,
    Lead,
    Mql,
    Sal,
    Sql,
    Opportunity,
    Customer,
    Evangelist,
    Recycled,
    Disqualified,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::Subscriber,
        Stage::Lead,
        Stage::Mql,
        Stage::Sal,
        Stage::Sql,
        Stage::Opportunity,
        Stage::Customer,
        Stage::Evangelist,
        Stage::Recycled,
        Stage::Disqualified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Subscriber => "subscriber",
            Stage::Lead => "lead",
            Stage::Mql => "mql",
            Stage::Sal => "sal",
            Stage::Sql => "sql",
            Stage::Opportunity => "opportunity",
            Stage::Customer => "customer",
            Stage::Evangelist => "evangelist",
            Stage::Recycled => "recycled",
            Stage::Disqualified => "disqualified",
        }
    }

    /// Position in the funnel, or `None` for the side states.
    pub fn funnel_rank(self) -> Option<u8> {
        match self {
            Stage::Recycled | Stage::Disqualified => None,
            s => Some(s as u8),
        }
    }

    pub fn is_side_state(self) -> bool {
        self.funnel_rank().is_none()
    }

    /// Stages from which reaching the MQL threshold (or raising a hand)
    /// makes the contact an MQL.
    pub fn can_become_mql(self) -> bool {
        matches!(self, Stage::Subscriber | Stage::Lead | Stage::Recycled)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = crate::Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == t)
            .ok_or_else(|| {
                crate::Invalid::new(
                    "unknown_stage",
                    "stage",
                    format!(
                        "{s:?} is not a lifecycle stage; expected one of {}",
                        Stage::ALL.map(Stage::as_str).join(", ")
                    ),
                )
            })
    }
}

impl TryFrom<String> for Stage {
    type Error = crate::Invalid;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Why a stage move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("the contact is already in stage {0}")]
    NoChange(Stage),
    #[error("stage {0} is not part of the playbook")]
    StageNotInPlaybook(Stage),
    #[error(
        "moving back from {from} to {to} is not allowed; recycle or disqualify the contact first"
    )]
    Backwards { from: Stage, to: Stage },
    #[error("moving to {0} needs a rejection reason code")]
    ReasonRequired(Stage),
    #[error("{code:?} is not a rejection reason of the playbook")]
    UnknownReason { code: String },
}

impl LifecycleError {
    /// Stable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::NoChange(_) => "stage_unchanged",
            LifecycleError::StageNotInPlaybook(_) => "stage_not_in_playbook",
            LifecycleError::Backwards { .. } => "backward_stage_move",
            LifecycleError::ReasonRequired(_) => "reason_required",
            LifecycleError::UnknownReason { .. } => "unknown_reason",
        }
    }

    /// The input field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            LifecycleError::ReasonRequired(_) | LifecycleError::UnknownReason { .. } => "reason",
            _ => "stage",
        }
    }
}

/// Checks a move from `from` (None for a new contact) to `to`.
///
/// `reason` is a rejection reason code; it is required (and must exist in the
/// playbook) for moves into recycled or disqualified, and ignored otherwise.
pub fn check_move(
    playbook: &Playbook,
    from: Option<Stage>,
    to: Stage,
    reason: Option<&str>,
) -> Result<(), LifecycleError> {
    if !playbook.has_stage(to) {
        return Err(LifecycleError::StageNotInPlaybook(to));
    }
    if from == Some(to) {
        return Err(LifecycleError::NoChange(to));
    }
    if to.is_side_state() {
        let code = reason
            .filter(|r| !r.trim().is_empty())
            .ok_or(LifecycleError::ReasonRequired(to))?;
        if playbook.rejection_reason(code).is_none() {
            return Err(LifecycleError::UnknownReason {
                code: code.to_string(),
            });
        }
        return Ok(());
    }
    match from.and_then(Stage::funnel_rank) {
        Some(rank) if to.funnel_rank().is_some_and(|t| t < rank) => {
            Err(LifecycleError::Backwards {
                from: from.unwrap_or(to),
                to,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pb() -> Playbook {
        Playbook::default_playbook()
    }

    #[test]
    fn forward_moves_may_skip() {
        assert_eq!(
            check_move(&pb(), Some(Stage::Lead), Stage::Sql, None),
            Ok(())
        );
        assert_eq!(check_move(&pb(), None, Stage::Customer, None), Ok(()));
    }

    #[test]
    fn backwards_needs_a_side_state() {
        assert_eq!(
            check_move(&pb(), Some(Stage::Sql), Stage::Mql, None),
            Err(LifecycleError::Backwards {
                from: Stage::Sql,
                to: Stage::Mql
            })
        );
        assert_eq!(
            check_move(&pb(), Some(Stage::Sql), Stage::Recycled, None),
            Err(LifecycleError::ReasonRequired(Stage::Recycled))
        );
        assert_eq!(
            check_move(&pb(), Some(Stage::Sql), Stage::Recycled, Some("weather")),
            Err(LifecycleError::UnknownReason {
                code: "weather".into()
            })
        );
        assert_eq!(
            check_move(&pb(), Some(Stage::Sql), Stage::Recycled, Some("not_ready")),
            Ok(())
        );
        // From a side state the contact may re-enter the funnel anywhere.
        assert_eq!(
            check_move(&pb(), Some(Stage::Recycled), Stage::Mql, None),
            Ok(())
        );
        assert_eq!(
            check_move(&pb(), Some(Stage::Mql), Stage::Mql, None),
            Err(LifecycleError::NoChange(Stage::Mql))
        );
    }

    #[test]
    fn unknown_stage_names_are_refused() {
        let e = "prospect".parse::<Stage>().unwrap_err();
        assert_eq!((e.code, e.field.as_str()), ("unknown_stage", "stage"));
        assert_eq!("mql".parse::<Stage>().unwrap(), Stage::Mql);
    }

    fn any_stage() -> impl Strategy<Value = Stage> {
        prop::sample::select(Stage::ALL.to_vec())
    }

    proptest! {
        /// Whatever sequence of moves is attempted, the accepted ones never
        /// go backwards along the funnel without passing a side state.
        #[test]
        fn accepted_paths_never_go_back_directly(moves in prop::collection::vec((any_stage(), any::<bool>()), 1..40)) {
            let p = pb();
            let mut current: Option<Stage> = None;
            for (to, with_reason) in moves {
                let reason = with_reason.then_some("bad_fit");
                if check_move(&p, current, to, reason).is_ok() {
                    if let (Some(f), Some(t)) = (current.and_then(Stage::funnel_rank), to.funnel_rank()) {
                        prop_assert!(t > f, "accepted {current:?} -> {to:?}");
                    }
                    if to.is_side_state() {
                        prop_assert!(reason.is_some());
                    }
                    current = Some(to);
                }
            }
        }
    }
}
