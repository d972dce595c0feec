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
