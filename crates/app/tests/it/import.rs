//! The sample company imports cleanly and idempotently; the dirty sample's
//! defects are each reported and nothing is half-written.

use crate::{apps, testdata};
use smarketing_app::import::{ImportError, ImportKind, ImportOptions, Quiet};
use smarketing_store::{Where, repo};
use std::collections::BTreeMap;

async fn counts(app: &smarketing_app::App) -> BTreeMap<&'static str, i64> {
    let mut conn = app.store().acquire().await.unwrap();
    let mut out = BTreeMap::new();
    for t in [
        "accounts",
        "campaigns",
        "contacts",
        "touchpoints",
        "stage_changes",
        "deals",
    ] {
        out.insert(t, repo::count(&mut conn, t, &Where::new()).await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_sample_imports_cleanly_and_twice_changes_nothing() {
    for (db, app) in apps().await {
        let reports = app
            .import_dir(&testdata("sample"), ImportOptions::default(), &Quiet)
            .await
            .unwrap();
        assert!(
            reports.iter().all(|r| r.rejected.is_empty()),
            "{}",
            db.label
        );
        let first = counts(&app).await;
        let expected = BTreeMap::from([
            ("accounts", 1000),
            ("campaigns", 282),
            ("contacts", 3000),
            ("touchpoints", 31962),
            ("stage_changes", 4899),
            ("deals", 326),
        ]);
        assert_eq!(first, expected, "{}", db.label);
        let contact_before = app.contact(1).await.unwrap();
        app.import_dir(&testdata("sample"), ImportOptions::default(), &Quiet)
            .await
            .unwrap();
        assert_eq!(
            counts(&app).await,
            expected,
            "{}: a second import must change nothing",
            db.label
        );
        assert_eq!(
            app.contact(1).await.unwrap(),
            contact_before,
            "{}",
            db.label
        );

        // The won revenue reconciles to the unit with the sample's README.
        let mut conn = app.store().acquire().await.unwrap();
        let won: Vec<smarketing_store::Deal> = repo::fetch(
            &mut conn,
            &format!(
                "SELECT {} FROM deals WHERE status = 'won'",
                <smarketing_store::Deal as smarketing_store::records::FromRow>::columns()
            ),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(won.len(), 127);
        assert_eq!(
            won.iter().map(|d| d.amount_minor).sum::<i64>(),
            5_780_812 * 100,
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn the_dirty_sample_reports_every_defect_and_writes_nothing() {
    for (db, app) in apps().await {
        let err = app
            .import_dir(&testdata("sample-dirty"), ImportOptions::default(), &Quiet)
            .await
            .unwrap_err();
        let ImportError::InvalidRows { rejected } = err else {
            panic!("{}: {err}", db.label)
        };
        assert_eq!(
            counts(&app).await.values().sum::<i64>(),
            0,
            "{}: nothing may be written",
            db.label
        );

        // Every invalid defect of dirt.csv is reported at its own line and column.
        let mut dirt = csv::Reader::from_path(testdata("sample-dirty/dirt.csv")).unwrap();
        let mut expected = 0;
        for row in dirt.records() {
            let row = row.unwrap();
            let (file, id, column, problem) = (&row[0], &row[1], &row[2], &row[3]);
            if matches!(problem, "blank_optional" | "email_mixed_case") {
                continue;
            }
            if problem == "duplicate_email" && column != "email" {
                continue;
            }
            expected += 1;
            // Ids are dense and files sorted by them, so row id n is on line n + 1.
            let line: u64 = id.parse::<u64>().unwrap() + 1;
            let want_col = if problem == "unknown_contact" {
                "contact_id"
            } else {
                column
            };
            assert!(
                rejected
                    .iter()
                    .any(|e| e.file.ends_with(&format!("{file}.csv"))
                        && e.line == line
                        && e.column.as_deref() == Some(want_col)),
                "{}: {problem} at {file}:{line} column {want_col} was not reported",
                db.label
            );
        }
        assert_eq!(expected, 7 + 3 + 4 + 4 + 2);
    }
}

#[tokio::test]
async fn skip_invalid_imports_the_rest_and_lists_the_rejected() {
    for (db, app) in apps().await {
        let reports = app
            .import_dir(
                &testdata("sample-dirty"),
                ImportOptions {
                    skip_invalid: true,
                    ..Default::default()
                },
                &Quiet,
            )
            .await
            .unwrap();
        let contacts = reports
            .iter()
            .find(|r| r.kind == ImportKind::Contacts)
            .unwrap();
        // 4 invalid e-mails, 3 duplicates and 3 bad created_at values.
        assert_eq!(
            contacts.rejected.len(),
            10,
            "{}: {:?}",
            db.label,
            contacts.rejected
        );
        let c = counts(&app).await;
        assert_eq!(c["contacts"], 490, "{}", db.label);
        // Mixed-case e-mails were accepted, lower-cased.
        let mut conn = app.store().acquire().await.unwrap();
        let mixed = repo::fetch::<smarketing_store::Contact>(
            &mut conn,
            &format!(
                "SELECT {} FROM contacts WHERE email <> LOWER(email)",
                <smarketing_store::Contact as smarketing_store::records::FromRow>::columns()
            ),
            &[],
        )
        .await
        .unwrap();
        assert!(mixed.is_empty());
    }
}

#[tokio::test]
async fn a_hubspot_contact_export_maps_onto_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hubspot.csv");
    std::fs::write(
        &file,
        "Record ID,First Name,Last Name,Email,Lifecycle Stage,Create Date,Original Source,Job Title\n\
         101,Ana,Ruiz,Ana.Ruiz@Example.com,Marketing Qualified Lead,2024-03-05 14:22,Organic Search,VP of Marketing\n\
         102,Ben,Okafor,ben@example.org,customer,2024-01-02,Direct Traffic,CEO\n\
         103,Cy,Lee,not-an-email,lead,2024-01-02,Direct Traffic,\n",
    )
    .unwrap();
    for (db, app) in apps().await {
        let err = app
            .import_file(
                ImportKind::Contacts,
                &file,
                ImportOptions::default(),
                &Quiet,
            )
            .await
            .unwrap_err();
        let ImportError::InvalidRows { rejected } = err else {
            panic!("{err}")
        };
        assert_eq!(
            (rejected[0].line, rejected[0].column.as_deref()),
            (4, Some("Email")),
            "{}",
            db.label
        );
        app.import_file(
            ImportKind::Contacts,
            &file,
            ImportOptions {
                skip_invalid: true,
                ..Default::default()
            },
            &Quiet,
        )
        .await
        .unwrap();
        let page = app
            .contacts(&Default::default(), &Default::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        let ana = &page.items[0];
        assert_eq!(ana.email, "ana.ruiz@example.com");
        assert_eq!(ana.stage, smarketing_core::Stage::Mql);
        assert_eq!(ana.source_channel.as_deref(), Some("organic_search"));
        assert_eq!(ana.persona.as_deref(), Some("marketing_leader"));
        assert_eq!(ana.created_at.to_string(), "2024-03-05T14:22:00Z");
        assert_eq!(page.items[1].stage, smarketing_core::Stage::Customer);
    }
}

#[tokio::test]
async fn a_file_with_a_missing_column_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    std::fs::write(&file, "account_id,name,industry\n1,Acme,software\n").unwrap();
    for (_db, app) in apps().await {
        let err = app
            .import_file(
                ImportKind::Accounts,
                &file,
                ImportOptions::default(),
                &Quiet,
            )
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 1") && text.contains("domain"), "{text}");
    }
}

#[tokio::test]
async fn every_sample_job_title_gets_the_sample_persona() {
    // The default playbook's persona rules agree with the sample's own labels.
    let playbook = smarketing_core::Playbook::default_playbook();
    let mut rdr = csv::Reader::from_path(testdata("sample/contacts.csv")).unwrap();
    for row in rdr.records() {
        let row = row.unwrap();
        let profile = smarketing_core::playbook::Profile {
            job_title: Some(row[5].to_string()),
            ..Default::default()
        };
        assert_eq!(
            playbook.match_persona(&profile),
            Some(&row[6]),
            "job title {:?}",
            &row[5]
        );
    }
}

#[tokio::test]
async fn each_kind_of_bad_cell_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
    w(
        "accounts.csv",
        "account_id,name,domain,industry,company_size,region\n1,Acme,acme.io,software,smb,EMEA\n1,Acme again,acme2.io,software,smb,EMEA\n2,Other,acme.io,,smb,NA\n3,Bad size,bad.io,,huge,NA\n",
    );
    w(
        "campaigns.csv",
        "campaign_id,name,channel,started_at,ended_at,spend\n10,Launch,email,2024-01-01,2024-01-31T23:59:59Z,100\n11,Other,email,2024-01-01T00:00:00Z,2024-01-31T23:59:59Z,-5\n",
    );
    w(
        "contacts.csv",
        "contact_id,account_id,email,first_name,last_name,job_title,persona,company_size,region,source,created_at,current_stage\n1,1,a@acme.io,A,B,CEO,executive,smb,EMEA,email,2024-01-02T00:00:00Z,won\n2,1,b@acme.io,A,B,CEO,wizard,smb,EMEA,email,2024-01-02T00:00:00Z,lead\n",
    );
    w(
        "stage_changes.csv",
        "contact_id,from_stage,to_stage,changed_at,touchpoint_id\n1,,lead,2024-01-02T00:00:00Z,\n1,lead,prospect,2024-01-03T00:00:00Z,\n",
    );
    w(
        "deals.csv",
        "deal_id,contact_id,created_at,closed_at,status,amount\n1,1,2024-02-01T00:00:00Z,,open,-100\n2,1,2024-02-01T00:00:00Z,,won,100\n",
    );
    for (db, app) in apps().await {
        let err = app
            .import_dir(dir.path(), ImportOptions::default(), &Quiet)
            .await
            .unwrap_err();
        let ImportError::InvalidRows { rejected } = err else {
            panic!("{}: {err}", db.label)
        };
        let got: Vec<(String, u64, String)> = rejected
            .iter()
            .map(|e| {
                (
                    std::path::Path::new(&e.file)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    e.line,
                    e.column.clone().unwrap_or_default(),
                )
            })
            .collect();
        let want = [
            ("accounts.csv", 3, "account_id"),      // duplicate key
            ("accounts.csv", 4, "domain"),          // duplicate domain
            ("accounts.csv", 5, "company_size"),    // unknown code
            ("campaigns.csv", 2, "started_at"),     // date that does not parse
            ("campaigns.csv", 3, "spend"),          // negative amount
            ("contacts.csv", 2, "current_stage"),   // unknown stage name
            ("contacts.csv", 3, "persona"),         // unknown persona
            ("stage_changes.csv", 2, "contact_id"), // its contact was rejected
            ("stage_changes.csv", 3, "contact_id"),
            ("deals.csv", 2, "contact_id"),
            ("deals.csv", 3, "contact_id"),
        ];
        let want: Vec<(String, u64, String)> = want
            .iter()
            .map(|(f, l, c)| (f.to_string(), *l, c.to_string()))
            .collect();
        assert_eq!(got, want, "{}", db.label);
        assert!(
            rejected
                .iter()
                .any(|e| e.message.contains("account_id 1 already appears on line 2"))
        );
        assert_eq!(counts(&app).await.values().sum::<i64>(), 0);
    }
}

#[tokio::test]
async fn stage_names_and_amounts_are_checked_in_their_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
    w(
        "accounts.csv",
        "account_id,name,domain,industry,company_size,region\n1,Acme,acme.io,software,smb,EMEA\n",
    );
    w(
        "contacts.csv",
        "contact_id,account_id,email,first_name,last_name,job_title,persona,company_size,region,source,created_at,current_stage\n1,1,a@acme.io,A,B,CEO,executive,smb,EMEA,email,2024-01-02T00:00:00Z,mql\n",
    );
    w(
        "stage_changes.csv",
        "contact_id,from_stage,to_stage,changed_at,touchpoint_id\n1,,lead,2024-01-02T00:00:00Z,\n1,lead,prospect,2024-01-03T00:00:00Z,\n1,mql,lead,2024-01-04T00:00:00Z,\n",
    );
    w(
        "deals.csv",
        "deal_id,contact_id,created_at,closed_at,status,amount\n1,1,2024-02-01T00:00:00Z,,open,-100\n2,1,2024-02-01T00:00:00Z,,won,100\n3,1,2024-02-01T00:00:00Z,2024-03-01T00:00:00Z,won,100\n",
    );
    for (db, app) in apps().await {
        let err = app
            .import_dir(dir.path(), ImportOptions::default(), &Quiet)
            .await
            .unwrap_err();
        let ImportError::InvalidRows { rejected } = err else {
            panic!("{}: {err}", db.label)
        };
        let got: Vec<(u64, &str, &str)> = rejected
            .iter()
            .map(|e| {
                (
                    e.line,
                    e.column.as_deref().unwrap_or(""),
                    e.message.as_str(),
                )
            })
            .collect();
        assert_eq!(got.len(), 4, "{}: {got:?}", db.label);
        assert_eq!((got[0].0, got[0].1), (3, "to_stage"), "{got:?}");
        assert!(got[0].2.contains("\"prospect\" is not a lifecycle stage"));
        assert_eq!(
            (got[1].0, got[1].1),
            (4, "to_stage"),
            "backwards without recycling: {got:?}"
        );
        assert_eq!((got[2].0, got[2].1), (2, "amount"), "{got:?}");
        assert_eq!((got[3].0, got[3].1), (3, "closed_at"), "{got:?}");
    }
}

/// A HubSpot migration: `Company Name` becomes an account (found by the
/// company's domain or name), `Contact owner` a user by e-mail, HubSpot's
/// own date format is read, and the "Became a … Date" columns become the
/// stage history, so imported contacts count in funnels. A dry run writes
/// nothing; MQLs open a handoff only when asked.
#[tokio::test]
async fn a_hubspot_migration_keeps_company_owner_and_stage_history() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hubspot.csv");
    std::fs::write(
        &file,
        "Record ID,First Name,Email,Company Name,Contact owner,Lifecycle Stage,Create Date,Became a Lead Date,Became a Marketing Qualified Lead Date,Became a Customer Date\n\
         201,Ana,ana@acme-corp.io,Acme Corp,sam@team.io,customer,03/07/2024 11:15,03/07/2024 11:15,03/09/2024 08:00,05/02/2024 16:40\n\
         202,Ben,ben@gmail.com,acme corp,,Marketing Qualified Lead,03/08/2024 10:00,03/08/2024 10:00,03/10/2024 09:30,\n\
         203,Cy,cy@globex.io,Globex,nobody@team.io,lead,2024-03-09 12:00,2024-03-09 12:00,,\n",
    )
    .unwrap();
    for (db, app) in apps().await {
        let l = db.label;
        let sam = crate::user(&app, "Sam", "sales", "member").await;
        // Cy's owner is no user: the row is named, the rest imports.
        let err = app
            .import_file(
                ImportKind::Contacts,
                &file,
                ImportOptions::default(),
                &Quiet,
            )
            .await
            .unwrap_err();
        let ImportError::InvalidRows { rejected } = err else {
            panic!("{err}")
        };
        assert_eq!(
            (rejected[0].line, rejected[0].column.as_deref()),
            (4, Some("Contact owner")),
            "{l}"
        );
        let dry = ImportOptions {
            skip_invalid: true,
            dry_run: true,
            open_handoffs: true,
        };
        let reports = app
            .import_file(ImportKind::Contacts, &file, dry, &Quiet)
            .await
            .unwrap();
        assert_eq!(reports.rejected.len(), 1, "{l}");
        let nothing = app
            .contacts(&Default::default(), &Default::default())
            .await
            .unwrap();
        assert!(nothing.items.is_empty(), "{l}: a dry run wrote contacts");
        let real = ImportOptions {
            dry_run: false,
            ..dry
        };
        app.import_file(ImportKind::Contacts, &file, real, &Quiet)
            .await
            .unwrap();
        let mut conn = db.store.acquire().await.unwrap();
        let ana = smarketing_store::repo::contact_by_email(&mut conn, "ana@acme-corp.io")
            .await
            .unwrap()
            .unwrap();
        let ben = smarketing_store::repo::contact_by_email(&mut conn, "ben@gmail.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ana.owner_id, Some(sam.id), "{l}");
        assert!(ana.account_id.is_some(), "{l}");
        assert_eq!(ben.account_id, ana.account_id, "{l}: one company by name");
        assert_eq!(ana.created_at.to_string(), "2024-03-07T11:15:00Z", "{l}");
        let history: Vec<(Option<String>, String, String)> =
            smarketing_store::repo::stage_changes_of_contact(&mut conn, ana.id)
                .await
                .unwrap()
                .into_iter()
                .map(|s| {
                    (
                        s.from_stage.map(|f| f.to_string()),
                        s.to_stage.to_string(),
                        s.changed_at.to_string(),
                    )
                })
                .collect();
        assert_eq!(
            history,
            [
                (None, "lead".into(), "2024-03-07T11:15:00Z".into()),
                (
                    Some("lead".into()),
                    "mql".into(),
                    "2024-03-09T08:00:00Z".into()
                ),
                (
                    Some("mql".into()),
                    "customer".into(),
                    "2024-05-02T16:40:00Z".into()
                ),
            ],
            "{l}"
        );
        drop(conn);
        // Ben, an MQL, got a handoff because it was asked for; Ana did not.
        let handoffs = app
            .handoffs(&Default::default(), &Default::default())
            .await
            .unwrap();
        let of: Vec<i64> = handoffs
            .items
            .iter()
            .map(|v| v.handoff.contact_id)
            .collect();
        assert_eq!(of, [ben.id], "{l}");
        // Imported again: nothing new.
        app.import_file(ImportKind::Contacts, &file, real, &Quiet)
            .await
            .unwrap();
        let mut conn = db.store.acquire().await.unwrap();
        assert_eq!(
            smarketing_store::repo::stage_changes_of_contact(&mut conn, ana.id)
                .await
                .unwrap()
                .len(),
            3,
            "{l}"
        );
    }
}

/// Names planted as spreadsheet formulas (through a public identify, say)
/// are exported as text — a leading apostrophe — and import back as they
/// were.
#[tokio::test]
async fn exported_formulas_are_neutralised_and_import_back_as_they_were() {
    for (db, app) in apps().await {
        let l = db.label;
        let planted = smarketing_app::input::ContactInput {
            email: "planted@example.com".into(),
            first_name: Some("=HYPERLINK(\"http://evil.example\",\"x\")".into()),
            last_name: Some("-2+3".into()),
            job_title: Some("@SUM(A1:A9)".into()),
            source_channel: Some("organic_search".into()),
            ..Default::default()
        };
        app.create_contact(planted.clone(), &smarketing_app::Actor::system())
            .await
            .unwrap();
        let mut out = Vec::new();
        app.export(
            ImportKind::Contacts,
            smarketing_app::export::ExportFormat::Csv,
            &mut out,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let cells: Vec<String> = rows
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect();
        for c in &cells {
            assert!(
                !(c.starts_with(['=', '+', '@'])
                    || c.starts_with('-') && c.parse::<f64>().is_err()),
                "{l}: {c:?} would run as a formula\n{text}"
            );
        }
        assert!(text.contains("'=HYPERLINK"), "{l}: {text}");
        // Into a fresh database: the names come back as they were.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("contacts.csv");
        std::fs::write(&file, &text).unwrap();
        // (its TestDb is kept: dropping it drops the database)
        let (_fresh_db, fresh) = crate::apps()
            .await
            .into_iter()
            .find(|(d, _)| d.label == l)
            .unwrap();
        let report = fresh
            .import_file(
                ImportKind::Contacts,
                &file,
                ImportOptions::default(),
                &Quiet,
            )
            .await
            .unwrap();
        assert!(report.rejected.is_empty(), "{l}: {:?}", report.rejected);
        let mut conn = fresh.store().acquire().await.unwrap();
        let back = repo::contact_by_email(&mut conn, "planted@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (back.first_name, back.last_name, back.job_title),
            (planted.first_name, planted.last_name, planted.job_title),
            "{l}"
        );
    }
}
