//! Command line and where to find the daemon.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::client::Endpoint;

/// mama's terminal UI: manage users, keys, services and admins through the mama daemon.
///
/// Keys: ? help, : commands, / filter, space mark, q quit. Set NO_COLOR to disable colours.
#[derive(Debug, Parser)]
#[command(name = "mama-tui", version)]
pub struct Args {
    /// Unix socket of the daemon's admin RPC. Default: /run/mama/admin.sock when it exists,
    /// else $XDG_STATE_HOME/mama/admin.sock, else ~/.local/state/mama/admin.sock.
    #[arg(long, env = "MAMA_ADMIN_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Use the daemon's TCP admin listener instead of the socket, e.g. http://127.0.0.1:8687
    /// (the daemon's --admin-listen). Plain HTTP: tunnel it over SSH when remote. Wins over
    /// --socket.
    #[arg(long, env = "MAMA_ADMIN_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// Seconds to wait for one answer from the daemon before showing an error.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,

    /// Do not capture the mouse (keeps the terminal's own text selection, e.g. to copy a token).
    #[arg(long)]
    pub no_mouse: bool,

    /// Deleting or purging more users than this at once asks for their count to be typed
    /// (a `y` confirms fewer).
    #[arg(
        long,
        env = "MAMA_TUI_CONFIRM_TYPED_ABOVE",
        default_value_t = crate::trash::DEFAULT_CONFIRM_TYPED_ABOVE,
        value_name = "N"
    )]
    pub confirm_typed_above: u64,

    /// Sign out after this many minutes without a key press, click or paste (0: never). The
    /// session token itself lives as long as the daemon's --session-minutes and is renewed
    /// only while the TUI is used.
    #[arg(
        long,
        env = "MAMA_TUI_IDLE_LOGOUT_MINUTES",
        default_value_t = crate::app::DEFAULT_IDLE_LOGOUT_MINUTES,
        value_name = "MINUTES"
    )]
    pub idle_logout_minutes: u64,
}

impl Args {
    pub fn endpoint(&self) -> Result<Endpoint, String> {
        if let Some(url) = &self.server {
            return Endpoint::from_server_url(url);
        }
        if let Some(path) = &self.socket {
            return Ok(Endpoint::Unix(path.clone()));
        }
        Ok(Endpoint::Unix(default_socket(
            Path::new("/run/mama/admin.sock"),
            std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        )))
    }
}

/// The system socket when the daemon runs under systemd, else the per-user state directory.
fn default_socket(system: &Path, xdg_state: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    if system.exists() {
        return system.to_path_buf();
    }
    if let Some(state) = xdg_state.filter(|p| p.is_absolute()) {
        return state.join("mama/admin.sock");
    }
    home.unwrap_or_else(|| PathBuf::from("."))
        .join(".local/state/mama/admin.sock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_socket_order() {
        let missing = Path::new("/nonexistent/mama/admin.sock");
        assert_eq!(
            default_socket(missing, Some("/x/state".into()), Some("/home/u".into())),
            PathBuf::from("/x/state/mama/admin.sock")
        );
        assert_eq!(
            default_socket(missing, None, Some("/home/u".into())),
            PathBuf::from("/home/u/.local/state/mama/admin.sock")
        );
        assert_eq!(
            default_socket(missing, Some("relative".into()), Some("/h".into())),
            PathBuf::from("/h/.local/state/mama/admin.sock")
        );
    }

    #[test]
    fn server_wins_over_socket() {
        let args = Args::parse_from([
            "mama-tui",
            "--socket",
            "/tmp/a.sock",
            "--server",
            "http://127.0.0.1:9",
        ]);
        assert_eq!(args.endpoint(), Ok(Endpoint::Tcp("127.0.0.1:9".into())));
    }

    #[test]
    fn the_typed_confirm_threshold_defaults_to_100() {
        let args = Args::parse_from(["mama-tui"]);
        assert_eq!(args.confirm_typed_above, 100);
        let args = Args::parse_from(["mama-tui", "--confirm-typed-above", "5"]);
        assert_eq!(args.confirm_typed_above, 5);
    }

    #[test]
    fn idle_logout_defaults_to_30_minutes() {
        assert_eq!(Args::parse_from(["mama-tui"]).idle_logout_minutes, 30);
        let args = Args::parse_from(["mama-tui", "--idle-logout-minutes", "0"]);
        assert_eq!(args.idle_logout_minutes, 0);
    }
}
