//! Conformance of the web UI's stores: sessions, the login rate limit,
//! watchlists, user settings and provider keys.

use super::{S, add_instrument, sym, ts, user};
use pricetrack_app::ports::*;
use pricetrack_domain::{Currency, analytics::CostBasisMethod};

pub async fn sessions_are_found_by_hash_until_they_expire_and_can_be_deleted(store: S) {
    let u = user(&store, "alice").await;
    let now = ts("2024-06-01T12:00:00Z");
    let later = ts("2024-07-01T12:00:00Z");
    store
        .create_session("hash-1", u.id, "csrf-1", now, later)
        .await
        .unwrap();
    let s = store.session("hash-1", now).await.unwrap().expect("found");
    assert_eq!(s.user.name, "alice");
    assert_eq!(s.csrf_token, "csrf-1");
    assert_eq!(s.expires_at, later);
    assert!(store.session("hash-2", now).await.unwrap().is_none());
    assert!(
        store.session("hash-1", later).await.unwrap().is_none(),
        "expired"
    );
    assert_eq!(store.delete_expired_sessions(later).await.unwrap(), 1);
    store
        .create_session("hash-3", u.id, "csrf-3", now, later)
        .await
        .unwrap();
    assert!(store.delete_session("hash-3").await.unwrap());
    assert!(!store.delete_session("hash-3").await.unwrap());
    assert!(store.session("hash-3", now).await.unwrap().is_none());
}

pub async fn login_failures_are_counted_per_key_since_a_time_and_cleared(store: S) {
    let key = "alice|127.0.0.1";
    for minute in 0..3 {
        store
            .record_login_failure(key, ts(&format!("2024-06-01T12:0{minute}:00Z")))
            .await
            .unwrap();
    }
    store
        .record_login_failure("bob|127.0.0.1", ts("2024-06-01T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        store
            .count_login_failures(key, ts("2024-06-01T12:00:00Z"))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .count_login_failures(key, ts("2024-06-01T12:01:00Z"))
            .await
            .unwrap(),
        2
    );
    store.clear_login_failures(key).await.unwrap();
    assert_eq!(
        store
            .count_login_failures(key, ts("2024-06-01T00:00:00Z"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .count_login_failures("bob|127.0.0.1", ts("2024-06-01T00:00:00Z"))
            .await
            .unwrap(),
        1
    );
}

pub async fn watchlists_keep_their_items_in_order_and_are_private(store: S) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    for s in ["AAPL", "MSFT", "BTC-USD"] {
        add_instrument(&store, s).await;
    }
    let now = ts("2024-06-01T12:00:00Z");
    let w = store.create_watchlist(alice.id, "Tech", now).await.unwrap();
    assert!(matches!(
        store.create_watchlist(alice.id, "Tech", now).await,
        Err(StoreError::Conflict(_))
    ));
    store.create_watchlist(bob.id, "Tech", now).await.unwrap();
    let order = [sym("MSFT"), sym("BTC-USD"), sym("AAPL")];
    let updated = store
        .set_watchlist_items(alice.id, w.id, &order)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.symbols, order);
    let read = store.get_watchlist(alice.id, w.id).await.unwrap().unwrap();
    assert_eq!(read.symbols, order);
    assert!(store.get_watchlist(bob.id, w.id).await.unwrap().is_none());
    assert!(
        store
            .set_watchlist_items(bob.id, w.id, &order)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store
            .set_watchlist_items(alice.id, w.id, &[sym("AAPL"), sym("NOPE")])
            .await,
        Err(StoreError::UnknownInstrument(s)) if s.as_str() == "NOPE"
    ));
    assert_eq!(
        store
            .get_watchlist(alice.id, w.id)
            .await
            .unwrap()
            .unwrap()
            .symbols,
        order,
        "a failed change writes nothing"
    );
    let renamed = store
        .rename_watchlist(alice.id, w.id, "Core")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Core");
    assert_eq!(renamed.symbols, order);
    let second = store
        .create_watchlist(alice.id, "Crypto", now)
        .await
        .unwrap();
    let all = store.list_watchlists(alice.id).await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["Core", "Crypto"]
    );
    // Deleting an instrument removes it from every watchlist.
    assert_eq!(
        store.delete_instrument(&sym("BTC-USD")).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        store
            .get_watchlist(alice.id, w.id)
            .await
            .unwrap()
            .unwrap()
            .symbols,
        [sym("MSFT"), sym("AAPL")]
    );
    assert!(store.delete_watchlist(alice.id, second.id).await.unwrap());
    assert!(!store.delete_watchlist(alice.id, second.id).await.unwrap());
}

pub async fn user_settings_and_provider_keys_round_trip(store: S) {
    let u = user(&store, "alice").await;
    assert!(store.user_settings(u.id).await.unwrap().is_none());
    let w = store
        .create_watchlist(u.id, "Main", ts("2024-06-01T12:00:00Z"))
        .await
        .unwrap();
    let settings = UserSettings {
        base_currency: Currency::EUR,
        cost_basis_method: CostBasisMethod::Hifo,
        theme: Theme::Dark,
        dashboard_watchlist: Some(w.id),
    };
    store.save_user_settings(u.id, &settings).await.unwrap();
    assert_eq!(
        store.user_settings(u.id).await.unwrap(),
        Some(settings.clone())
    );
    let changed = UserSettings {
        theme: Theme::Light,
        dashboard_watchlist: None,
        ..settings
    };
    store.save_user_settings(u.id, &changed).await.unwrap();
    assert_eq!(store.user_settings(u.id).await.unwrap(), Some(changed));

    let now = ts("2024-06-01T12:00:00Z");
    store
        .set_provider_key("alphavantage", Some("KEY-1234"), now)
        .await
        .unwrap();
    store
        .set_provider_key("coingecko", Some("CG-9999"), now)
        .await
        .unwrap();
    store
        .set_provider_key("alphavantage", Some("KEY-5678"), now)
        .await
        .unwrap();
    let keys = store.provider_keys().await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.provider.as_str(), k.key.as_str()))
            .collect::<Vec<_>>(),
        [("alphavantage", "KEY-5678"), ("coingecko", "CG-9999")]
    );
    store
        .set_provider_key("coingecko", None, now)
        .await
        .unwrap();
    assert_eq!(store.provider_keys().await.unwrap().len(), 1);
}
