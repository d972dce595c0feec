//! `helpdesk serve` with forms and mail, then `helpdesk tickets list|show`.

use crate::support::{helpdesk, post, post_json, serve, temp_dir};

#[test]
fn a_form_posted_to_serve_shows_up_in_tickets_list_and_show() {
    let dir = temp_dir();
    let db = dir.join("helpdesk.db");
    let server = serve(&dir, &[]);
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
    // The triggers may have added their entries after these (the server
    // runs them as soon as the ticket is written).
    assert_eq!(kinds[..2], ["created", "form_submitted"], "{kinds:?}");

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
    let server = serve(&dir, &[]);
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

/// A mail with one attachment of `size` bytes, base64 in lines of 76.
fn mail_with_attachment(size: usize) -> String {
    use base64::Engine as _;
    let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let mut mail = String::with_capacity(encoded.len() + encoded.len() / 38 + 1024);
    mail.push_str("From: Jane <jane@customer.org>\r\nTo: support@example.com\r\n");
    mail.push_str("Subject: The scan\r\nMessage-ID: <big-1@customer.org>\r\nMIME-Version: 1.0\r\n");
    mail.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    mail.push_str("--b\r\nContent-Type: text/plain\r\n\r\nThe scan, attached.\r\n");
    mail.push_str("--b\r\nContent-Type: application/pdf\r\n");
    mail.push_str("Content-Disposition: attachment; filename=\"scan.pdf\"\r\n");
    mail.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    for line in encoded.as_bytes().chunks(76) {
        mail.push_str(std::str::from_utf8(line).unwrap());
        mail.push_str("\r\n");
    }
    mail.push_str("--b--\r\n");
    mail
}

#[test]
fn post_mail_takes_what_the_mailgate_takes_and_refuses_larger_as_problem_json() {
    let dir = temp_dir();
    let server = serve(&dir, &[]);
    // A 21 MB attachment, 28.7 MB as mail: within the desk's 25 MiB
    // attachment limit, so taken as the mailgate would take it.
    let mail = mail_with_attachment(21_000_000);
    assert!(mail.len() > 28_000_000, "{}", mail.len());
    let (status, body) = post(&server.address, "/mail", "message/rfc822", &mail);
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("new ticket SUP-1"), "{body}");

    // Beyond what any kept attachment needs: refused, as problem+json.
    let huge = mail_with_attachment(40_000_000);
    let (status, body) = post_refused(&server.address, "/mail", &huge);
    assert_eq!(status, 413, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).expect("problem+json");
    assert_eq!(problem["type"], "/problems/too-large", "{body}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("max_attachment_bytes"),
        "{body}"
    );

    let (status, body) = post(&server.address, "/mail", "message/rfc822", "");
    assert_eq!(status, 400);
    let problem: serde_json::Value = serde_json::from_str(&body).expect("problem+json");
    assert_eq!(problem["type"], "/problems/not-mail", "{body}");
}

/// A post the server may refuse before it has read the whole body: writing
/// may fail once it answered and closed; the answer is read all the same.
fn post_refused(address: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: message/rfc822\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body.as_bytes());
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}
