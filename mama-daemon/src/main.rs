//! `mama-daemon`: the admin RPC, the REST API for services, and LiteLLM sync, over SQLite (the
//! embedded default) or PostgreSQL.
#![forbid(unsafe_code)]

use anyhow::Result;
use clap::{Parser, Subcommand};
use mama_daemon::check_litellm::{self, LiteLlmCheck};
use mama_daemon::{commands, config, database, encryption_key, serve};

/// mimalloc instead of glibc's allocator: a REST lookup allocates and frees hundreds of small
/// buffers across worker threads, and glibc's arena consolidation was a quarter of the daemon's
/// CPU under load (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mama's daemon: keeps users and their LiteLLM virtual keys, serves the admin RPC (for
/// mama-tui) on a Unix socket and the REST API for services on TCP.
#[derive(Debug, Parser)]
#[command(name = "mama-daemon", version, about, long_about = None, args_override_self = true)]
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
    /// Check the configuration, files, permissions and database; explain every problem.
    CheckConfig,
    /// Write a consistent copy of the SQLite database to FILE while the daemon runs.
    Backup {
        /// Where to write the copy (must not exist).
        file: std::path::PathBuf,
    },
    /// Re-encrypt every stored virtual key under a new encryption key (daemons stopped).
    ///
    /// Stop every daemon on the database first (it refuses while one runs); afterwards,
    /// install the new key where the daemon reads its key. Resumable: if it is interrupted,
    /// run it again with the same files; daemons refuse to start until it has finished. See
    /// docs/deploy.md, "Rotating the encryption key".
    RotateEncryptionKey {
        /// File holding the new key: 64 hex characters or 32 raw bytes, mode 0600. Create it
        /// (`openssl rand -hex 32`) and back it up before running this.
        #[arg(long, value_name = "PATH")]
        new_key_file: std::path::PathBuf,
        /// Users re-encrypted per transaction.
        #[arg(
            long,
            value_name = "N",
            default_value_t = mama_core::ops::encryption_key::DEFAULT_ROTATION_BATCH as u64,
            value_parser = clap::value_parser!(u64).range(1..=100_000)
        )]
        batch_size: u64,
    },
    /// Local admin recovery.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Write man pages into DIR.
    Manpages { dir: std::path::PathBuf },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Give an admin a one-time password (printed once) that must be changed at next login.
    ResetPassword {
        /// The admin's username.
        username: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "mama-daemon", &mut std::io::stdout());
            return Ok(());
        }
        Some(Command::Manpages { dir }) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), dir)?;
            return Ok(());
        }
        _ => {}
    }
    // Everything the daemon creates (the database and its WAL, key files, backups) is private
    // to its user, as under systemd's UMask=0077, also when started by hand.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let settings = cli.opts.resolve()?;
    init_tracing(&settings.log, settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve::serve(settings)),
        Command::Migrate => {
            database::ensure_private_dir(&settings.data_dir)?;
            database::open_database(&settings, database::Use::Command)?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::CheckConfig => {
            let mut problems = commands::check_config(&settings);
            match runtime.block_on(check_litellm::check(&settings)) {
                LiteLlmCheck::NotConfigured => println!(
                    "LiteLLM: not configured (keys stay pending until --litellm-url and a master key file are given)"
                ),
                LiteLlmCheck::KeyUnreadable => {}
                LiteLlmCheck::Found(found) => println!("{found}"),
                LiteLlmCheck::Problem(problem) => problems.push(problem),
            }
            if problems.is_empty() {
                println!(
                    "configuration OK (database {})",
                    mama_core::db::redact_url(&settings.database_url)
                );
                return Ok(());
            }
            for p in &problems {
                eprintln!("problem: {p}");
            }
            anyhow::bail!("{} problem(s) found", problems.len())
        }
        Command::Backup { file } => {
            commands::backup(&settings, &file)?;
            eprintln!("backup written to {}", file.display());
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::ResetPassword { username },
        } => {
            let db = database::open_database(&settings, database::Use::Command)?;
            let password = mama_core::ops::admins::reset_password_offline(&db, &username)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("one-time password for {username}: {password}");
            eprintln!("it must be changed at the next login; the admin's sessions were ended");
            Ok(())
        }
        Command::RotateEncryptionKey {
            new_key_file,
            batch_size,
        } => encryption_key::rotate(&settings, &new_key_file, batch_size as usize),
        Command::Completions { .. } | Command::Manpages { .. } => Ok(()),
    }
}

fn init_tracing(filter: &str, format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    // journald and pipes get plain text; only a terminal gets colours.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        // One JSON object per line, the event's fields next to `timestamp`, `level` and
        // `message`, for journald's JSON forwarding and log shippers.
        config::LogFormat::Json => builder.json().flatten_event(true).init(),
        config::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
