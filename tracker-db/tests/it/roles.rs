//! The writer and reader roles printed by `grants_sql`, applied to a real
//! Postgres: the writer can track, the reader can read and gets a clear error
//! naming the setting and the fix when it tries to write.

use chrono::Utc;
use tracker_core::{RunId, RunMeta, Session};
use tracker_db::config::Source;
use tracker_db::{DbError, Store, StoreConfig, grants_sql};

fn as_user(url: &str, user: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("test URL");
    parsed.set_username(user).expect("URL takes a user");
    parsed.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_tracks_and_the_reader_only_reads() {
    let h = crate::harness::postgres().await.migrated().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let (writer, reader) = (format!("pt_w_{suffix}"), format!("pt_r_{suffix}"));
    for role in [&writer, &reader] {
        h.store.execute(&format!("CREATE ROLE {role} LOGIN"), Vec::new()).await.unwrap();
    }
    let schema = url::Url::parse(&h.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "schema")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let sql = grants_sql(Some(&schema), &writer, &reader).unwrap();
    for statement in sql.lines().filter(|l| !l.starts_with("--") && !l.trim().is_empty()) {
        h.store.execute(statement.trim_end_matches(';'), Vec::new()).await.unwrap();
    }

    let open = |user: String| async move {
        Store::open(&StoreConfig::from_url(&user, Source::DatabaseUrl).unwrap()).await.unwrap()
    };
    let writer_store = open(as_user(&h.url, &writer)).await;
    writer_store.ensure_current().await.unwrap();
    let run_id = RunId(uuid::Uuid::now_v7());
    let meta = RunMeta { script_name: "DAILY_01_BDC_Locations.R".into(), ..RunMeta::default() };
    let (mut session, start) = Session::start(run_id, meta, Utc::now()).unwrap();
    let events = vec![start, session.enter_task("Load", Utc::now()).unwrap()];
    let outcome = writer_store.append(events).await.unwrap();
    assert_eq!(outcome.inserted, 2);

    let reader_store = open(as_user(&h.url, &reader)).await;
    reader_store.ensure_current().await.unwrap();
    let run = reader_store.run(run_id).await.unwrap().expect("the reader sees the run");
    assert_eq!(run.current_task.as_deref(), Some("Load"));
    assert_eq!(reader_store.latest_runs().await.unwrap().len(), 1);
    let err = reader_store.append(vec![session.message("nope", Utc::now()).unwrap()]).await.unwrap_err();
    assert!(matches!(err, DbError::AccessDenied { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("(set by PIPETRACK_DATABASE_URL)"), "{message}");
    assert!(message.contains("permission denied"), "{message}");
    assert!(message.contains("grant this role the privileges it needs"), "{message}");
    assert!(!err.is_transient(), "retrying cannot fix a missing grant");

    drop((writer_store, reader_store));
    for role in [&writer, &reader] {
        h.store.execute(&format!("DROP OWNED BY {role}"), Vec::new()).await.unwrap();
        h.store.execute(&format!("DROP ROLE {role}"), Vec::new()).await.unwrap();
    }
}
