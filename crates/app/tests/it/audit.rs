//! The audit log: changes by hand are appended with who, when, from where,
//! before and after, in the change's own transaction; the log refuses
//! updates and deletes; only admins read it.

use crate::apps;
use serde_json::{Value, json};
use smarketing_app::input::{AccountInput, UserInput};
use smarketing_app::people::NewToken;
use smarketing_app::{Actor, AppError};
use smarketing_core::TokenScope;

#[tokio::test]
async fn changes_are_logged_with_who_where_before_and_after_and_the_log_cannot_be_rewritten() {
    for (db, app) in apps().await {
        let l = db.label;
        let sys = Actor::system();
        let lead = app
            .create_user(
                UserInput {
                    name: "Sam".into(),
                    email: "sam@example.com".into(),
                    team: "sales".into(),
                    role: "manager".into(),
                },
                &sys,
            )
            .await
            .unwrap();
        let rep = app
            .create_user(
                UserInput {
                    name: "Rob".into(),
                    email: "rob@example.com".into(),
                    team: "sales".into(),
                    role: "member".into(),
                },
                &sys,
            )
            .await
            .unwrap();
        let from: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        let sam = Actor::user(&lead).from_address(Some(from));
        let account = app
            .create_account(
                AccountInput {
                    name: "Acme".into(),
                    ..Default::default()
                },
                &sam,
            )
            .await
            .unwrap();
        app.update_account(
            account.id,
            serde_json::from_value(json!({"owner_id": rep.id})).unwrap(),
            &sam,
        )
        .await
        .unwrap();
        let token = app
            .issue_token(
                rep.id,
                NewToken {
                    name: "laptop".into(),
                    scope: TokenScope::Read,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        let listed = app.tokens(rep.id).await.unwrap();
        app.revoke_token(listed[0].id).await.unwrap();
        assert!(
            app.authenticate(&token, Some(from))
                .await
                .unwrap()
                .is_none()
        );

        let log = app.audit_log(None, 100, &sys).await.unwrap();
        let actions: Vec<&str> = log.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "user.create",
                "user.create",
                "account.update",
                "token.issue",
                "token.revoke",
                "auth.failed"
            ],
            "{l}"
        );
        let owner_change = log.iter().find(|e| e.action == "account.update").unwrap();
        assert_eq!(owner_change.actor, format!("user:{}", lead.id), "{l}");
        assert_eq!(owner_change.address.as_deref(), Some("203.0.113.9"), "{l}");
        assert_eq!(owner_change.object_id, account.id.to_string(), "{l}");
        let before: Value = serde_json::from_str(owner_change.before.as_deref().unwrap()).unwrap();
        let after: Value = serde_json::from_str(owner_change.after.as_deref().unwrap()).unwrap();
        assert_eq!(
            (before["owner_id"].clone(), after["owner_id"].clone()),
            (Value::Null, json!(rep.id)),
            "{l}"
        );
        let failed = log.iter().find(|e| e.action == "auth.failed").unwrap();
        assert_eq!(failed.address.as_deref(), Some("203.0.113.9"), "{l}");
        let issued = log.iter().find(|e| e.action == "token.issue").unwrap();
        assert!(
            !issued.after.as_deref().unwrap().contains(&token),
            "{l}: the token itself is never logged"
        );

        // Only admins read it.
        assert!(matches!(
            app.audit_log(None, 10, &Actor::user(&lead)).await,
            Err(AppError::Forbidden(_))
        ));
        // The database refuses to rewrite it.
        let mut conn = app.store().acquire().await.unwrap();
        for sql in [
            "UPDATE audit_log SET actor = 'nobody'",
            "DELETE FROM audit_log",
        ] {
            let r = sqlx::query(sql).execute(&mut *conn).await;
            assert!(r.is_err(), "{l}: {sql} must be refused");
        }
        drop(conn);
        assert_eq!(
            app.audit_log(None, 100, &sys).await.unwrap().len(),
            6,
            "{l}"
        );
    }
}
