//! `mama-tui` in a real terminal: a tmux server of the test's own, keys sent and the screen read
//! back as a person would (`send-keys`, `capture-pane -p`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::daemon::bin_dir;
use super::Daemon;

/// Upper bound for any one screen change; generous for slow CI machines.
pub const WAIT: Duration = Duration::from_secs(30);

/// A tmux server of our own (`-L`), so the test never touches the user's sessions.
pub struct Tmux {
    server: String,
}

impl Tmux {
    pub fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// `name` keeps the servers of tests running at the same time apart.
    pub fn start(name: &str, command: &[String]) -> Tmux {
        let server = format!("mama-tui-e2e-{name}-{}", std::process::id());
        let tmux = Tmux { server };
        let mut args: Vec<String> = ["new-session", "-d", "-s", "tui", "-x", "120", "-y", "40"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(command.iter().cloned());
        tmux.run(&args);
        tmux
    }

    pub fn run(&self, args: &[String]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.server)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Named keys (`Enter`, `Tab`, `C-s`) or single characters.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys".to_string(), "-t".into(), "tui".into()];
        args.extend(keys.iter().map(|k| k.to_string()));
        self.run(&args);
    }

    /// Text typed literally (UTF-8, Hangul included).
    pub fn text(&self, text: &str) {
        self.run(&[
            "send-keys".into(),
            "-t".into(),
            "tui".into(),
            "-l".into(),
            text.into(),
        ]);
    }

    pub fn screen(&self) -> String {
        self.run(&[
            "capture-pane".into(),
            "-p".into(),
            "-t".into(),
            "tui".into(),
        ])
    }

    /// Polls the screen until `want` is on it; fails with the screen after `WAIT`.
    pub async fn wait_for(&self, want: &str) -> String {
        self.wait_until(want, |s| s.contains(want)).await
    }

    /// Polls until `want` is on the screen and the table's rows have arrived: the users
    /// screen shows its totals before the page itself, and a key sent in between (space,
    /// `j`) would act on an empty table.
    pub async fn wait_for_rows(&self, want: &str) -> String {
        self.wait_until(want, |s| s.contains(want) && !s.contains("  loading…"))
            .await
    }

    pub async fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > WAIT {
                panic!("waited for {what:?}; the screen is:\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.server)
            .arg("kill-server")
            .output();
    }
}

pub fn tui_bin() -> PathBuf {
    let bin = bin_dir().join("mama-tui");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` first (or set MAMA_BIN_DIR)",
        bin.display()
    );
    bin
}

/// `mama-tui` on the daemon's socket, without colours or mouse.
pub fn tui_command(daemon: &Daemon) -> Vec<String> {
    vec![
        "env".to_string(),
        "NO_COLOR=1".into(),
        "TERM=xterm-256color".into(),
        tui_bin().display().to_string(),
        "--socket".into(),
        daemon.socket.display().to_string(),
        "--no-mouse".into(),
    ]
}
