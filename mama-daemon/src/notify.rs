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
