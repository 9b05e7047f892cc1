//! TLS to a real Postgres (`sslmode`, `sslrootcert`). The test servers have
//! ssl on (Debian's cluster with its snakeoil certificate for `localhost`, or
//! the throwaway cluster scripts/ensure-postgres starts with a self-signed one
//! for `localhost`); a server without ssl gets the clear error instead.

use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig, Value};

fn with_params(url: &str, host: Option<&str>, params: &[(&str, &str)]) -> String {
    let mut parsed = url::Url::parse(url).expect("test URL");
    if let Some(host) = host {
        parsed.set_host(Some(host)).expect("URL takes a host");
    }
    parsed.query_pairs_mut().extend_pairs(params);
    parsed.into()
}

async fn open(url: &str) -> Result<Store, tracker_db::DbError> {
    Store::open(&StoreConfig::from_url(url, Source::DatabaseUrl).unwrap()).await
}

async fn uses_tls(store: &Store) -> bool {
    let rows =
        store.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", Vec::new()).await.unwrap();
    rows[0].boolean("ssl").unwrap().unwrap()
}

async fn setting(store: &Store, name: &str) -> String {
    let rows = store.query("SELECT current_setting($1) AS v", vec![Value::from(name)]).await.unwrap();
    rows[0].text("v").unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_encrypts_and_checks_the_certificate_as_asked() {
    let h = crate::harness::postgres().await.migrated().await;
    assert!(!uses_tls(&h.store).await, "no sslmode: plain, as before");
    if setting(&h.store, "ssl").await != "on" {
        let err = open(&with_params(&h.url, None, &[("sslmode", "require")])).await.err().unwrap();
        assert!(err.to_string().contains("turn on ssl"), "{err}");
        return;
    }
    // require: encrypted, whatever the certificate.
    let store = open(&with_params(&h.url, None, &[("sslmode", "require")])).await.unwrap();
    assert!(uses_tls(&store).await);
    store.ensure_current().await.unwrap();
    // The server's own certificate (self-signed, for localhost) as the trusted CA.
    let mut cert = std::path::PathBuf::from(setting(&h.store, "ssl_cert_file").await);
    if cert.is_relative() {
        cert = std::path::Path::new(&setting(&h.store, "data_directory").await).join(cert);
    }
    let root = cert.to_str().unwrap();
    assert!(std::fs::metadata(&cert).is_ok(), "the server's certificate {root} is readable by the tests");
    // verify-ca: trusted chain, any host name (the URL says 127.0.0.1).
    let store =
        open(&with_params(&h.url, None, &[("sslmode", "verify-ca"), ("sslrootcert", root)])).await.unwrap();
    assert!(uses_tls(&store).await);
    // verify-full: the name must match too.
    let err = open(&with_params(&h.url, None, &[("sslmode", "verify-full"), ("sslrootcert", root)]))
        .await
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(message.contains("not valid for name \"127.0.0.1\""), "{message}");
    assert!(message.contains("?sslrootcert="), "says what to do: {message}");
    let store =
        open(&with_params(&h.url, Some("localhost"), &[("sslmode", "verify-full"), ("sslrootcert", root)]))
            .await
            .unwrap();
    assert!(uses_tls(&store).await);
}
