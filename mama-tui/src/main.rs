#![forbid(unsafe_code)]
//! `mama-tui`: see `mama-tui --help`.

use std::process::ExitCode;

use clap::Parser;
use mama_tui::cli::Args;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    let endpoint = match args.endpoint() {
        Ok(endpoint) => endpoint,
        Err(problem) => {
            eprintln!("mama-tui: {problem}");
            return ExitCode::from(2);
        }
    };
    match mama_tui::runtime::run(endpoint, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mama-tui: {err:#}");
            ExitCode::FAILURE
        }
    }
}
