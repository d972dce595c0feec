//! `helpdesk agents token|tokens|revoke|password`: a token printed once,
//! alone on stdout, that `helpdesk serve`'s API takes until it is revoked;
//! a password read from stdin and stored only as an argon2id hash.

use std::io::Write;
use std::process::Stdio;

use crate::support::{get_with_token, helpdesk_over, post_json, serve, temp_dir};

#[test]
fn a_token_printed_once_opens_the_api_until_it_is_revoked() {
    let dir = temp_dir();
    let output = helpdesk_over(&dir)
        .args(["agents", "token", "anna", "--name", "laptop"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone on its line: {stdout:?}");
    let token = lines[0];
    assert!(token.starts_with("hd_") && token.len() == 46, "{token}");

    // The same label again is refused; the list names the label, never the token.
    let again = helpdesk_over(&dir)
        .args(["agents", "token", "anna", "--name", "laptop"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    let listed = helpdesk_over(&dir)
        .args(["agents", "tokens", "anna"])
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.starts_with("laptop\t"), "{listed}");
    assert!(!listed.contains(token));
    let unknown = helpdesk_over(&dir)
        .args(["agents", "token", "mallory"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(unknown.stdout.is_empty());

    let server = serve(&dir, &[]);
    let (status, body) = post_json(
        &server.address,
        "/forms/support",
        r#"{"name":"Jane","email":"jane@customer.org","subject":"Site down","message":"503 everywhere","topic":"outage"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = get_with_token(&server.address, "/api/v1/tickets", Some(token));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"key\":\"SUP-1\""), "{body}");
    let (status, _) = get_with_token(&server.address, "/api/v1/tickets", None);
    assert_eq!(status, 401);

    let revoked = helpdesk_over(&dir)
        .args(["agents", "revoke", "anna", "laptop"])
        .output()
        .unwrap();
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let (status, _) = get_with_token(&server.address, "/api/v1/tickets", Some(token));
    assert_eq!(status, 401, "refused at once, by the running server too");
    let twice = helpdesk_over(&dir)
        .args(["agents", "revoke", "anna", "laptop"])
        .output()
        .unwrap();
    assert!(!twice.status.success());
}

#[test]
fn a_password_from_stdin_is_stored_as_an_argon2id_hash_only() {
    let dir = temp_dir();
    let password = "correct horse battery staple";
    let mut child = helpdesk_over(&dir)
        .args(["agents", "password", "boris"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!logs.contains(password), "{logs}");

    let db = rusqlite::Connection::open(dir.join("helpdesk.db")).unwrap();
    let phc: String = db
        .query_row(
            "SELECT phc FROM passwords WHERE login = 'boris'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(!phc.contains(password));

    // Too short is refused and changes nothing.
    let mut child = helpdesk_over(&dir)
        .args(["agents", "password", "boris"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "short").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let after: String = db
        .query_row(
            "SELECT phc FROM passwords WHERE login = 'boris'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(after, phc);
}
