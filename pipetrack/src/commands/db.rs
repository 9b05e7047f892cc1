//! `pipetrack migrate` and `pipetrack db check`.

use std::process::ExitCode;

use serde::Serialize;
use tracker_db::{Store, StoreConfig};

use crate::output::{print, print_json};

#[derive(Serialize)]
struct MigrateReport<'a> {
    store: String,
    applied: &'a [String],
    schema_version: i64,
}

pub(crate) async fn migrate(config: &StoreConfig, json: bool) -> anyhow::Result<ExitCode> {
    let store = Store::open(config).await?;
    let applied = store.migrate().await?;
    let schema_version = store.schema_version().await?;
    if json {
        print_json(&MigrateReport { store: store.location(), applied: &applied, schema_version })?;
    } else if applied.is_empty() {
        print(&format!(
            "{}: schema is current (version {schema_version}), nothing to apply",
            store.location()
        ));
    } else {
        print(&format!(
            "{}: applied {} (schema version {schema_version})",
            store.location(),
            applied.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn check(config: &StoreConfig, json: bool) -> anyhow::Result<ExitCode> {
    let store = Store::open(config).await?;
    let check = store.check(config.source().setting()).await?;
    if json {
        print_json(&check)?;
    } else {
        let state = if check.is_current() {
            "ready".to_owned()
        } else if check.schema_version == 0 {
            "not migrated: run `pipetrack migrate`".to_owned()
        } else if check.schema_version < check.expected_version {
            format!("schema version {} is old: run `pipetrack migrate`", check.schema_version)
        } else {
            format!("schema version {} is newer than this pipetrack: upgrade it", check.schema_version)
        };
        print(&format!(
            "store:    {}\nbackend:  {}\nset by:   {}\nreach:    ok\nschema:   version {} (this pipetrack needs {})\nstate:    {state}",
            check.location,
            check.backend.as_str(),
            check.setting,
            check.schema_version,
            check.expected_version
        ));
    }
    Ok(if check.is_current() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

pub(crate) fn grants(config: &StoreConfig, args: &crate::cli::GrantsArgs) -> anyhow::Result<ExitCode> {
    let configured_schema = match config {
        StoreConfig::Postgres(pg) => pg.schema.clone(),
        StoreConfig::Sqlite(_) => {
            anyhow::bail!(
                "roles apply to a Postgres store; the configured store is {} (set PIPETRACK_DATABASE_URL=postgres://...)",
                config.describe()
            )
        }
    };
    let schema = args.schema.clone().or(configured_schema);
    print(tracker_db::grants_sql(schema.as_deref(), &args.writer, &args.reader)?.trim_end());
    Ok(ExitCode::SUCCESS)
}
