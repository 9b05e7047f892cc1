//! One module per command; [`run`] dispatches.

mod db;
pub(crate) mod demo;
mod errors;
mod export;
mod history;
mod run;
mod serve;
mod show;
mod spool;
mod status;

use std::process::ExitCode;

use anyhow::Context;
use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

use crate::cli::{Cli, Command, DbCommand, SpoolCommand};

/// Runs the parsed command.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let color = crate::output::use_color(cli.no_color);
    match cli.command {
        Command::Migrate(flag) => db::migrate(&config(cli.database_url.as_deref())?, flag.json).await,
        Command::Db(DbCommand::Grants(args)) => db::grants(&config(cli.database_url.as_deref())?, &args),
        Command::Db(DbCommand::Check(flag)) => {
            db::check(&config(cli.database_url.as_deref())?, flag.json).await
        }
        Command::Status(flag) => status::run(&config(cli.database_url.as_deref())?, flag.json, color).await,
        Command::History(args) => {
            history::run(&config(cli.database_url.as_deref())?, &args.filters, args.json, color).await
        }
        Command::Show(args) => {
            show::run(&config(cli.database_url.as_deref())?, &args.run_id, args.json, color).await
        }
        Command::Errors(args) => errors::run(&config(cli.database_url.as_deref())?, &args, color).await,
        Command::Export(args) => export::run(&config(cli.database_url.as_deref())?, &args).await,
        Command::Serve(args) => serve::run(&config(cli.database_url.as_deref())?, &args).await,
        Command::Demo(args) => {
            demo::run(demo::DemoOptions {
                bind: args.bind,
                days: args.days,
                seed: args.seed,
                dir: args.dir,
                seed_only: args.seed_only,
                live: !args.no_live,
            })
            .await
        }
        Command::DemoScript(args) => {
            demo::live_script(&config(cli.database_url.as_deref())?, args.role, &args.log_dir).await
        }
        Command::Run(args) => run::run(cli.database_url.as_deref(), args).await,
        Command::Spool(SpoolCommand::Status(args)) => spool::status(args.dir, args.json, color),
        Command::Spool(SpoolCommand::Replay(args)) => {
            spool::replay(&config(cli.database_url.as_deref())?, args.dir, args.json).await
        }
    }
}

/// The store configuration: the `--database-url` flag, else the environment.
pub(crate) fn config(flag: Option<&str>) -> anyhow::Result<StoreConfig> {
    Ok(match flag {
        Some(url) => StoreConfig::from_url(url, Source::Flag)?,
        None => StoreConfig::from_env()?,
    })
}

/// Opens the store for reading: it must exist and be migrated. The embedded
/// default is migrated on first use (zero set-up); a configured store is not.
pub(crate) async fn open_for_reading(config: &StoreConfig) -> anyhow::Result<Store> {
    let store = Store::open(config).await?;
    if config.source() == Source::Default {
        store.migrate().await.context("preparing the embedded store")?;
    }
    store.ensure_current().await?;
    Ok(store)
}
