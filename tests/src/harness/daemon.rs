//! The real `mama-daemon` binary, started on a temp data dir and ephemeral ports.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::database::TestDatabase;
use super::rpc::RpcClient;

/// Where the workspace's binaries are: `MAMA_BIN_DIR`, else `<workspace>/target/debug`
/// (honouring `CARGO_TARGET_DIR`).
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("MAMA_BIN_DIR") {
        return dir.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug")
}

pub fn daemon_bin() -> PathBuf {
    let bin = bin_dir().join("mama-daemon");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` first (or set MAMA_BIN_DIR)",
        bin.display()
    );
    bin
}

/// A running daemon; killed when dropped.
pub struct Daemon {
    child: Child,
    pub dir: tempfile::TempDir,
    pub db: TestDatabase,
    pub rest: SocketAddr,
    pub admin_tcp: SocketAddr,
    pub socket: PathBuf,
    /// Everything the daemon logged so far is appended here by a thread.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Daemon {
    /// Starts a daemon on a new, empty database.
    pub fn start() -> Daemon {
        Daemon::start_with(&[], &[])
    }

    /// Starts a daemon with extra flags and environment variables.
    pub fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::create(dir.path());
        Daemon::start_on(dir, db, args, envs)
    }

    /// Starts a daemon on an existing data dir and database (restarts).
    pub fn start_on(
        dir: tempfile::TempDir,
        db: TestDatabase,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Daemon {
        let data = dir.path().join("data");
        let socket = data.join("admin.sock");
        let mut cmd = serve_command(&data, &db, args, envs);
        let mut child = cmd.spawn().expect("mama-daemon starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("mama-daemon ready") {
                    let _ = tx.send(line.clone());
                }
                if let Ok(mut l) = log2.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let ready = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "mama-daemon did not become ready:\n{}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        };
        let rest = field(&ready, "rest=")
            .parse()
            .expect("rest address in the ready line");
        let admin_tcp = field(&ready, "admin_tcp=Some(")
            .trim_end_matches(')')
            .parse()
            .expect("admin address");
        Daemon {
            child,
            dir,
            db,
            rest,
            admin_tcp,
            socket,
            log,
        }
    }

    /// A JSON-RPC client over the Unix socket.
    pub fn rpc(&self) -> RpcClient {
        RpcClient::unix(self.socket.clone())
    }

    /// A JSON-RPC client over the admin TCP port.
    pub fn rpc_tcp(&self) -> RpcClient {
        RpcClient::tcp(self.admin_tcp)
    }

    pub fn rest_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.rest)
    }

    /// `POST /api/v1/users/lookup` with a service `token`: the status and the JSON body.
    pub async fn lookup(&self, token: &str, ids: &[&str]) -> (u16, serde_json::Value) {
        let resp = reqwest::Client::new()
            .post(self.rest_url("/api/v1/users/lookup"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "user_ids": ids }))
            .send()
            .await
            .expect("REST answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    /// Logs in as admin/admin, changes the password, returns a client with the new session.
    pub async fn admin(&self) -> RpcClient {
        let mut rpc = self.rpc();
        rpc.login("admin", "admin").await;
        let reply = rpc
            .call(
                "auth.change_password",
                serde_json::json!({"old_password": "admin", "new_password": ADMIN_PASSWORD}),
            )
            .await;
        rpc.token = Some(reply.ok()["token"].as_str().expect("token").to_string());
        rpc
    }

    /// Stops the daemon with SIGKILL and hands back its data dir and database (to restart).
    pub fn kill(mut self) -> (tempfile::TempDir, TestDatabase) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let db = std::mem::replace(&mut self.db, TestDatabase::placeholder());
        (dir, db)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (bounded) for the exit status; None if it did not exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Runs another `mama-daemon` command on this daemon's data dir and database; flags given
    /// after the subcommand name override those.
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        let (sub, rest) = args.split_first().expect("a subcommand");
        Command::new(daemon_bin())
            .arg(sub)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--database-url", &self.db.url])
            .args(rest)
            .env_remove("MAMA_CONFIG")
            .output()
            .expect("mama-daemon runs")
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The password tests give the bootstrap admin.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// `mama-daemon serve` on `data` and `db`, on free loopback ports, its log piped, with the
/// test's extra flags and environment.
fn serve_command(
    data: &std::path::Path,
    db: &TestDatabase,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Command {
    let mut cmd = Command::new(daemon_bin());
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(data)
        .args(["--database-url", &db.url])
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(["--log", "info"])
        .args(args)
        .env_remove("MAMA_CONFIG")
        .env_remove("MAMA_BOOTSTRAP_PASSWORD")
        // Deletes are final in the tests written before the trash (issue 18); the trash's own
        // tests give `--trash-days` (a flag wins over the environment).
        .env("MAMA_TRASH_DAYS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(key).map(|i| i + key.len()).unwrap_or(line.len());
    line[start..].split_whitespace().next().unwrap_or("")
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Starts `mama-daemon serve` on `dir` and `db` as [`Daemon::start_on`] does, and kills it
    /// with SIGKILL `after` it was spawned, ready or not: a kill during start-up (migrations,
    /// key checks, the first claims and reconcile). Hands back the data dir and database, and
    /// whether the daemon had said it was ready before it was killed.
    pub fn start_and_kill_after(
        dir: tempfile::TempDir,
        db: TestDatabase,
        args: &[&str],
        envs: &[(&str, &str)],
        after: Duration,
    ) -> (tempfile::TempDir, TestDatabase, bool) {
        let mut cmd = serve_command(&dir.path().join("data"), &db, args, envs);
        let mut child = cmd.spawn().expect("mama-daemon starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let ready = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let said = ready.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("mama-daemon ready") {
                    said.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        std::thread::sleep(after);
        let _ = child.kill();
        let _ = child.wait();
        // The pipe closes with the process: the reader has seen every line it wrote.
        let _ = reader.join();
        (dir, db, ready.load(std::sync::atomic::Ordering::SeqCst))
    }
}
