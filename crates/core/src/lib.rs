//! Smarketing's pure domain: the playbook both teams own, the lifecycle state
//! machine, lead scoring and channel derivation. No IO, no async, no clock:
//! every instant is an argument.

pub mod access;
pub mod analytics;
pub mod calendar;
pub mod closed;
pub mod condition;
pub mod diff;
pub mod email;
pub mod ingest;
pub mod instant;
pub mod invalid;
pub mod lifecycle;
pub mod money;
pub mod period;
pub mod playbook;
pub mod problem;
pub mod redaction;
pub mod reverse_funnel;
pub mod routing;
pub mod scoring;
pub mod segment;
pub mod sla;
pub mod spreadsheet;

pub use access::{Action, Reach, Relation};
pub use closed::{
    ActivityKind, ActivityOutcome, DealStatus, Decision, Role, StageCause, Team, TokenScope,
};
pub use email::Email;
pub use instant::Instant;
pub use invalid::Invalid;
pub use jiff::Timestamp;
pub use lifecycle::{LifecycleError, Stage};
pub use money::Money;
pub use playbook::Playbook;
