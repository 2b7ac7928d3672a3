//! Start-up and serving: open and migrate the database (see [`crate::database`]), make sure the first admin exists, load
//! the secrets, bind every listener, tell systemd we are ready, serve until SIGTERM.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use mama_core::crypto::load_or_create_secret_file;
use mama_core::ops::{CoreConfig, Mama};
use tokio::net::{TcpListener, UnixListener};

use crate::config::Settings;
use crate::database::{ensure_private_dir, open_database, Use};
use crate::listen;
use crate::routes;
use crate::state::AppState;

pub async fn serve(settings: Settings) -> Result<()> {
    ensure_private_dir(&settings.data_dir)?;
    if let Some(problem) = crate::commands::writable_by_others(&settings.data_dir)
        .or_else(|| crate::commands::readable_by_others(&settings.data_dir))
    {
        bail!("refusing to start: {problem}");
    }
    let db = {
        let s = settings.clone();
        tokio::task::spawn_blocking(move || open_database(&s, Use::Serve)).await??
    };
    // First, so that a refused start creates no file. The lock is held until the daemon exits.
    let (cipher, _key_lock) = {
        let (s, db) = (settings.clone(), db.clone());
        tokio::task::spawn_blocking(move || crate::encryption_key::open_for_serve(&s, &db))
            .await??
    };
    let jwt_secret = load_or_create_secret_file(&settings.jwt_key_file, 32)
        .with_context(|| format!("session signing key {}", settings.jwt_key_file.display()))?;
    let jwt =
        mama_core::auth::JwtKeys::from_secret(&jwt_secret)?.with_session_ttl(settings.session_ttl);
    let mama = Mama::new(
        db,
        jwt,
        cipher,
        CoreConfig {
            bootstrap_password: settings.bootstrap_password.clone(),
            rotation_grace: settings.rotation_grace,
            usage_backfill_days: settings.usage_backfill_days,
            trash_days: settings.trash_days,
        },
    );
    {
        let m = mama.clone();
        if tokio::task::spawn_blocking(move || m.ensure_bootstrap_admin()).await?? {
            tracing::warn!(
                "created super admin \"admin\"; log in with mama-tui and change its password"
            );
        }
    }
    let state = AppState {
        mama,
        metrics: Default::default(),
        listener: "rest",
    };
    let sync = crate::worker::spawn(&settings, state.mama.clone())?;
    let pruner = crate::retention::spawn(state.mama.clone(), settings.events_retention);
    let rotator = crate::rotation::spawn(state.mama.clone());
    let trash = crate::trash::spawn(state.mama.clone());
    let collector = sync
        .is_some()
        .then(|| crate::usage::spawn(state.mama.clone(), settings.usage_every));

    let rest = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding REST listener {}", settings.listen))?;
    let admin_socket = bind_admin_socket(&settings.admin_socket)?;
    let admin_tcp = match settings.admin_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding admin listener {addr}"))?,
        ),
        None => None,
    };
    tracing::info!(
        rest = %rest.local_addr()?,
        admin_socket = %settings.admin_socket.display(),
        admin_tcp = ?admin_tcp.as_ref().and_then(|l| l.local_addr().ok()),
        "mama-daemon ready"
    );
    crate::notify::ready();
    crate::notify::spawn_watchdog();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rest_app = routes::rest_router(state.clone());
    let admin_app = routes::admin_router(state.clone());
    let state_for_flush = state.clone();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(listen::serve(
        listen::Listener::Tcp(rest),
        rest_app,
        stop_rx.clone(),
    ));
    tasks.spawn(listen::serve(
        listen::Listener::Unix(admin_socket),
        admin_app.clone(),
        stop_rx.clone(),
    ));
    if let Some(listener) = admin_tcp {
        tasks.spawn(listen::serve(
            listen::Listener::Tcp(listener),
            admin_app,
            stop_rx.clone(),
        ));
    }
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("stopping: finishing requests in flight"),
        Some(res) = tasks.join_next() => {
            res??;
            bail!("a listener stopped unexpectedly");
        }
    }
    crate::notify::stopping();
    let _ = stop_tx.send(true);
    rotator.abort();
    trash.abort();
    if let Some(collector) = collector {
        // A part of a collection in its transaction finishes or rolls back; none starts.
        collector.abort();
    }
    if let Some(pruner) = pruner {
        // A batch already in its transaction finishes on its blocking thread; none starts.
        pruner.abort();
    }
    // Listeners drain their requests while the sync worker finishes its operations.
    let drain = async {
        while let Some(res) = tasks.join_next().await {
            res??;
        }
        Ok::<_, anyhow::Error>(())
    };
    let stop_sync = async {
        if let Some(sync) = sync {
            sync.stop(std::time::Duration::from_secs(15)).await;
        }
    };
    let (drained, ()) = tokio::join!(
        tokio::time::timeout(std::time::Duration::from_secs(20), drain),
        stop_sync
    );
    match drained {
        Ok(result) => result?,
        Err(_) => tracing::warn!("requests still running after 20 s; exiting anyway"),
    }
    // The refusals counted since their interval's first event, so every request is accounted for.
    state_for_flush.mama.flush_refusals().await;
    let _ = std::fs::remove_file(&settings.admin_socket);
    Ok(())
}

/// Binds the admin socket with mode 0660, replacing a stale socket file (never another file).
fn bind_admin_socket(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                bail!("{} is in use by a running daemon", path.display());
            }
            std::fs::remove_file(path)?;
        } else {
            bail!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            );
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ensure_private_dir(dir)?;
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("binding admin socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
