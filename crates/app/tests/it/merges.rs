//! Merging two records of one person by hand: who survives, what moves,
//! and undoing it.

use crate::apps;
use smarketing_app::Actor;
use smarketing_app::AppError;
use smarketing_app::contacts::ContactFilter;
use smarketing_app::input::{ContactInput, DealInput, NoteInput};
use smarketing_app::listing::Paging;
use smarketing_app::merges::MergeInput;
use smarketing_core::{Instant, Stage};

fn at(s: &str) -> Instant {
    Instant::parse(s, "t").unwrap()
}

#[tokio::test]
async fn the_record_further_along_survives_and_takes_the_others_rows() {
    for (db, app) in apps().await {
        let l = db.label;
        let actor = Actor::system();
        let contact = |email: &str, first: Option<&str>, created: &str| ContactInput {
            email: email.into(),
            first_name: first.map(str::to_string),
            created_at: Some(at(created)),
            ..Default::default()
        };
        // The older record is a lead with a note; the newer one has a deal.
        let old = app
            .create_contact(
                contact("al@old.example", Some("Al"), "2025-01-01T00:00:00Z"),
                &actor,
            )
            .await
            .unwrap();
        let new = app
            .create_contact(
                contact("al@new.example", None, "2025-03-01T00:00:00Z"),
                &actor,
            )
            .await
            .unwrap();
        let note = app
            .create_note(
                NoteInput {
                    contact_id: Some(old.id),
                    account_id: None,
                    deal_id: None,
                    body: "met at the fair".into(),
                },
                &actor,
            )
            .await
            .unwrap();
        let deal = app
            .create_deal(
                DealInput {
                    name: "Al's deal".into(),
                    contact_id: Some(new.id),
                    amount_minor: 100_000,
                    ..Default::default()
                },
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(
            app.contact(new.id).await.unwrap().stage,
            Stage::Opportunity,
            "{l}"
        );

        let m = app
            .merge_contacts(
                &MergeInput {
                    contact_ids: [old.id, new.id],
                },
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(
            (m.survivor_id, m.merged_id),
            (new.id, old.id),
            "{l}: the opportunity survives"
        );
        assert_eq!(m.cause, "manual");
        assert_eq!(m.moved.notes, vec![note.id], "{l}");
        assert!(
            m.moved.deals.is_empty(),
            "{l}: the deal was already the survivor's"
        );
        let survivor = app.contact(new.id).await.unwrap();
        assert_eq!(survivor.first_name.as_deref(), Some("Al"), "{l}");
        assert_eq!(survivor.stage, Stage::Opportunity, "{l}");
        assert_eq!(
            app.contact(old.id).await.unwrap().merged_into_id,
            Some(new.id),
            "{l}"
        );
        let live = app
            .contacts(&ContactFilter::default(), &Paging::default())
            .await
            .unwrap();
        assert_eq!(
            live.items.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![new.id],
            "{l}: a merged record is not listed"
        );
        assert_eq!(
            app.contact_merges(old.id).await.unwrap().len(),
            1,
            "{l}: both records show the merge"
        );
        assert_eq!(deal.contact_id, Some(new.id));

        // Refused: a merged record again, the same record twice.
        for ids in [[old.id, new.id], [new.id, new.id]] {
            let e = app
                .merge_contacts(&MergeInput { contact_ids: ids }, &actor)
                .await
                .unwrap_err();
            assert!(
                matches!(&e, AppError::Invalid(i) if i.field == "contact_ids"),
                "{l}: {e}"
            );
        }

        // Undone: the note is the old record's again, the filled name gone.
        app.unmerge_contacts(m.id, &actor).await.unwrap();
        let old_again = app.contact(old.id).await.unwrap();
        assert_eq!(old_again.merged_into_id, None, "{l}");
        let survivor = app.contact(new.id).await.unwrap();
        assert_eq!(survivor.first_name, None, "{l}");
        let timeline = app.timeline(old.id).await.unwrap();
        assert!(
            serde_json::to_string(&timeline)
                .unwrap()
                .contains("met at the fair"),
            "{l}: the note went back"
        );
        let e = app.unmerge_contacts(m.id, &actor).await.unwrap_err();
        assert!(
            matches!(&e, AppError::Invalid(i) if i.code == "already_unmerged"),
            "{l}: {e}"
        );
    }
}
