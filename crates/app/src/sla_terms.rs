//! The SLA terms a handoff is held to. They are fixed when it is opened —
//! the agreement both teams had signed by then, in the working calendar of
//! the playbook then in force — so no later playbook or agreement re-judges
//! a handoff, and a report on a past period keeps its answer.

use crate::AppError;
use crate::playbooks::parse_stored;
use smarketing_core::{Instant, Playbook, Team};
use smarketing_store::{Conn, Handoff, SlaAgreement, SlaSignoff, repo};
use std::collections::HashMap;
use std::sync::Arc;

/// The terms a handoff opened now is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Terms {
    /// The playbook version in force (0: the default playbook, none stored).
    pub playbook_version: i64,
    /// The latest agreement both teams have signed, if any has been.
    pub agreement_version: Option<i64>,
}

impl Terms {
    /// What is in force now.
    pub async fn now(conn: &mut Conn) -> Result<Terms, AppError> {
        let playbook_version = repo::latest_playbook_number(conn).await?;
        let signoffs = repo::sla_signoffs(conn).await?;
        let agreements = repo::sla_agreements(conn).await?;
        Ok(Terms {
            playbook_version,
            agreement_version: in_force(&agreements, &signoffs).map(|a| a.version),
        })
    }

    /// What was in force at `at`: the playbook version stored last by then,
    /// and the agreement whose second sign-off came last by then.
    pub async fn at(conn: &mut Conn, at: Instant) -> Result<Terms, AppError> {
        let playbook_version = repo::playbook_versions(conn)
            .await?
            .iter()
            .filter(|v| v.created_at <= at)
            .map(|v| v.version)
            .max()
            .unwrap_or(0);
        let signoffs: Vec<SlaSignoff> = repo::sla_signoffs(conn)
            .await?
            .into_iter()
            .filter(|s| s.signed_at <= at)
            .collect();
        let agreements = repo::sla_agreements(conn).await?;
        Ok(Terms {
            playbook_version,
            agreement_version: in_force(&agreements, &signoffs).map(|a| a.version),
        })
    }

    /// What `h` is held to. A handoff opened before terms were recorded and
    /// before any playbook was stored ran under the default playbook.
    pub fn of(h: &Handoff) -> Terms {
        Terms {
            playbook_version: h.playbook_version.unwrap_or(0),
            agreement_version: h.agreement_version,
        }
    }
}

/// The latest agreement both teams have signed.
pub(crate) fn in_force<'a>(
    agreements: &'a [SlaAgreement],
    signoffs: &[SlaSignoff],
) -> Option<&'a SlaAgreement> {
    let signed = |id: i64, team: Team| {
        signoffs
            .iter()
            .any(|s| s.agreement_id == id && s.team == team)
    };
    agreements
        .iter()
        .filter(|a| signed(a.id, Team::Marketing) && signed(a.id, Team::Sales))
        .max_by_key(|a| a.version)
}

/// The playbooks handoffs' clocks run under, read once per use case: the
/// playbook version of their terms, with the SLA numbers of their agreement.
pub(crate) struct SlaTerms {
    current: (i64, Arc<Playbook>),
    held: HashMap<Terms, Arc<Playbook>>,
}

impl SlaTerms {
    /// Starts from the current playbook, which most open handoffs share.
    pub fn new(current_version: i64, current: Arc<Playbook>) -> Self {
        SlaTerms {
            current: (current_version, current),
            held: HashMap::new(),
        }
    }

    /// The playbook `h`'s clocks and escalations run under.
    pub async fn of(&mut self, conn: &mut Conn, h: &Handoff) -> Result<Arc<Playbook>, AppError> {
        self.for_terms(conn, Terms::of(h)).await
    }

    pub async fn for_terms(
        &mut self,
        conn: &mut Conn,
        terms: Terms,
    ) -> Result<Arc<Playbook>, AppError> {
        if let Some(p) = self.held.get(&terms) {
            return Ok(p.clone());
        }
        let base = if terms.playbook_version == self.current.0 {
            self.current.1.clone()
        } else if terms.playbook_version == 0 {
            Arc::new(Playbook::default_playbook())
        } else {
            let stored = repo::playbook_version(conn, terms.playbook_version).await?;
            Arc::new(parse_stored(&stored)?)
        };
        let held = match terms.agreement_version {
            None => base,
            Some(v) => {
                let agreement = repo::sla_agreements(conn)
                    .await?
                    .into_iter()
                    .find(|a| a.version == v)
                    .ok_or_else(|| {
                        smarketing_store::StoreError::Corrupt(format!(
                            "a handoff is held to SLA agreement {v}, which is not stored"
                        ))
                    })?;
                let policy = serde_json::from_str(&agreement.policy).map_err(|e| {
                    smarketing_store::StoreError::Corrupt(format!(
                        "SLA agreement {v} holds an unreadable policy: {e}"
                    ))
                })?;
                if policy == base.sla {
                    base
                } else {
                    let mut p = (*base).clone();
                    p.sla = policy;
                    Arc::new(p)
                }
            }
        };
        self.held.insert(terms, held.clone());
        Ok(held)
    }
}
