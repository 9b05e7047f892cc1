//! The `pipetrack` binary: parses arguments and hands each command to the
//! library crates. No logic of its own beyond presentation.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            output::error_line(&format!("cannot start the async runtime: {err}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            output::error_line(&output::describe_error(&err));
            ExitCode::from(output::exit_code(&err))
        }
    }
}
