//! Keeping personas and scores in step with the playbook: after a new
//! version is stored, every live contact whose persona the rules chose is
//! matched again and every contact is rescored, as a recorded run with its
//! progress, so reports can say which version the scores are from.

use crate::import::Progress;
use crate::lifecycle::{profile, rescore};
use crate::playbooks::parse_stored;
use crate::{App, AppError};
use smarketing_core::Playbook;
use smarketing_store::filters::ContactRows;
use smarketing_store::{Account, Contact, PlaybookRescore, repo};
use std::collections::HashMap;
use std::sync::Arc;

/// Contacts rescored per transaction (and between progress reports).
const PAGE: u32 = 500;

/// Whether `contact`'s persona is the one `playbook`'s rules match for it
/// (none counts): then the rules chose it, and it follows them. A persona
/// someone set by hand against the rules stays.
pub(crate) fn persona_follows_rules(
    playbook: &Playbook,
    contact: &Contact,
    account: Option<&Account>,
) -> bool {
    contact.persona.as_deref() == playbook.match_persona(&profile(contact, account))
}

impl App {
    /// Re-matches personas chosen by the previous version's rules and
    /// rescores every live contact under the playbook in force, recording
    /// the run (`playbook_rescores`) and reporting progress as it goes.
    pub async fn rescore_contacts(
        &self,
        progress: &dyn Progress,
    ) -> Result<PlaybookRescore, AppError> {
        let _one_at_a_time = self.rescoring.lock().await;
        let (version, playbook) = self.playbook().await?;
        let mut conn = self.store().acquire().await?;
        let previous = match version {
            v if v <= 1 => Arc::new(Playbook::default_playbook()),
            v => Arc::new(parse_stored(
                &repo::playbook_version(&mut conn, v - 1).await?,
            )?),
        };
        let live = ContactRows::default().to_where();
        let total = repo::count(&mut conn, "contacts", &live).await?;
        let accounts: HashMap<i64, Account> = repo::all::<Account>(&mut conn)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let mut run = repo::insert(
            &mut conn,
            &PlaybookRescore {
                id: 0,
                playbook_version: version,
                contacts: total,
                done: 0,
                started_at: self.now(),
                finished_at: None,
            },
        )
        .await?;
        drop(conn);
        progress.start("contacts", total.max(0) as u64);
        let mut cursor: Option<String> = None;
        loop {
            let now = self.now();
            let mut tx = self.store().begin().await?;
            let page =
                repo::page::<Contact>(&mut tx, live.clone(), cursor.as_deref(), PAGE).await?;
            let n = page.items.len();
            for listed in page.items {
                // Read again inside the transaction, so a change committed
                // since the page was read is not written over.
                let mut c: Contact = repo::get(&mut tx, listed.id).await?;
                if c.merged_into_id.is_some() {
                    continue;
                }
                let account = c.account_id.and_then(|a| accounts.get(&a));
                if persona_follows_rules(&previous, &c, account) {
                    c.persona = playbook
                        .match_persona(&profile(&c, account))
                        .map(str::to_string);
                }
                rescore(&mut tx, &playbook, c, now).await?;
            }
            run.done += n as i64;
            run = repo::update(&mut tx, run.id, &run).await?;
            tx.commit()
                .await
                .map_err(smarketing_store::StoreError::from)?;
            progress.advance(n as u64);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        run.finished_at = Some(self.now());
        let mut conn = self.store().acquire().await?;
        let run = repo::update(&mut conn, run.id, &run).await?;
        progress.finish();
        Ok(run)
    }

    /// Starts [`App::rescore_contacts`] in the background (a server does this
    /// after storing a playbook version); its progress is in
    /// [`App::rescore_status`].
    pub fn spawn_rescore(&self) {
        let app = self.clone();
        tokio::spawn(async move {
            match app.rescore_contacts(&crate::import::Quiet).await {
                Ok(run) => tracing::info!(
                    version = run.playbook_version,
                    contacts = run.done,
                    "personas re-matched and contacts rescored"
                ),
                Err(e) => tracing::error!(error = %e, "rescoring contacts failed"),
            }
        });
    }

    /// The latest rescoring run: which playbook version the cached scores
    /// are from, or how far the run towards the newest one has come.
    pub async fn rescore_status(&self) -> Result<Option<PlaybookRescore>, AppError> {
        let mut conn = self.store().acquire().await?;
        Ok(repo::all::<PlaybookRescore>(&mut conn).await?.pop())
    }
}

/// What a changed playbook would do to the MQL threshold today: of the
/// contacts at the lead stage, how many meet it under the playbook in
/// force and how many would under the candidate, each scored now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MqlWhatIf {
    pub leads: u64,
    pub meet_now: u64,
    pub would_meet: u64,
}

impl App {
    /// [`MqlWhatIf`] for `candidate` (validated as an import would be).
    /// It reads every lead's touches, so it is a preview one asks for, not
    /// part of a page.
    pub async fn mql_what_if(&self, candidate: &Playbook) -> Result<MqlWhatIf, AppError> {
        Playbook::from_toml(&candidate.to_toml())?;
        let (_, playbook) = self.playbook().await?;
        let now = self.now().timestamp();
        let mut conn = self.store().acquire().await?;
        let accounts: HashMap<i64, Account> = repo::all::<Account>(&mut conn)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let leads = ContactRows {
            stage: Some(smarketing_core::Stage::Lead),
            ..Default::default()
        }
        .to_where();
        let mut out = MqlWhatIf {
            leads: 0,
            meet_now: 0,
            would_meet: 0,
        };
        let mut cursor: Option<String> = None;
        loop {
            let page =
                repo::page::<Contact>(&mut conn, leads.clone(), cursor.as_deref(), PAGE).await?;
            for c in &page.items {
                if c.merged_into_id.is_some() {
                    continue;
                }
                let touches = repo::touchpoints_of_contact(&mut conn, c.id).await?;
                let touches = crate::lifecycle::engaging(c, &touches);
                let who = profile(c, c.account_id.and_then(|a| accounts.get(&a)));
                out.leads += 1;
                out.meet_now += u64::from(
                    smarketing_core::scoring::score(&playbook, &who, &touches, now)
                        .meets_mql_threshold,
                );
                out.would_meet += u64::from(
                    smarketing_core::scoring::score(candidate, &who, &touches, now)
                        .meets_mql_threshold,
                );
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(out)
    }
}
