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

/// An AAPL bar at `time` (epoch seconds): open and close `close`, high and low ±1.
fn aapl_bar(
    interval: pricetrack_domain::Interval,
    time: i64,
    close: f64,
    volume: f64,
) -> pricetrack_domain::Bar {
    let values = pricetrack_domain::Ohlcv {
        open: close,
        high: close + 1.0,
        low: close - 1.0,
        close,
        volume,
    };
    let t = jiff::Timestamp::from_second(time).unwrap();
    pricetrack_domain::Bar::new(aapl().symbol, interval, t, values).unwrap()
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
            "0005_listing_date",
            "0006_bar_blocks",
            "0007_corporate_events",
            "0008_url_source",
            "0009_bar_tails"
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

/// The row-per-bar table of migrations 0001–0005, as a database made before 0006 has it.
const LEGACY_BARS: &str = "CREATE TABLE bars (
    instrument_id INTEGER NOT NULL, interval SMALLINT NOT NULL, time BIGINT NOT NULL,
    open DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
    low DOUBLE PRECISION NOT NULL, close DOUBLE PRECISION NOT NULL,
    volume DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (instrument_id, interval, time))";

/// Rows for the legacy table: 100 five-minute bars (crossing several blocks) and two
/// daily bars of 1960, as `(interval code, time, close)`.
fn legacy_rows() -> Vec<(i16, i64, f64)> {
    let mut rows: Vec<(i16, i64, f64)> = (0..100)
        .map(|i| (2, 1_700_000_000 + i * 300, 100.0 + i as f64))
        .collect();
    rows.push((5, -315_619_200, 55.5));
    rows.push((5, -315_532_800, 56.5));
    rows
}

/// Turns a migrated database back into one at migration 0005 holding `legacy_rows`
/// for AAPL, migrates it again, and checks every bar survived the conversion.
async fn row_per_bar_data_survives_migration_0006(db: &testing::TestDatabase) {
    use pricetrack_app::ports::BarRange;
    use pricetrack_domain::Interval;
    let store = db.open().await;
    store.create_instrument(&aapl()).await.unwrap();
    drop(store);
    let rows = legacy_rows();
    match &db.target {
        DatabaseTarget::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch(&format!(
                "DROP TABLE bar_blocks; DELETE FROM schema_migrations WHERE name = '0006_bar_blocks';
                 {LEGACY_BARS};"
            ))
            .unwrap();
            for (interval, time, close) in &rows {
                conn.execute(
                    "INSERT INTO bars VALUES ((SELECT id FROM instruments WHERE symbol = 'AAPL'),
                     ?1, ?2, ?3, ?3 + 1, ?3 - 1, ?3, 1000)",
                    rusqlite::params![interval, time, close],
                )
                .unwrap();
            }
        }
        DatabaseTarget::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!(
                    "DROP TABLE bar_blocks; DELETE FROM schema_migrations WHERE name = '0006_bar_blocks';
                     {LEGACY_BARS};"
                ))
                .await
                .unwrap();
            for (interval, time, close) in &rows {
                client
                    .execute(
                        "INSERT INTO bars VALUES ((SELECT id FROM instruments WHERE symbol = 'AAPL'),
                         $1, $2, $3::float8, $3::float8 + 1, $3::float8 - 1, $3::float8, 1000)",
                        &[interval, time, close],
                    )
                    .await
                    .unwrap();
            }
        }
    }
    assert_eq!(migrate(&db.target).await.unwrap(), ["0006_bar_blocks"]);
    let store = db.open().await;
    let symbol = aapl().symbol;
    assert_eq!(store.count_bars(&symbol).await.unwrap(), rows.len() as u64);
    let five = store
        .bars(&symbol, Interval::M5, BarRange::default())
        .await
        .unwrap();
    let got: Vec<(i64, f64, f64)> = five
        .iter()
        .map(|b| (b.time.as_second(), b.close, b.high))
        .collect();
    let want: Vec<(i64, f64, f64)> = rows[..100]
        .iter()
        .map(|&(_, t, c)| (t, c, c + 1.0))
        .collect();
    assert_eq!(got, want);
    let daily = store
        .bars(&symbol, Interval::D1, BarRange::default())
        .await
        .unwrap();
    assert_eq!(
        daily.iter().map(|b| b.close).collect::<Vec<_>>(),
        [55.5, 56.5]
    );
    // The converted series takes new bars: one replacing the newest stored bar, one
    // after it (on SQLite the newest converted block becomes the series' tail).
    let last = rows[99].1;
    let next = |time: i64, close: f64| {
        let t = jiff::Timestamp::from_second(time).unwrap();
        let values = pricetrack_domain::Ohlcv {
            open: close,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 5.0,
        };
        pricetrack_domain::Bar::new(symbol.clone(), Interval::M5, t, values).unwrap()
    };
    let counts = store
        .upsert_bars(&[next(last, 500.0), next(last + 300, 501.0)])
        .await
        .unwrap();
    assert_eq!((counts.inserted, counts.replaced), (1, 1));
    let five = store
        .bars(&symbol, Interval::M5, BarRange::default())
        .await
        .unwrap();
    assert_eq!(five.len(), 101);
    assert_eq!(five[98].close, 198.0);
    assert_eq!((five[99].close, five[100].close), (500.0, 501.0));
    assert_eq!(
        store.count_bars(&symbol).await.unwrap(),
        rows.len() as u64 + 1
    );
}

/// A SQLite database from before migration 0009 (every block in `bar_blocks`) keeps
/// every bar when the newest block of each series moves to `bar_tails`, and takes new
/// bars after the move.
#[tokio::test]
async fn sqlite_bars_survive_the_move_of_each_series_newest_block_to_bar_tails() {
    use pricetrack_app::ports::BarRange;
    use pricetrack_domain::{Bar, Interval};
    let db = testing::fresh_sqlite().await;
    let symbol = aapl().symbol;
    let bar = |interval: Interval, time: i64, close: f64| aapl_bar(interval, time, close, 5.0);
    let mut bars: Vec<Bar> = (0..100)
        .map(|i| bar(Interval::M5, 1_700_000_100 + i * 300, 100.0 + i as f64))
        .collect();
    bars.extend((0..3).map(|i| bar(Interval::D1, 1_704_067_200 + i * 86_400, 50.0 + i as f64)));
    let store = db.open().await;
    store.create_instrument(&aapl()).await.unwrap();
    store.upsert_bars(&bars).await.unwrap();
    drop(store);
    let DatabaseTarget::Sqlite(path) = &db.target else {
        unreachable!("a SQLite test database")
    };
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(
            "INSERT INTO bar_blocks (key, data)
                 SELECT (series << 29) | (block + 268435456), data FROM bar_tails;
             DROP TABLE bar_tails;
             DELETE FROM schema_migrations WHERE name = '0009_bar_tails';",
        )
        .unwrap();
    assert_eq!(migrate(&db.target).await.unwrap(), ["0009_bar_tails"]);
    let tails: i64 = rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM bar_tails", [], |row| row.get(0))
        .unwrap();
    assert_eq!(tails, 2, "one tail per series (5m and 1d)");

    let store = db.open().await;
    assert_eq!(store.count_bars(&symbol).await.unwrap(), 103);
    let mut stored = store
        .bars(&symbol, Interval::M5, BarRange::default())
        .await
        .unwrap();
    stored.extend(
        store
            .bars(&symbol, Interval::D1, BarRange::default())
            .await
            .unwrap(),
    );
    assert_eq!(stored, bars);
    let later = bar(Interval::M5, 1_700_000_100 + 100 * 300, 900.0);
    let counts = store
        .upsert_bars(std::slice::from_ref(&later))
        .await
        .unwrap();
    assert_eq!((counts.inserted, counts.replaced), (1, 0));
    let newest = store
        .bars(
            &symbol,
            Interval::M5,
            BarRange {
                limit: Some(2),
                ..BarRange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(newest, vec![bars[99].clone(), later]);
}

#[tokio::test]
async fn sqlite_row_per_bar_data_survives_the_move_to_blocks() {
    row_per_bar_data_survives_migration_0006(&testing::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_row_per_bar_data_survives_the_move_to_blocks() {
    let Some(db) = testing::fresh_postgres().await else {
        return;
    };
    row_per_bar_data_survives_migration_0006(&db).await;
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

/// A block as binaries before 2026-12 wrote it (format 1): fixed 44-byte records.
fn format_1_block(start: i64, bars: &[(i64, f64)]) -> Vec<u8> {
    let mut out = vec![1u8];
    for &(time, close) in bars {
        out.extend_from_slice(&u32::try_from(time - start).unwrap().to_le_bytes());
        for x in [close, close + 1.0, close - 1.0, close, 500.0] {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

/// Blocks written in format 1 by an older binary: one sealed block and the newest.
async fn format_1_blocks_read_count_and_take_new_bars(db: &testing::TestDatabase) {
    use pricetrack_app::ports::BarRange;
    use pricetrack_domain::{Bar, Interval};
    const WIDTH: i64 = 32 * 300;
    let (old_block, new_block) = (177_083i64, 177_084i64);
    let older: Vec<(i64, f64)> = (0..32)
        .map(|k| (old_block * WIDTH + k * 300, 100.0 + k as f64))
        .collect();
    let newer: Vec<(i64, f64)> = (0..5)
        .map(|k| (new_block * WIDTH + k * 300, 200.0 + k as f64))
        .collect();
    let symbol = aapl().symbol;
    let store = db.open().await;
    store.create_instrument(&aapl()).await.unwrap();
    let code = i64::from(Interval::M5.code());
    match &db.target {
        DatabaseTarget::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let id: i64 = conn
                .query_row(
                    "SELECT id FROM instruments WHERE symbol = 'AAPL'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            let key = |block: i64| (id << 32) | (code << 29) | (block + (1 << 28));
            conn.execute(
                "INSERT INTO bar_blocks (key, data) VALUES (?1, ?2)",
                rusqlite::params![key(old_block), format_1_block(old_block * WIDTH, &older)],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO bar_tails (series, block, data) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    key(new_block) >> 29,
                    new_block,
                    format_1_block(new_block * WIDTH, &newer)
                ],
            )
            .unwrap();
        }
        DatabaseTarget::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            for (block, bars) in [(old_block, &older), (new_block, &newer)] {
                client
                    .execute(
                        "INSERT INTO bar_blocks (instrument_id, interval, block, data)
                         VALUES ((SELECT id FROM instruments WHERE symbol = 'AAPL'), $1, $2, $3)",
                        &[
                            &Interval::M5.code(),
                            &i32::try_from(block).unwrap(),
                            &format_1_block(block * WIDTH, bars),
                        ],
                    )
                    .await
                    .unwrap();
            }
        }
    }
    let bar = |(time, close): (i64, f64)| aapl_bar(Interval::M5, time, close, 500.0);
    let mut want: Vec<Bar> = older.iter().chain(&newer).copied().map(bar).collect();
    assert_eq!(store.count_bars(&symbol).await.unwrap(), 37);
    let all = BarRange::default();
    assert_eq!(store.bars(&symbol, Interval::M5, all).await.unwrap(), want);

    // A correction inside the old block and the next bar of the newest one.
    let corrected = bar((older[3].0, 99.5));
    let next = bar((new_block * WIDTH + 5 * 300, 205.0));
    let counts = store
        .upsert_bars(&[corrected.clone(), next.clone()])
        .await
        .unwrap();
    assert_eq!((counts.inserted, counts.replaced), (1, 1));
    want[3] = corrected;
    want.push(next);
    assert_eq!(store.count_bars(&symbol).await.unwrap(), 38);
    assert_eq!(store.bars(&symbol, Interval::M5, all).await.unwrap(), want);
    let from = jiff::Timestamp::from_second(older[30].0).unwrap();
    let some = BarRange {
        from: Some(from),
        limit: Some(4),
        ..BarRange::default()
    };
    assert_eq!(
        store.bars(&symbol, Interval::M5, some).await.unwrap(),
        want[30..34]
    );
}

#[tokio::test]
async fn sqlite_blocks_of_format_1_read_count_and_take_new_bars() {
    format_1_blocks_read_count_and_take_new_bars(&testing::fresh_sqlite().await).await;
}

#[tokio::test]
async fn postgres_blocks_of_format_1_read_count_and_take_new_bars() {
    let Some(db) = testing::fresh_postgres().await else {
        return;
    };
    format_1_blocks_read_count_and_take_new_bars(&db).await;
}
