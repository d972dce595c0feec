//! The `helpdesk` command as a user runs it: config check, serve, and the
//! ticket listings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn helpdesk() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    command
        .current_dir(workspace())
        .env_remove("HELPDESK_STORE")
        .env("RUST_LOG", "info");
    command
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn temp_dir() -> PathBuf {
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

#[test]
fn config_check_accepts_the_example_config() {
    let output = helpdesk()
        .args(["config", "check", "config/helpdesk.yaml"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("OK"));
}

#[test]
fn config_check_reports_broken_references_with_file_line_and_hint_and_fails() {
    let output = helpdesk()
        .args([
            "config",
            "check",
            "shared/tests/fixtures/config/broken-references.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken-references.yaml:16:28: unknown agent \"anne\""),
        "{stderr}"
    );
    assert!(stderr.contains("hint: did you mean \"anna\"?"), "{stderr}");
    assert!(stderr.contains("9 problem(s) found"), "{stderr}");
}

#[test]
fn config_check_uses_helpdesk_config_when_no_file_is_given() {
    let output = helpdesk()
        .args(["config", "check"])
        .env(
            "HELPDESK_CONFIG",
            "shared/tests/fixtures/config/unknown-key.yaml",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown-key.yaml:9:"));
}

struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path, blobs: &Path) -> Server {
    let mut child = helpdesk()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(db)
        .arg("--blobs")
        .arg(blobs)
        .arg("--mail-transport")
        .arg(format!(
            "outbox:{}",
            blobs.with_file_name("outbox").display()
        ))
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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

fn post_json(address: &str, path: &str, body: &str) -> (u16, String) {
    post(address, path, "application/json", body)
}

fn post(address: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[test]
fn a_form_posted_to_serve_shows_up_in_tickets_list_and_show() {
    let dir = temp_dir();
    let db = dir.join("helpdesk.db");
    let server = serve(&db, &dir.join("blobs"));
    let (status, body) = post_json(
        &server.address,
        "/forms/support",
        r#"{"name":"Jane","email":"jane@customer.org","subject":"Site down","message":"503 everywhere","topic":"outage"}"#,
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("\"ticket\":\"SUP-1\""), "{body}");
    drop(server);

    let output = helpdesk()
        .args(["tickets", "list", "--json"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ticket = &list[0];
    for field in [
        "key",
        "queue",
        "summary",
        "status",
        "line",
        "priority",
        "assignee",
        "components",
        "requester_email",
        "channel",
        "created_at",
    ] {
        assert!(
            ticket.get(field).is_some(),
            "list --json lacks {field}: {ticket}"
        );
    }
    assert_eq!(ticket["key"], "SUP-1");
    assert_eq!(ticket["priority"], "critical");
    assert_eq!(ticket["line"], 2);
    assert_eq!(ticket["components"], serde_json::json!(["Outages"]));
    assert_eq!(ticket["requester_email"], "jane@customer.org");
    assert_eq!(ticket["channel"], "form");

    let table = helpdesk()
        .args(["tickets", "list"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.lines().next().unwrap().starts_with("KEY"), "{table}");
    assert!(
        table.contains("SUP-1") && table.contains("Site down"),
        "{table}"
    );

    let show = helpdesk()
        .args(["tickets", "show", "SUP-1", "--json"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "form_submitted"]);

    let missing = helpdesk()
        .args(["tickets", "show", "SUP-99"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_raw_mail_posted_to_serve_becomes_a_ticket_once() {
    let dir = temp_dir();
    let db = dir.join("helpdesk.db");
    let server = serve(&db, &dir.join("blobs"));
    let mail = "From: Jane <jane@customer.org>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <cli-1@customer.org>\r\n\r\nIt burns.\r\n";
    let (status, body) = post(&server.address, "/mail", "message/rfc822", mail);
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("new ticket SUP-1"), "{body}");
    let (status, body) = post(&server.address, "/mail", "message/rfc822", mail);
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("already recorded on SUP-1"), "{body}");
    let (status, _) = post(&server.address, "/mail", "message/rfc822", "");
    assert_eq!(status, 400, "data that is no mail");
    drop(server);
    let output = helpdesk()
        .args(["tickets", "list", "--json"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["channel"], "email");
    let _ = std::fs::remove_dir_all(dir);
}
