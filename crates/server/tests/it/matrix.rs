//! The permission matrix: every profile against every route that changes
//! something or shows what not everyone may see, on objects that are the
//! caller's own, their team's, the other team's, and no one's, through the
//! real router. Each answer is compared with the permission table in core:
//! a refusal is 403 (404 for an object the caller may not see), anything
//! else is the route doing it. A leak is a route doing what the table
//! refuses; the test also fails on a refusal the table does not make.

use crate::{TestApi, apis};
use serde_json::{Value, json};
use smarketing_app::input::{AccountInput, ContactInput, DealInput, NoteInput, UserInput};
use smarketing_app::{Actor, App};
use smarketing_core::access::{Action, Profile, Relation, permits};
use smarketing_store::User;

/// How an object stands to the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Own,
    Team,
    Other,
    /// No one owns it: marketing's to work, sales' not.
    NoOne,
    /// Company-wide: settings, reports, the log.
    Company,
}

/// The people: one of every profile, and a second member on each team to
/// own the "team" and "other" objects.
struct People {
    by_profile: Vec<(Profile, User, String)>,
    marketer: User,
    seller: User,
}

async fn person(app: &App, name: &str, team: &str, role: &str) -> User {
    app.create_user(
        UserInput {
            name: name.into(),
            email: format!("{}@matrix.io", name.to_lowercase()),
            team: team.into(),
            role: role.into(),
        },
        &Actor::system(),
    )
    .await
    .unwrap()
}

async fn people(app: &App) -> People {
    let mut by_profile = Vec::new();
    for (name, team, role) in [
        ("Admin", "marketing", "admin"),
        ("Mlead", "marketing", "manager"),
        ("Mmember", "marketing", "member"),
        ("Slead", "sales", "manager"),
        ("Srep", "sales", "member"),
        ("Viewer", "sales", "viewer"),
    ] {
        let u = person(app, name, team, role).await;
        let token = app.create_token(u.id, "matrix").await.unwrap();
        by_profile.push((Profile::of(u.role, u.team), u, token));
    }
    People {
        by_profile,
        marketer: person(app, "Mara", "marketing", "member").await,
        seller: person(app, "Sven", "sales", "member").await,
    }
}

impl People {
    /// Who owns the object of `scope` for `caller` (`None`: no one).
    fn owner<'a>(&'a self, caller: &'a User, scope: Scope) -> Option<&'a User> {
        let (mine, theirs) = match caller.team {
            smarketing_core::Team::Marketing => (&self.marketer, &self.seller),
            smarketing_core::Team::Sales => (&self.seller, &self.marketer),
        };
        match scope {
            Scope::Own => Some(caller),
            Scope::Team => Some(mine),
            Scope::Other => Some(theirs),
            Scope::NoOne | Scope::Company => None,
        }
    }
}

/// The relation the table is read with for `scope`.
fn relation(caller: &User, scope: Scope) -> Relation {
    match scope {
        Scope::Own => Relation::Own,
        Scope::Team => Relation::Team,
        Scope::Other => Relation::Other,
        Scope::NoOne if caller.team == smarketing_core::Team::Marketing => Relation::Team,
        Scope::NoOne => Relation::Other,
        Scope::Company => Relation::Company,
    }
}

/// One route of the matrix: the actions it asks for (a refusal of the
/// first that fails decides the answer) and how to build its object.
#[derive(Debug, Clone, Copy)]
enum Route {
    PatchContact,
    PatchAccount,
    GetDeal,
    PatchDeal,
    ListDeals,
    PatchNote,
    PatchActivity,
    PutRepSettings,
    PostAbsence,
    AcceptHandoff,
    PostContact,
    PostCampaign,
    PatchCampaignSpend,
    PutGoal,
    PostUser,
    PostWebhook,
    GetAudit,
    ExportPerson,
    ErasePerson,
    RoiReport,
    GoalReport,
    GetNoteOnDeal,
    ListActivitiesOnDeal,
}

impl Route {
    const ALL: [Route; 23] = [
        Route::PatchContact,
        Route::PatchAccount,
        Route::GetDeal,
        Route::PatchDeal,
        Route::ListDeals,
        Route::PatchNote,
        Route::PatchActivity,
        Route::PutRepSettings,
        Route::PostAbsence,
        Route::AcceptHandoff,
        Route::PostContact,
        Route::PostCampaign,
        Route::PatchCampaignSpend,
        Route::PutGoal,
        Route::PostUser,
        Route::PostWebhook,
        Route::GetAudit,
        Route::ExportPerson,
        Route::ErasePerson,
        Route::RoiReport,
        Route::GoalReport,
        Route::GetNoteOnDeal,
        Route::ListActivitiesOnDeal,
    ];

    /// The scopes its objects come in.
    fn scopes(self) -> &'static [Scope] {
        use Scope::*;
        match self {
            Route::PatchContact
            | Route::PatchAccount
            | Route::GetDeal
            | Route::PatchDeal
            | Route::GetNoteOnDeal
            | Route::ListActivitiesOnDeal => &[Own, Team, Other, NoOne],
            Route::PatchNote
            | Route::PatchActivity
            | Route::PutRepSettings
            | Route::PostAbsence
            | Route::AcceptHandoff
            | Route::ListDeals => &[Own, Team, Other],
            _ => &[Company],
        }
    }

    /// What the table must allow, in the order the route asks; `true`
    /// marks the actions a refusal of which hides the object (404).
    fn actions(self) -> &'static [(Action, bool)] {
        match self {
            Route::PatchContact | Route::PatchAccount => &[(Action::EditRecord, false)],
            Route::GetDeal
            | Route::ListDeals
            | Route::GetNoteOnDeal
            | Route::ListActivitiesOnDeal => &[(Action::ReadDeal, true)],
            Route::PatchDeal => &[(Action::ReadDeal, true), (Action::EditDeal, false)],
            Route::PatchNote => &[(Action::EditNote, false)],
            Route::PatchActivity => &[(Action::EditActivity, false)],
            Route::PutRepSettings => &[(Action::EditRepSettings, false)],
            Route::PostAbsence => &[(Action::RecordAbsence, false)],
            Route::AcceptHandoff => &[(Action::WorkHandoff, false)],
            Route::PostContact => &[(Action::AddRecords, false)],
            Route::PostCampaign => &[(Action::EditCampaign, false)],
            Route::PatchCampaignSpend => &[(Action::SetSpend, false)],
            Route::PutGoal => &[(Action::SetGoal, false)],
            Route::PostUser => &[(Action::ManageUsers, false)],
            Route::PostWebhook => &[(Action::ManageWebhooks, false)],
            Route::GetAudit => &[(Action::ReadAudit, false)],
            Route::ExportPerson | Route::ErasePerson => &[(Action::HandlePersonalData, false)],
            Route::RoiReport | Route::GoalReport => &[(Action::ReadRevenue, false)],
        }
    }
}

/// What the table says the answer is: `None` allowed, else the status of
/// the refusal.
fn expected(profile: Profile, route: Route, relation: Relation) -> Option<u16> {
    for (action, hides) in route.actions() {
        if !permits(profile, *action, relation) {
            return Some(if *hides { 404 } else { 403 });
        }
    }
    None
}

/// A fresh object of the route for an owner, and the request to send:
/// method, path and body. `None` when no such object can exist (a
/// handoff assigned to a marketer).
async fn request(
    api: &TestApi,
    route: Route,
    owner: Option<&User>,
    n: usize,
) -> Option<(&'static str, String, Option<Value>)> {
    let app = &api.app;
    let system = Actor::system();
    let owner_id = owner.map(|u| u.id);
    let contact = |owner_id: Option<i64>| ContactInput {
        email: format!("m{n}@prospect.io"),
        owner_id,
        ..Default::default()
    };
    Some(match route {
        Route::PatchContact => {
            let c = app
                .create_contact(contact(owner_id), &system)
                .await
                .unwrap();
            (
                "PATCH",
                format!("/api/v1/contacts/{}", c.id),
                Some(json!({"job_title": "CFO"})),
            )
        }
        Route::PatchAccount => {
            let a = app
                .create_account(
                    AccountInput {
                        name: format!("Account {n}"),
                        owner_id,
                        ..Default::default()
                    },
                    &system,
                )
                .await
                .unwrap();
            (
                "PATCH",
                format!("/api/v1/accounts/{}", a.id),
                Some(json!({"industry": "Retail"})),
            )
        }
        // Every route about a deal: one deal of the owner's.
        Route::GetNoteOnDeal
        | Route::ListActivitiesOnDeal
        | Route::GetDeal
        | Route::PatchDeal
        | Route::ListDeals => {
            let d = app
                .create_deal(
                    DealInput {
                        name: format!("Deal {n}"),
                        owner_id,
                        amount_minor: 10_000,
                        ..Default::default()
                    },
                    &system,
                )
                .await
                .unwrap();
            match route {
                Route::GetDeal => ("GET", format!("/api/v1/deals/{}", d.id), None),
                Route::PatchDeal => (
                    "PATCH",
                    format!("/api/v1/deals/{}", d.id),
                    Some(json!({"amount_minor": 20_000})),
                ),
                Route::ListDeals => (
                    "GET",
                    format!("/api/v1/deals?owner_id={}", owner_id.unwrap()),
                    None,
                ),
                Route::ListActivitiesOnDeal => {
                    ("GET", format!("/api/v1/activities?deal_id={}", d.id), None)
                }
                _ => {
                    let c = app.create_contact(contact(None), &system).await.unwrap();
                    let note = app
                        .create_note(
                            NoteInput {
                                contact_id: Some(c.id),
                                deal_id: Some(d.id),
                                body: "the amount is 10,000".into(),
                                ..Default::default()
                            },
                            &system,
                        )
                        .await
                        .unwrap();
                    ("GET", format!("/api/v1/notes/{}", note.id), None)
                }
            }
        }
        Route::PatchNote => {
            let c = app.create_contact(contact(None), &system).await.unwrap();
            let note = app
                .create_note(
                    NoteInput {
                        contact_id: Some(c.id),
                        body: "first".into(),
                        ..Default::default()
                    },
                    &system,
                )
                .await
                .unwrap();
            set_column(api, "notes", "author_id", owner_id.unwrap(), note.id).await;
            (
                "PATCH",
                format!("/api/v1/notes/{}", note.id),
                Some(json!({"body": "second"})),
            )
        }
        Route::PatchActivity => {
            let c = app.create_contact(contact(None), &system).await.unwrap();
            let a = app
                .create_activity(
                    smarketing_app::input::ActivityInput {
                        contact_id: c.id,
                        kind: "call".into(),
                        ..Default::default()
                    },
                    &system,
                )
                .await
                .unwrap();
            set_column(api, "activities", "user_id", owner_id.unwrap(), a.id).await;
            (
                "PATCH",
                format!("/api/v1/activities/{}", a.id),
                Some(json!({"subject": "Call back"})),
            )
        }
        // Only sellers have routing settings and handoffs.
        Route::PutRepSettings if !is_seller(owner) => return None,
        Route::PutRepSettings => (
            "PUT",
            format!("/api/v1/users/{}/rep-settings", owner_id.unwrap()),
            Some(json!({"weight": 2})),
        ),
        Route::PostAbsence => (
            "POST",
            format!("/api/v1/users/{}/out-of-office", owner_id.unwrap()),
            Some(
                json!({"starts_at": format!("2025-07-{:02}T00:00:00Z", 1 + n % 20), "ends_at": format!("2025-07-{:02}T23:00:00Z", 1 + n % 20)}),
            ),
        ),
        Route::AcceptHandoff => {
            let owner = owner.unwrap();
            if owner.team != smarketing_core::Team::Sales
                || owner.role == smarketing_core::Role::Viewer
            {
                return None;
            }
            let (_, handoff) = hand_raiser(app, &format!("h{n}@prospect.io")).await;
            app.reassign_handoff(
                handoff,
                smarketing_app::handoffs::ReassignInput {
                    user_id: owner.id,
                    reason: "matrix".into(),
                },
                &system,
            )
            .await
            .unwrap();
            (
                "POST",
                format!("/api/v1/handoffs/{handoff}/accept"),
                Some(json!({})),
            )
        }
        Route::PostContact => (
            "POST",
            "/api/v1/contacts".into(),
            Some(json!({"email": format!("new{n}@prospect.io")})),
        ),
        Route::PostCampaign => (
            "POST",
            "/api/v1/campaigns".into(),
            Some(
                json!({"name": format!("Campaign {n}"), "channel": "paid_search", "started_at": "2025-05-01T00:00:00Z"}),
            ),
        ),
        Route::PatchCampaignSpend => {
            let c = app
                .create_campaign(
                    serde_json::from_value(json!({"name": format!("Spend {n}"), "channel": "paid_search", "started_at": "2025-05-01T00:00:00Z"})).unwrap(),
                    &system,
                )
                .await
                .unwrap();
            (
                "PATCH",
                format!("/api/v1/campaigns/{}", c.id),
                Some(json!({"spend_minor": 5_000})),
            )
        }
        Route::PutGoal => (
            "PUT",
            "/api/v1/goals/2026-Q1".into(),
            Some(json!({"revenue_minor": 100_000_000})),
        ),
        Route::PostUser => (
            "POST",
            "/api/v1/users".into(),
            Some(
                json!({"name": format!("New {n}"), "email": format!("new{n}@matrix.io"), "team": "sales", "role": "member"}),
            ),
        ),
        Route::PostWebhook => (
            "POST",
            "/api/v1/webhooks".into(),
            Some(json!({"url": "https://93.184.215.14/hook"})),
        ),
        Route::GetAudit => ("GET", "/api/v1/audit?limit=5".into(), None),
        Route::ExportPerson | Route::ErasePerson => {
            let c = app.create_contact(contact(None), &system).await.unwrap();
            if matches!(route, Route::ExportPerson) {
                ("GET", format!("/api/v1/contacts/{}/export", c.id), None)
            } else {
                ("POST", format!("/api/v1/contacts/{}/erasure", c.id), None)
            }
        }
        Route::RoiReport => ("GET", "/api/v1/reports/channel-roi".into(), None),
        Route::GoalReport => ("GET", "/api/v1/reports/goals?period=2026-Q1".into(), None),
    })
}

fn is_seller(u: Option<&User>) -> bool {
    u.is_some_and(|u| {
        u.team == smarketing_core::Team::Sales
            && matches!(
                u.role,
                smarketing_core::Role::Manager | smarketing_core::Role::Member
            )
    })
}

async fn set_column(api: &TestApi, table: &str, column: &str, value: i64, id: i64) {
    let mut conn = api.app.store().acquire().await.unwrap();
    sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2"))
        .bind(value)
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// A demo request: its contact and handoff.
async fn hand_raiser(app: &App, email: &str) -> (i64, i64) {
    let out = app
        .record_touchpoints(
            vec![smarketing_app::input::TouchpointInput {
                email: Some(email.into()),
                kind: Some("demo_request".into()),
                ..Default::default()
            }],
            &Actor::system(),
        )
        .await
        .unwrap();
    (
        out[0].touchpoint.contact_id.unwrap(),
        out[0].handoff_id.expect("a hand-raiser opens a handoff"),
    )
}

#[tokio::test]
async fn every_profile_on_every_route_and_scope_gets_what_the_table_says() {
    for api in apis().await {
        let l = api.label();
        let people = people(&api.app).await;
        let mut cells = 0;
        let mut routes = 0;
        let mut wrong = Vec::new();
        let mut leaks = 0;
        let mut n = 0;
        for route in Route::ALL {
            routes += 1;
            for (profile, caller, token) in &people.by_profile {
                for scope in route.scopes() {
                    n += 1;
                    let owner = people.owner(caller, *scope);
                    let Some((method, path, body)) = request(&api, route, owner, n).await else {
                        continue;
                    };
                    cells += 1;
                    let (status, _, answer) = api
                        .call_as(
                            Some(token),
                            method,
                            &path,
                            body.map(|b| ("application/json", b.to_string())),
                        )
                        .await;
                    let want = expected(*profile, route, relation(caller, *scope));
                    let got = match status.as_u16() {
                        403 => Some(403),
                        // A list shows another's deals as none at all.
                        200 if matches!(route, Route::ListDeals)
                            && answer["items"].as_array().is_some_and(Vec::is_empty) =>
                        {
                            Some(404)
                        }
                        404 if route.actions().iter().any(|(_, hides)| *hides) => Some(404),
                        _ => None,
                    };
                    // Every other answer must be the route doing its work.
                    let fine = got == want && (got.is_some() || status.is_success());
                    if want.is_some() && got.is_none() {
                        leaks += 1;
                    }
                    if !fine {
                        wrong.push(format!(
                            "{profile:?} {route:?} {scope:?}: table says {want:?}, {method} {path} answered {status} {answer}"
                        ));
                    }
                }
            }
        }
        println!(
            "{l}: permission matrix of {} profiles x {routes} routes x their scopes = {cells} cells; {leaks} leaks, {} answers unlike the table",
            people.by_profile.len(),
            wrong.len()
        );
        assert!(
            wrong.is_empty(),
            "{l}: {} cells unlike the table:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}
