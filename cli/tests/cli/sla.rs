//! `helpdesk sla show|check` and the agent commands as a user runs them:
//! a form posted to `helpdesk serve` gets its SLA timers from the change
//! feed, `sla show --json` lists them with the business time left, and an
//! agent's public answer (`tickets comment --public`) meets first response.

use std::process::Output;
use std::time::Duration;

use crate::support::{helpdesk, post_json, serve, temp_dir, wait_for};

const TIMEOUT: Duration = Duration::from_secs(20);

fn run(db: &std::path::Path, args: &[&str]) -> Output {
    helpdesk()
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--mail-transport")
        .arg(format!("outbox:{}", db.with_file_name("outbox").display()))
        .arg("--events")
        .arg(format!(
            "log:{}",
            db.with_file_name("events.jsonl").display()
        ))
        .output()
        .unwrap()
}

fn timers_of(db: &std::path::Path, key: &str) -> Option<Vec<serde_json::Value>> {
    let output = run(db, &["sla", "show", key, "--json"]);
    if !output.status.success() {
        return None;
    }
    let timers: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    (!timers.is_empty()).then_some(timers)
}

#[test]
fn sla_show_lists_the_timers_a_new_ticket_gets_and_a_public_answer_meets_first_response() {
    let dir = temp_dir();
    let db = dir.join("helpdesk.db");
    let server = serve(&dir, &[]);
    let (status, body) = post_json(
        &server.address,
        "/forms/support",
        r#"{"name":"Lee","email":"lee@customer.org","subject":"Export broken","message":"Nothing happens","topic":"other"}"#,
    );
    assert_eq!(status, 201, "{body}");

    let timers = wait_for(TIMEOUT, "the SLA timers of SUP-1", || {
        timers_of(&db, "SUP-1")
    });
    let metrics: Vec<&str> = timers
        .iter()
        .map(|t| t["metric"].as_str().unwrap())
        .collect();
    assert_eq!(metrics, ["first_response", "resolution"]);
    for timer in &timers {
        for field in [
            "rule",
            "metric",
            "state",
            "deadline",
            "business_seconds_left",
        ] {
            assert!(timer.get(field).is_some(), "{field} missing in {timer}");
        }
        assert_eq!(timer["state"], "running");
        let left = timer["business_seconds_left"].as_i64().unwrap();
        assert!(left <= timer["limit_seconds"].as_i64().unwrap(), "{timer}");
    }
    assert_eq!(timers[0]["rule"], "First response");
    assert_eq!(timers[0]["limit_seconds"], 4 * 3600);

    let table = run(&db, &["sla", "show", "SUP-1"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("first_response") && table.contains("4h 00m"),
        "{table}"
    );

    let answered = run(
        &db,
        &[
            "tickets",
            "comment",
            "SUP-1",
            "--as",
            "boris",
            "--public",
            "We are on it.",
        ],
    );
    assert!(
        answered.status.success(),
        "{}",
        String::from_utf8_lossy(&answered.stderr)
    );
    assert!(
        String::from_utf8_lossy(&answered.stdout).contains("mailed to the customer"),
        "{}",
        String::from_utf8_lossy(&answered.stdout)
    );
    wait_for(TIMEOUT, "first response met", || {
        timers_of(&db, "SUP-1")
            .filter(|t| t[0]["state"] == "met")
            .map(|_| ())
    });

    let refused = run(
        &db,
        &[
            "tickets", "set", "SUP-1", "--as", "boris", "--status", "Nope",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a status"));

    let check = run(&db, &["sla", "check", "--json"]);
    assert!(check.status.success());
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["finished"], true);
    assert_eq!(report["breaches"], 0);
    drop(server);
}

#[test]
fn sla_show_of_a_missing_ticket_fails_with_a_message() {
    let dir = temp_dir();
    let output = run(&dir.join("helpdesk.db"), &["sla", "show", "SUP-99"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no ticket SUP-99"));
}
