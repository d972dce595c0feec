//! `helpdesk triggers test`: the dry run over a stream event or a ticket
//! change file, with the example configuration's triggers.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::support::{helpdesk, temp_dir};

/// The `NewImage` of a new billing ticket on line 1, as the table's stream
/// delivers it (Monday 2 March 2026, 11:00 in Berlin: office hours).
const BILLING_INSERT: &str = r#"{"Records": [{
  "eventID": "1", "eventName": "INSERT", "eventVersion": "1.1",
  "eventSource": "aws:dynamodb", "awsRegion": "eu-central-1",
  "dynamodb": {
    "ApproximateCreationDateTime": 1772445600,
    "Keys": {"pk": {"S": "TICKET#SUP-1"}, "sk": {"S": "TICKET"}},
    "NewImage": {
      "pk": {"S": "TICKET#SUP-1"}, "sk": {"S": "TICKET"}, "item_type": {"S": "ticket"},
      "gsi1pk": {"S": "QUEUE#SUP"}, "gsi1sk": {"S": "2026-03-02T10:00:00.000000000Z#00000000000000000001"},
      "key": {"S": "SUP-1"}, "queue": {"S": "SUP"},
      "summary": {"S": "Invoice twice"}, "description": {"S": "Charged twice"},
      "status": {"S": "New"}, "priority": {"S": "normal"}, "line": {"N": "1"},
      "components": {"L": [{"S": "Billing"}]}, "tags": {"L": []},
      "requester": {"M": {"email": {"S": "lee@customer.org"}, "name": {"S": "Lee"}}},
      "participants": {"L": []}, "channel": {"S": "form"},
      "custom_fields": {"M": {"topic": {"S": "billing"}}},
      "created_at": {"S": "2026-03-02T10:00:00Z"}, "updated_at": {"S": "2026-03-02T10:00:00Z"},
      "reopen_count": {"N": "0"}, "version": {"N": "1"}
    },
    "SequenceNumber": "100", "SizeBytes": 512, "StreamViewType": "NEW_AND_OLD_IMAGES"
  },
  "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/helpdesk/stream/2026-01-01T00:00:00.000"
}]}"#;

/// A SUP-1 ticket as the store keeps it, with `status` and `line`.
fn ticket(version: u64, status: &str, line: u8) -> Value {
    json!({
        "key": "SUP-1", "queue": "SUP",
        "summary": "Invoice twice", "description": "Charged twice",
        "status": status, "priority": "normal", "line": line,
        "components": ["Billing"], "tags": [], "assignee": "anna",
        "requester": {"email": "lee@customer.org", "name": "Lee"},
        "channel": "form",
        "created_at": "2026-03-02T10:00:00Z", "updated_at": "2026-03-02T10:05:00Z",
        "version": version
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn dry_run(file: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    helpdesk()
        .args(["triggers", "test"])
        .arg(file)
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn a_billing_ticket_insert_fires_line_1_and_billing_with_first_line_and_anna() {
    let dir = temp_dir();
    let event = write(&dir, "insert.json", BILLING_INSERT);
    let out = stdout(&dry_run(&event, &[], &[]));
    assert!(
        out.starts_with("dry run: nothing is written or sent"),
        "{out}"
    );
    for expected in [
        "record 1 of 1 (eventID 1, INSERT): new ticket SUP-1 version 1, depth 0, by system",
        "events: created",
        "1. Line 1 goes to the first line: FIRED",
        "2. Billing goes to its owner: FIRED",
        "3. Line 2 goes to the second line: did not match",
        "4. Tell the team in Telegram about status changes: did not match (listens to fields_changed)",
        "status: New → First line (by Line 1 goes to the first line)",
        "assignee: (none) → anna (by Billing goes to its owner)",
        "business hours: calendar office at 2026-03-02T10:00:00+00:00: open",
        "effects: none",
        "problems: none",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_prints_one_plan_per_record_with_what_fired() {
    let dir = temp_dir();
    let event = write(&dir, "insert.json", BILLING_INSERT);
    let out = stdout(&dry_run(&event, &["--json"], &[]));
    let plans: Value = serde_json::from_str(&out).unwrap();
    let plans = plans.as_array().unwrap();
    assert_eq!(plans.len(), 1);
    assert_eq!(
        plans[0]["fired"],
        json!(["Line 1 goes to the first line", "Billing goes to its owner"])
    );
    assert_eq!(plans[0]["updated"]["status"], "First line");
    assert_eq!(plans[0]["updated"]["assignee"], "anna");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_change_file_moving_a_ticket_from_line_1_to_2_fires_line_2() {
    let dir = temp_dir();
    let change = json!({
        "before": ticket(3, "First line", 1),
        "after": ticket(4, "First line", 2),
        "actor": {"kind": "agent", "login": "anna"}
    });
    let file = write(&dir, "line2.json", &change.to_string());
    let out = stdout(&dry_run(&file, &[], &[]));
    for expected in [
        "change file: a change of SUP-1 version 4, depth 0, by agent anna",
        "events: fields_changed",
        "1. Line 1 goes to the first line: did not match",
        "3. Line 2 goes to the second line: FIRED",
        "status: First line → Second line (by Line 2 goes to the second line)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_status_change_shows_the_telegram_message_and_names_the_url_variable_not_its_secret() {
    let dir = temp_dir();
    let change = json!({
        "before": ticket(4, "Second line", 2),
        "after": ticket(5, "In progress", 2),
        "actor": {"kind": "agent", "login": "boris"}
    });
    let file = write(&dir, "status.json", &change.to_string());
    let env = [
        (
            "HELPDESK_TELEGRAM_URL",
            "https://api.telegram.org/bot123456:SECRET-TOKEN/sendMessage",
        ),
        ("HELPDESK_TELEGRAM_CHAT_ID", "-1001234"),
    ];
    let out = stdout(&dry_run(&file, &[], &env));
    for expected in [
        "4. Tell the team in Telegram about status changes: FIRED",
        "1. webhook (Tell the team in Telegram about status changes): telegram POST to the URL in $HELPDESK_TELEGRAM_URL (set)",
        "\"chat_id\": -1001234",
        "\"text\": \"SUP-1 Invoice twice: Second line -> In progress\"",
        "problems: none",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains("SECRET-TOKEN"), "the URL leaked:\n{out}");

    let plans: Value = serde_json::from_str(&stdout(&dry_run(&file, &["--json"], &env))).unwrap();
    assert_eq!(
        plans[0]["effects"][0]["effect"]["target"],
        json!({"env": "HELPDESK_TELEGRAM_URL"})
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_the_chat_id_variable_the_telegram_trigger_reports_a_problem() {
    let dir = temp_dir();
    let change = json!({
        "before": ticket(4, "Second line", 2),
        "after": ticket(5, "In progress", 2)
    });
    let file = write(&dir, "status.json", &change.to_string());
    let out = stdout(&dry_run(&file, &[], &[]));
    assert!(out.contains("effects: none"), "{out}");
    assert!(
        out.contains("- Tell the team in Telegram about status changes: environment variable HELPDESK_TELEGRAM_CHAT_ID (chat_id_env) is not set"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn follow_also_evaluates_the_planned_write_where_telegram_hears_of_first_line() {
    let dir = temp_dir();
    let event = write(&dir, "insert.json", BILLING_INSERT);
    let env = [
        ("HELPDESK_TELEGRAM_URL", "https://example.invalid/hook"),
        ("HELPDESK_TELEGRAM_CHAT_ID", "42"),
    ];
    let out = stdout(&dry_run(&event, &["--follow"], &env));
    assert!(
        out.contains("then the planned write (simulated): a change of SUP-1 version 2, depth 1"),
        "{out}"
    );
    assert!(
        out.contains("\"text\": \"SUP-1 Invoice twice: New -> First line\""),
        "{out}"
    );
    let plans: Value =
        serde_json::from_str(&stdout(&dry_run(&event, &["--follow", "--json"], &env))).unwrap();
    let depths: Vec<&Value> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["depth"])
        .collect();
    assert_eq!(depths, [&json!(0), &json!(1)]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn timeline_records_of_a_stream_event_are_skipped_with_the_reason() {
    let dir = temp_dir();
    let event = json!({"Records": [{
        "eventID": "7", "eventName": "INSERT", "awsRegion": "eu-central-1",
        "dynamodb": {
            "Keys": {"pk": {"S": "TICKET#SUP-1"}, "sk": {"S": "TL#00000000000000001000"}},
            "NewImage": {"pk": {"S": "TICKET#SUP-1"}, "sk": {"S": "TL#00000000000000001000"}, "item_type": {"S": "timeline"}},
            "SequenceNumber": "101", "SizeBytes": 90, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    }]});
    let file = write(&dir, "timeline.json", &event.to_string());
    let out = stdout(&dry_run(&file, &[], &[]));
    assert!(
        out.contains("record 1 of 1 (eventID 7, INSERT): skipped: timeline entry"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_garbage_event_file_exits_2_naming_the_file_and_the_problem() {
    let dir = temp_dir();
    let cases = [
        ("garbage.json", "this is not JSON", "is not JSON"),
        (
            "other.json",
            r#"{"hello": "world"}"#,
            "is neither a DynamoDB stream event",
        ),
        (
            "record.json",
            r#"{"Records": [{"eventID": "x", "eventName": "INSERT"}]}"#,
            "record 1 of 1 (eventID x): not a DynamoDB stream record",
        ),
        (
            "change.json",
            r#"{"after": {"key": "SUP-1"}}"#,
            "is not a valid ticket change file: missing field",
        ),
    ];
    for (name, text, expected) in cases {
        let file = write(&dir, name, text);
        let output = dry_run(&file, &[], &[]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}");
    }
    let output = dry_run(&dir.join("missing.json"), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_config_exits_1_with_the_findings_of_config_check() {
    let dir = temp_dir();
    let event = write(&dir, "insert.json", BILLING_INSERT);
    let output = helpdesk()
        .args([
            "triggers",
            "test",
            "--config",
            "shared/tests/fixtures/config/unknown-key.yaml",
        ])
        .arg(&event)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown-key.yaml:9:"), "{stderr}");
    assert!(stderr.contains("1 problem(s) found"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
