//! systemd's notify protocol (`Type=notify`): one datagram to `$NOTIFY_SOCKET`. Written by hand
//! because it is three lines and needs no unsafe code.

fn send(message: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    if path.to_string_lossy().starts_with('@') {
        tracing::warn!("abstract NOTIFY_SOCKET is not supported; not notifying systemd");
        return;
    }
    let result = std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.send_to(message.as_bytes(), &path));
    if let Err(error) = result {
        tracing::warn!(%error, "could not notify systemd");
    }
}

/// After migrations ran and every listener is bound.
pub fn ready() {
    send("READY=1\nSTATUS=serving");
}

pub fn stopping() {
    send("STOPPING=1");
}

/// The watchdog interval systemd asked for (`WatchdogSec=` → `$WATCHDOG_USEC`), if it is meant
/// for this process (`$WATCHDOG_PID`, when set, must be ours).
pub fn watchdog_interval() -> Option<std::time::Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim() != std::process::id().to_string() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| std::time::Duration::from_micros(usec))
}

/// Pings the watchdog at half its interval from the async runtime: if the runtime stalls, the
/// pings stop and systemd restarts the daemon.
pub fn spawn_watchdog() {
    let Some(interval) = watchdog_interval() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval / 2);
        loop {
            tick.tick().await;
            send("WATCHDOG=1");
        }
    });
}
