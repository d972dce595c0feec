//! Running the binary: a command in the workspace, a temp directory, a
//! `helpdesk serve` on a free port, raw HTTP posts, and a webhook receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Variables of the developer's shell that would change what a test sees.
const ISOLATED: [&str; 6] = [
    "HELPDESK_STORE",
    "HELPDESK_CONFIG",
    "HELPDESK_DB",
    "HELPDESK_EVENTS",
    "HELPDESK_TELEGRAM_URL",
    "HELPDESK_TELEGRAM_CHAT_ID",
];

/// `helpdesk` run in the workspace, with none of [`ISOLATED`] inherited.
pub fn helpdesk() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    command.current_dir(workspace()).env("RUST_LOG", "info");
    for name in ISOLATED {
        command.env_remove(name);
    }
    command
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `helpdesk` over the SQLite file, blobs and outbox of `dir`
/// (`helpdesk.db`, `blobs/`, `outbox/`); the subcommand comes after.
pub fn helpdesk_over(dir: &Path) -> Command {
    let mut command = helpdesk();
    command
        .arg("--db")
        .arg(dir.join("helpdesk.db"))
        .arg("--blobs")
        .arg(dir.join("blobs"))
        .arg("--mail-transport")
        .arg(format!("outbox:{}", dir.join("outbox").display()));
    command
}

/// `helpdesk mailgate --queue SUP` taking `raw` on stdin, over the store
/// of `dir` ([`helpdesk_over`]), as an MTA's pipe alias runs it.
pub fn mailgate(dir: &Path, raw: &[u8]) -> std::process::Output {
    let mut child = helpdesk_over(dir)
        .args(["mailgate", "--queue", "SUP"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("helpdesk-cli-{}", std::process::id()))
        .join(format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Server {
    child: Child,
    pub address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `helpdesk serve` on a free port over `dir/helpdesk.db`, with its blobs,
/// outbox and events log in `dir`, and `env` set.
pub fn serve(dir: &Path, env: &[(&str, &str)]) -> Server {
    serve_with(dir, env, &[])
}

/// [`serve`] with more options for `serve` (timeouts, limits).
pub fn serve_with(dir: &Path, env: &[(&str, &str)], options: &[&str]) -> Server {
    let mut command = helpdesk_over(dir);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(options)
        .arg("--events")
        .arg(format!("log:{}", dir.join("events.jsonl").display()))
        .env("NO_COLOR", "1")
        // Webhooks to the test's own receiver never go through a proxy.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .envs(env.iter().copied())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, address }
}

pub fn post_json(address: &str, path: &str, body: &str) -> (u16, String) {
    post(address, path, "application/json", body)
}

/// The status and the body of the response on `stream` (the server
/// closes it: `Connection: close`).
fn read_response(mut stream: TcpStream) -> (u16, String) {
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

pub fn post(address: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(stream)
}

/// `GET path` with `Authorization: Bearer <token>` (none when `token` is
/// `None`): the status and the body.
pub fn get_with_token(address: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n"
    )
    .unwrap();
    read_response(stream)
}

/// `helpdesk tickets show KEY --json` over `db`, while a server may be
/// running on it; none when the ticket does not exist (yet).
pub fn show_ticket(db: &Path, key: &str) -> Option<serde_json::Value> {
    let output = helpdesk()
        .args(["tickets", "show", key, "--json"])
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).unwrap())
}

/// Calls `probe` until it answers, or panics after `timeout` saying `what`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One request a [`WebhookReceiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub idempotency_key: Option<String>,
    pub body: serde_json::Value,
}

/// A tiny axum server on 127.0.0.1 that answers every POST with 200 and
/// records it, standing in for Telegram's Bot API.
pub struct WebhookReceiver {
    pub address: std::net::SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WebhookReceiver {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(axum::routing::post(
                    move |uri: axum::http::Uri,
                          headers: axum::http::HeaderMap,
                          body: axum::body::Bytes| {
                        let log = Arc::clone(&log);
                        async move {
                            let body = serde_json::from_slice(&body)
                                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into());
                            log.lock().unwrap().push(Received {
                                path: uri.path().to_owned(),
                                idempotency_key: headers
                                    .get("idempotency-key")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned),
                                body,
                            });
                            r#"{"ok":true}"#
                        }
                    },
                ));
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self {
            address,
            received,
            _stop: stop,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
