//! `helpdesk serve` runs the trigger engine over the store's change feed:
//! a billing form ends on the first line with its owner, and the team's
//! Telegram chat hears about the status change exactly once.

use std::time::Duration;

use crate::support::{WebhookReceiver, post_json, serve, show_ticket, temp_dir, wait_for};

const TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn serve_runs_the_triggers_so_a_billing_form_lands_on_the_first_line_with_anna_and_telegram_hears_once()
 {
    let telegram = WebhookReceiver::start();
    let url = telegram.url("/bot123456:SECRET/sendMessage");
    let dir = temp_dir();
    let db = dir.join("helpdesk.db");
    let server = serve(
        &dir,
        &[
            ("HELPDESK_TELEGRAM_URL", url.as_str()),
            ("HELPDESK_TELEGRAM_CHAT_ID", "42"),
        ],
    );
    let (status, body) = post_json(
        &server.address,
        "/forms/support",
        r#"{"name":"Lee","email":"lee@customer.org","subject":"Invoice twice","message":"Charged twice","topic":"billing"}"#,
    );
    assert_eq!(status, 201, "{body}");

    let ticket = wait_for(TIMEOUT, "SUP-1 on First line with anna", || {
        show_ticket(&db, "SUP-1").filter(|t| t["status"] == "First line" && t["assignee"] == "anna")
    });
    let by_trigger: Vec<(&str, &str)> = ticket["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["kind"] == "trigger" && e["type"] == "field_changed")
        .map(|e| {
            (
                e["field"].as_str().unwrap(),
                e["actor"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_trigger,
        [
            ("status", "Line 1 goes to the first line"),
            ("assignee", "Billing goes to its owner")
        ]
    );

    // New -> First line is a status change: the Telegram trigger fires for
    // the triggers' own write, once.
    wait_for(TIMEOUT, "the Telegram message", || {
        (!telegram.received().is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    let received = telegram.received();
    assert_eq!(received.len(), 1, "exactly one message: {received:?}");
    let message = &received[0];
    assert_eq!(message.path, "/bot123456:SECRET/sendMessage");
    assert_eq!(message.body["chat_id"], 42);
    let text = message.body["text"].as_str().unwrap();
    assert!(text.contains("SUP-1"), "{text}");
    assert!(text.contains("New -> First line"), "{text}");
    assert!(message.idempotency_key.is_some());

    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
