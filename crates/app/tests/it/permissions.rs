//! The permission table on the records: each case a security probe found
//! open, now refused with 403 — and what each team's own people may still
//! do. On SQLite and PostgreSQL.

use crate::apps;
use serde_json::json;
use smarketing_app::input::{AccountInput, ContactInput, NoteInput, UserInput};
use smarketing_app::{Actor, App, AppError};
use smarketing_store::User;

async fn user(app: &App, name: &str, team: &str, role: &str) -> User {
    app.create_user(
        UserInput {
            name: name.into(),
            email: format!("{}@example.com", name.to_lowercase()),
            team: team.into(),
            role: role.into(),
        },
        &Actor::system(),
    )
    .await
    .unwrap()
}

fn refused<T: std::fmt::Debug>(l: &str, what: &str, r: Result<T, AppError>) {
    match r {
        Err(AppError::Forbidden(_)) => {}
        other => panic!("{l}: {what} must be refused: {other:?}"),
    }
}

fn patch<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn each_profile_changes_only_what_the_table_gives_it() {
    for (db, app) in apps().await {
        let l = db.label;
        let admin = user(&app, "Ada", "marketing", "admin").await;
        let mlead = user(&app, "Mona", "marketing", "manager").await;
        let marketer = user(&app, "Mia", "marketing", "member").await;
        let slead = user(&app, "Sam", "sales", "manager").await;
        let ben = user(&app, "Ben", "sales", "member").await;
        let rob = user(&app, "Rob", "sales", "member").await;
        let exec = user(&app, "Eve", "sales", "viewer").await;
        let [admin, mlead, marketer, slead, ben, rob, exec] =
            [&admin, &mlead, &marketer, &slead, &ben, &rob, &exec].map(Actor::user);
        let ids = |a: &Actor| a.user_id.unwrap();

        // Ben's account: Rob may not make himself its owner (the next lead
        // from it would be routed to him), nor change it.
        let account = app
            .create_account(
                AccountInput {
                    name: "Ben's Co".into(),
                    owner_id: Some(ids(&ben)),
                    ..Default::default()
                },
                &slead,
            )
            .await
            .unwrap();
        refused(
            l,
            "a rep taking another rep's account",
            app.update_account(account.id, patch(json!({"owner_id": ids(&rob)})), &rob)
                .await,
        );
        refused(
            l,
            "a rep renaming another rep's account",
            app.update_account(account.id, patch(json!({"name": "Mine"})), &rob)
                .await,
        );
        // Nor may Ben himself give it away or take its owner off (two
        // unowned records were anyone's to merge).
        refused(
            l,
            "a rep clearing an owner",
            app.update_account(account.id, patch(json!({"owner_id": null})), &ben)
                .await,
        );
        app.update_account(account.id, patch(json!({"industry": "Retail"})), &ben)
            .await
            .unwrap();
        app.update_account(account.id, patch(json!({"owner_id": ids(&rob)})), &slead)
            .await
            .unwrap();

        // Contacts: reps change what they own; marketing works the leads no
        // one owns; a sales lead reassigns.
        let lead = app
            .create_contact(
                ContactInput {
                    email: "lead@example.com".into(),
                    ..Default::default()
                },
                &marketer,
            )
            .await
            .unwrap();
        app.update_contact(lead.id, patch(json!({"job_title": "CTO"})), &marketer)
            .await
            .unwrap();
        refused(
            l,
            "a rep changing a lead no one owns",
            app.update_contact(lead.id, patch(json!({"job_title": "CEO"})), &rob)
                .await,
        );
        refused(
            l,
            "a marketer giving a lead to a rep",
            app.update_contact(lead.id, patch(json!({"owner_id": ids(&rob)})), &marketer)
                .await,
        );
        app.update_contact(lead.id, patch(json!({"owner_id": ids(&rob)})), &slead)
            .await
            .unwrap();
        app.update_contact(lead.id, patch(json!({"job_title": "CIO"})), &rob)
            .await
            .unwrap();
        refused(
            l,
            "a marketer changing a rep's contact",
            app.update_contact(lead.id, patch(json!({"job_title": "CFO"})), &marketer)
                .await,
        );

        // Deals are sales' numbers: a marketer may not win one (it raised
        // won revenue in the goal report), nor a rep another rep's.
        let deal = app
            .create_deal(
                patch(json!({"name": "Big", "contact_id": lead.id, "amount_minor": 100_000})),
                &rob,
            )
            .await
            .unwrap();
        assert_eq!(
            deal.owner_id,
            Some(ids(&rob)),
            "{l}: a deal is its opener's"
        );
        refused(
            l,
            "a marketer winning a deal",
            app.update_deal(deal.id, patch(json!({"status": "won"})), &marketer)
                .await,
        );
        refused(
            l,
            "a marketing lead raising an amount",
            app.update_deal(deal.id, patch(json!({"amount_minor": 10_000_000})), &mlead)
                .await,
        );
        // Another rep's deal is not even there for him.
        let hidden = app
            .update_deal(deal.id, patch(json!({"status": "won"})), &ben)
            .await;
        assert!(
            matches!(hidden, Err(AppError::NotFound { what: "deal", .. })),
            "{l}: a rep winning another rep's deal: {hidden:?}"
        );
        assert!(matches!(
            app.deal_for(deal.id, &ben).await,
            Err(AppError::NotFound { .. })
        ));
        refused(
            l,
            "a marketer opening a won deal",
            app.create_deal(
                patch(json!({"name": "Fake", "amount_minor": 1, "status": "won"})),
                &marketer,
            )
            .await,
        );
        app.update_deal(deal.id, patch(json!({"amount_minor": 120_000})), &rob)
            .await
            .unwrap();

        // Campaign spend is marketing's budget, set by its lead.
        let campaign = app
            .create_campaign(
                patch(json!({"name": "Webinar", "channel": "webinar",
                             "started_at": "2025-05-01T00:00:00Z"})),
                &marketer,
            )
            .await
            .unwrap();
        for who in [&marketer, &slead, &rob] {
            refused(
                l,
                "spend set outside marketing's lead",
                app.update_campaign(campaign.id, patch(json!({"spend_minor": 1})), who)
                    .await,
            );
        }
        app.update_campaign(campaign.id, patch(json!({"spend_minor": 500_000})), &mlead)
            .await
            .unwrap();
        // The spend change is in the audit log, with only what changed.
        let log = app.audit_log(None, 50, &Actor::system()).await.unwrap();
        let spend = log
            .iter()
            .find(|e| e.action == "campaign.update")
            .expect("the spend change is audited");
        assert_eq!(spend.actor_user_id, mlead.user_id, "{l}");
        let after: serde_json::Value =
            serde_json::from_str(spend.after.as_deref().unwrap()).unwrap();
        assert_eq!(after, json!({"spend_minor": 500_000}), "{l}");
        refused(
            l,
            "a rep changing a campaign",
            app.update_campaign(campaign.id, patch(json!({"name": "Mine"})), &rob)
                .await,
        );

        // Routing settings are the sales lead's: a rep may not raise their
        // own weight or capacity.
        refused(
            l,
            "a rep setting their own weight",
            app.set_rep_settings(
                ids(&rob),
                patch(json!({"weight": 100, "capacity": 1000})),
                &rob,
            )
            .await,
        );
        app.set_rep_settings(ids(&rob), patch(json!({"weight": 3})), &slead)
            .await
            .unwrap();
        refused(
            l,
            "a marketing lead setting a rep's routing",
            app.set_rep_settings(ids(&rob), patch(json!({"weight": 3})), &mlead)
                .await,
        );

        // Absences: one's own, or one's team's as its lead; not the other team's.
        let absence =
            json!({"starts_at": "2025-06-10T00:00:00Z", "ends_at": "2025-06-11T00:00:00Z"});
        app.add_out_of_office(ids(&rob), patch(absence.clone()), &rob)
            .await
            .unwrap();
        refused(
            l,
            "a rep recording another's absence",
            app.add_out_of_office(ids(&ben), patch(absence.clone()), &rob)
                .await,
        );
        refused(
            l,
            "a marketer recording a rep's absence",
            app.add_out_of_office(ids(&ben), patch(absence.clone()), &marketer)
                .await,
        );
        refused(
            l,
            "a marketing lead recording a rep's absence",
            app.add_out_of_office(ids(&ben), patch(absence.clone()), &mlead)
                .await,
        );
        app.add_out_of_office(ids(&ben), patch(absence.clone()), &slead)
            .await
            .unwrap();

        // A merge can hand the survivor the other record's owner, so a rep
        // may not merge their contact with a lead no one owns.
        let unowned = app
            .create_contact(
                ContactInput {
                    email: "dup@example.com".into(),
                    ..Default::default()
                },
                &marketer,
            )
            .await
            .unwrap();
        refused(
            l,
            "a rep merging an unowned lead into their contact",
            app.merge_contacts(
                &smarketing_app::merges::MergeInput {
                    contact_ids: [lead.id, unowned.id],
                },
                &rob,
            )
            .await,
        );

        // A viewer reads everything and changes nothing.
        refused(
            l,
            "a viewer adding a contact",
            app.create_contact(
                ContactInput {
                    email: "x@example.com".into(),
                    ..Default::default()
                },
                &exec,
            )
            .await,
        );
        refused(
            l,
            "a viewer adding a note",
            app.create_note(
                NoteInput {
                    contact_id: Some(lead.id),
                    body: "hi".into(),
                    ..Default::default()
                },
                &exec,
            )
            .await,
        );
        refused(
            l,
            "a viewer changing a contact",
            app.update_contact(lead.id, patch(json!({"job_title": "x"})), &exec)
                .await,
        );
        app.contact(lead.id).await.unwrap();
        // And an admin may do all of it.
        app.update_deal(deal.id, patch(json!({"status": "won"})), &admin)
            .await
            .unwrap();
    }
}
