//! Opening, migrating and backing up databases (per backend, not through the ports).

use pricetrack_domain::{Currency, Instrument, InstrumentKind, ProviderName, Symbol};
use pricetrack_storage::{ConnectError, DatabaseTarget, backup_sqlite, migrate, open, testing};

fn aapl() -> Instrument {
    Instrument::new(
        Symbol::parse("AAPL").unwrap(),
        "Apple".into(),
        InstrumentKind::Stock,
        Currency::USD,
        None,
        ProviderName::manual(),
        None,
    )
    .unwrap()
}

async fn migrations_apply_once(db: &testing::TestDatabase) {
    let first = migrate(&db.target).await.unwrap();
    assert_eq!(
        first,
        [
            "0001_initial",
            "0002_ui",
            "0003_market_data",
            "0004_portfolio_settings",
            "0005_listing_date"
        ]
    );
    assert!(migrate(&db.target).await.unwrap().is_empty());
    // open() finds nothing left to do and the schema works.
    let store = db.open().await;
    store.create_instrument(&aapl()).await.unwrap();
}

#[tokio::test]
async fn sqlite_migrations_apply_once_and_are_recorded() {
    migrations_apply_once(&testing::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_migrations_apply_once_and_are_recorded() {
    let Some(db) = testing::fresh_postgres().await else {
        return;
    };
    migrations_apply_once(&db).await;
}

#[tokio::test]
async fn opening_sqlite_creates_the_directory_and_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let target = DatabaseTarget::parse(None, &dir.path().join("nested/data")).unwrap();
    {
        let store = open(&target).await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        store.create_instrument(&aapl()).await.unwrap();
    }
    assert!(dir.path().join("nested/data/pricetrack.db").exists());
    let store = open(&target).await.unwrap();
    assert_eq!(
        store.get_instrument(&aapl().symbol).await.unwrap(),
        Some(aapl())
    );
}

#[tokio::test]
async fn sqlite_backup_is_a_consistent_openable_copy_and_never_overwrites() {
    let db = testing::fresh_sqlite().await;
    let store = db.open().await;
    store.create_instrument(&aapl()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backups/pricetrack-backup.db");
    backup_sqlite(&db.target, &dest).await.unwrap();
    let copy = open(&DatabaseTarget::Sqlite(dest.clone())).await.unwrap();
    assert_eq!(
        copy.get_instrument(&aapl().symbol).await.unwrap(),
        Some(aapl())
    );
    let err = backup_sqlite(&db.target, &dest).await.unwrap_err();
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
}

#[tokio::test]
async fn backup_is_refused_for_postgres_with_a_clear_error() {
    let target = DatabaseTarget::Postgres("postgres://u:secret@localhost/db".into());
    let err = backup_sqlite(&target, std::path::Path::new("/tmp/x.db"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::BackupUnsupported { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("only available for SQLite") && msg.contains("pg_dump"),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "{msg}");
}

#[tokio::test]
async fn an_unreachable_postgres_fails_to_open_with_the_reason_and_no_password() {
    // Port 1 on loopback: nothing listens there.
    let target = DatabaseTarget::Postgres("postgres://u:secret@127.0.0.1:1/db".into());
    let err = match open(&target).await {
        Ok(_) => panic!("opened a database on port 1"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(matches!(err, ConnectError::Postgres { .. }), "{msg}");
    assert!(
        msg.contains("connecting") && !msg.contains("secret"),
        "{msg}"
    );
}
