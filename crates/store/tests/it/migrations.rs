//! Both backends have the same migrations, and the schema they make agrees.

use smarketing_store::{Backend, migration_names, testing};

#[test]
fn every_migration_exists_for_both_backends() {
    let sqlite = migration_names(Backend::Sqlite);
    let postgres = migration_names(Backend::Postgres);
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same files"
    );
    let dir = |b| {
        std::fs::read_dir(format!("{}/migrations/{b}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(dir("sqlite"), dir("postgres"));
}

#[tokio::test]
async fn every_foreign_key_has_an_index() {
    use sqlx::Row;
    let db = testing::sqlite().await;
    let pool = db.store.pool();
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_sqlx%' AND name NOT LIKE 'sqlite_%'")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    for t in tables {
        let fks = sqlx::query(&format!(
            "SELECT \"from\" FROM pragma_foreign_key_list('{t}')"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        for fk in fks {
            let col: String = fk.get(0);
            let leading = sqlx::query(&format!(
                "SELECT 1 FROM pragma_index_list('{t}') il JOIN pragma_index_info(il.name) ii WHERE ii.seqno = 0 AND ii.name = '{col}'"
            ))
            .fetch_optional(pool)
            .await
            .unwrap();
            // An INTEGER PRIMARY KEY is the rowid: indexed without an index entry.
            let rowid = sqlx::query(&format!("SELECT 1 FROM pragma_table_info('{t}') WHERE name = '{col}' AND pk = 1 AND type = 'INTEGER'"))
                .fetch_optional(pool)
                .await
                .unwrap();
            assert!(
                leading.is_some() || rowid.is_some(),
                "{t}.{col} references another table but no index starts with it"
            );
        }
    }
}
