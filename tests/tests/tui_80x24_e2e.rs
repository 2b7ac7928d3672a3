//! Everything readable at 80×24, against the real `mama-tui` and `mama-daemon` binaries: the
//! screen tabs stay (as numbers), the help scrolls to its last key, and a message too long for
//! the status line is cut with `! more` and `!` shows it whole.
//!
//! Binaries come from `MAMA_BIN_DIR`, else `<workspace>/target/debug`: run
//! `cargo build --workspace` first. Skipped, with a note, when `tmux` is not installed.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::Daemon;

#[tokio::test]
async fn every_screen_part_is_readable_at_80x24() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    // Sets the bootstrap admin's password.
    let _rpc = daemon.admin().await;
    let tmux = Tmux::start("small", &tui_command(&daemon));
    tmux.run(&[
        "resize-window".into(),
        "-t".into(),
        "tui".into(),
        "-x".into(),
        "80".into(),
        "-y".into(),
        "24".into(),
    ]);
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    let users = tmux.wait_for("total 0").await;
    let title = users.lines().next().unwrap_or_default();
    assert!(title.contains("1 2 3 4 5 6 7 8"), "{users}");

    // The help is taller than the screen: it says so, and G reaches its last key.
    tmux.keys(&["?"]);
    let help = tmux.wait_for("↓ more").await;
    assert!(help.contains("Users keys"), "{help}");
    tmux.keys(&["G"]);
    let end = tmux
        .wait_until("the help's end", |s| {
            s.contains(" of ") && !s.contains("↓ more")
        })
        .await;
    assert!(end.contains("quit"), "{end}");
    tmux.keys(&["Escape"]);
    tmux.wait_until("the help closed", |s| !s.contains("Users keys"))
        .await;

    // A long error is cut on the status line; `!` shows all of it.
    tmux.keys(&[":"]);
    tmux.text("nosuchcommand");
    tmux.keys(&["Enter"]);
    tmux.wait_for("! more").await;
    tmux.keys(&["!"]);
    let popup = tmux.wait_for("Error").await;
    for word in ["unknown command :nosuchcommand", ":reconcile", ":q)"] {
        assert!(popup.contains(word), "{word:?} not in:\n{popup}");
    }
}
