//! `pipetrack serve`: the dashboard on the configured store.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use monitor_queries::{Monitor, MonitorConfig, scripts_in_dir};
use monitor_web::{Auth, ServeOptions};
use tracker_db::StoreConfig;

use crate::cli::ServeArgs;
use crate::commands::open_for_reading;
use crate::output::{error_line, print};

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Checks the address and authentication before touching the store, so a
/// refused `--bind` fails fast with exit code 2.
pub(crate) fn options(bind: SocketAddr, live_secs: u64) -> Result<ServeOptions, monitor_web::WebError> {
    let auth = Auth::from_env()?;
    Ok(ServeOptions::new(bind, auth)?.live_interval(Duration::from_secs(live_secs.max(1))))
}

pub(crate) async fn run(config: &StoreConfig, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let options = match options(args.bind, args.live_every) {
        Ok(options) => options,
        Err(err) => {
            error_line(&err.to_string());
            return Ok(ExitCode::from(2));
        }
    };
    let store = open_for_reading(config).await?;
    let location = store.location();
    let mut settings = MonitorConfig::from_env()?;
    if let Some(dir) = &args.scripts_dir {
        settings.add_expected(scripts_in_dir(dir)?);
    }
    let monitor = Monitor::new(store, settings);
    let server = monitor_web::bind(monitor, options).await?;
    print(&format!("pipetrack dashboard on {} (store: {location}); Ctrl-C to stop", server.url()));
    server.run(stop_signal()).await?;
    print("pipetrack dashboard stopped");
    Ok(ExitCode::SUCCESS)
}
