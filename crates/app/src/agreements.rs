//! The SLA as an agreement both teams sign: each change of the playbook's SLA
//! numbers is a new version with a generated summary, pending until a
//! marketing lead and a sales lead have both signed it.

use crate::{Actor, App, AppError};
use serde::Serialize;
use smarketing_core::access::{Action, Relation};
use smarketing_core::playbook::SlaPolicy;
use smarketing_core::sla::agreement_summary;
use smarketing_core::{Instant, Invalid, Playbook, Team};
use smarketing_store::{SlaAgreement, SlaSignoff, User, repo};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgreementView {
    pub version: i64,
    pub playbook_version: i64,
    pub summary: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub policy: serde_json::Value,
    /// `pending` (awaiting a sign-off), `in_force` or `superseded`.
    pub status: String,
    pub marketing_signoff: Option<SlaSignoff>,
    pub sales_signoff: Option<SlaSignoff>,
    pub created_at: Instant,
}

fn views(agreements: Vec<SlaAgreement>, signoffs: &[SlaSignoff]) -> Vec<AgreementView> {
    let signed = |id: i64, team: Team| {
        signoffs
            .iter()
            .find(|s| s.agreement_id == id && s.team == team)
            .cloned()
    };
    // The one rule for which version is in force, shared with the terms
    // each handoff is held to.
    let in_force = crate::sla_terms::in_force(&agreements, signoffs).map(|a| a.version);
    agreements
        .into_iter()
        .map(|a| AgreementView {
            status: match in_force {
                Some(v) if v == a.version => "in_force",
                Some(v) if a.version < v => "superseded",
                _ => "pending",
            }
            .into(),
            marketing_signoff: signed(a.id, Team::Marketing),
            sales_signoff: signed(a.id, Team::Sales),
            policy: serde_json::from_str(&a.policy).unwrap_or(serde_json::Value::Null),
            version: a.version,
            playbook_version: a.playbook_version,
            summary: a.summary,
            created_at: a.created_at,
        })
        .collect()
}

impl App {
    /// Adds an agreement version when the playbook's SLA numbers differ from
    /// the latest agreement's.
    pub(crate) async fn sync_agreement(
        &self,
        playbook_version: i64,
        playbook: &Playbook,
    ) -> Result<(), AppError> {
        let mut conn = self.store().acquire().await?;
        let latest = repo::sla_agreements(&mut conn).await?.pop();
        let same = latest
            .as_ref()
            .and_then(|a| serde_json::from_str::<SlaPolicy>(&a.policy).ok())
            .is_some_and(|p| p == playbook.sla);
        if !same {
            let policy = serde_json::to_string(&playbook.sla).expect("the SLA policy serialises");
            let summary = agreement_summary(&playbook.sla, None);
            match repo::insert_sla_agreement(
                &mut conn,
                playbook_version,
                &policy,
                &summary,
                self.now(),
            )
            .await
            {
                // Another process added the same version first.
                Ok(_) | Err(smarketing_store::StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn agreements(&self) -> Result<Vec<AgreementView>, AppError> {
        let mut conn = self.store().acquire().await?;
        let signoffs = repo::sla_signoffs(&mut conn).await?;
        Ok(views(repo::sla_agreements(&mut conn).await?, &signoffs))
    }

    /// The version signed by both teams most recently, if any.
    pub async fn agreement_in_force(&self) -> Result<Option<i64>, AppError> {
        Ok(self
            .agreements()
            .await?
            .into_iter()
            .find(|a| a.status == "in_force")
            .map(|a| a.version))
    }

    /// Signs the latest agreement for the signer's team. Signers are leads:
    /// managers or admins of marketing or sales.
    pub async fn sign_agreement(
        &self,
        version: i64,
        signer: &User,
    ) -> Result<AgreementView, AppError> {
        self.sign_agreement_as(version, signer, &Actor::user(signer))
            .await
    }

    /// [`App::sign_agreement`] by `actor` — the signer, held to the scope
    /// of the token they used.
    pub async fn sign_agreement_as(
        &self,
        version: i64,
        signer: &User,
        actor: &Actor,
    ) -> Result<AgreementView, AppError> {
        if actor.user_id != Some(signer.id) {
            return Err(AppError::Forbidden(
                "an agreement is signed by the lead themselves".into(),
            ));
        }
        actor.authorize(Action::SignAgreement, Relation::Own)?;
        let list = self.agreements().await?;
        let latest = list
            .last()
            .ok_or_else(|| AppError::not_found("agreement", version))?;
        let target = list
            .iter()
            .find(|a| a.version == version)
            .ok_or_else(|| AppError::not_found("agreement", version))?;
        if target.version != latest.version {
            return Err(Invalid::new(
                "superseded",
                "version",
                format!(
                    "version {version} was replaced by version {}; sign that one",
                    latest.version
                ),
            )
            .into());
        }
        let already = match signer.team {
            Team::Marketing => &target.marketing_signoff,
            Team::Sales => &target.sales_signoff,
        };
        if already.is_some() {
            return Err(AppError::Conflict {
                what: "sign-off",
                field: "team".into(),
            });
        }
        let mut conn = self.store().acquire().await?;
        let agreement_id = repo::sla_agreements(&mut conn)
            .await?
            .into_iter()
            .find(|a| a.version == version)
            .map(|a| a.id)
            .expect("listed above");
        repo::insert_sla_signoff(&mut conn, agreement_id, signer.team, signer.id, self.now())
            .await
            .map_err(|e| match e {
                smarketing_store::StoreError::Conflict { .. } => AppError::Conflict {
                    what: "sign-off",
                    field: "team".into(),
                },
                other => other.into(),
            })?;
        crate::audit::record(
            &mut conn,
            actor,
            "agreement.sign",
            ("agreement", &version),
            crate::audit::NOTHING,
            Some(&serde_json::json!({ "version": version, "team": signer.team })),
            self.now(),
        )
        .await?;
        drop(conn);
        Ok(self
            .agreements()
            .await?
            .into_iter()
            .find(|a| a.version == version)
            .expect("exists"))
    }
}

impl App {
    /// The agreement versions in force at some moment of `[from, to)`: a
    /// version comes into force when its second sign-off lands and stays so
    /// until a later version does.
    pub async fn agreements_in_force_between(
        &self,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<i64>, AppError> {
        let list = self.agreements().await?;
        let mut starts: Vec<(i64, Instant)> = list
            .iter()
            .filter_map(|a| match (&a.marketing_signoff, &a.sales_signoff) {
                (Some(m), Some(s)) => Some((a.version, m.signed_at.max(s.signed_at))),
                _ => None,
            })
            .collect();
        starts.sort_by_key(|(_, at)| *at);
        let mut out = Vec::new();
        for (i, (v, begins)) in starts.iter().enumerate() {
            let ends = starts.get(i + 1).map(|(_, at)| *at);
            if *begins < to && ends.is_none_or(|e| e > from) {
                out.push(*v);
            }
        }
        Ok(out)
    }
}
