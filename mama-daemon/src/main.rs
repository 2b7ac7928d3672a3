//! `mama-daemon`: the admin RPC, the REST API for services, and LiteLLM sync, over SQLite (the
//! embedded default) or PostgreSQL.
#![forbid(unsafe_code)]

mod config;
mod error;
mod notify;
mod routes;
mod serve;
mod state;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// mama's daemon: keeps users and their LiteLLM virtual keys, serves the admin RPC (for
/// mama-tui) on a Unix socket and the REST API for services on TCP.
#[derive(Debug, Parser)]
#[command(name = "mama-daemon", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    opts: config::Opts,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the admin RPC and the REST API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = cli.opts.resolve()?;
    init_tracing(&settings.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve::serve(settings)),
        Command::Migrate => {
            serve::ensure_private_dir(&settings.data_dir)?;
            serve::open_database(&settings)?;
            eprintln!("migrations applied");
            Ok(())
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // journald and pipes get plain text; only a terminal gets colours.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
