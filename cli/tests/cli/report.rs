//! `helpdesk report volume` as an operator runs it: tickets opened by
//! mail, one resolved and reopened, one closed; the report counts them on
//! their day, with the backlog at the day's end, as a table, JSON and CSV.

use crate::support::{helpdesk_over, mailgate, temp_dir};

fn mail(n: u32) -> Vec<u8> {
    format!(
        "From: c{n}@customer.org\r\nTo: support@example.com\r\nSubject: Question {n}\r\nMessage-ID: <q{n}@customer.org>\r\n\r\nHelp, please.\r\n"
    )
    .into_bytes()
}

fn helpdesk(dir: &std::path::Path, args: &[&str]) -> String {
    let output = helpdesk_over(dir)
        .arg("--events")
        .arg(format!("log:{}", dir.join("events.jsonl").display()))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "helpdesk {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_volume_report_counts_todays_tickets_resolutions_reopens_and_backlog() {
    let dir = temp_dir();
    for n in 1..=3 {
        assert!(mailgate(&dir, &mail(n)).status.success());
    }
    helpdesk(
        &dir,
        &[
            "tickets", "set", "SUP-1", "--as", "anna", "--status", "Resolved",
        ],
    );
    helpdesk(
        &dir,
        &[
            "tickets", "set", "SUP-1", "--as", "anna", "--status", "Open",
        ],
    );
    helpdesk(
        &dir,
        &[
            "tickets", "set", "SUP-2", "--as", "anna", "--status", "Closed",
        ],
    );

    let today = chrono::Utc::now().date_naive().to_string();
    let json = helpdesk(
        &dir,
        &[
            "report", "volume", "--from", &today, "--to", &today, "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        report["rows"],
        serde_json::json!([{ "period": today, "created": 3, "resolved": 2, "reopened": 1, "backlog": 2 }])
    );

    let csv = helpdesk(
        &dir,
        &[
            "report", "volume", "--from", &today, "--to", &today, "--csv",
        ],
    );
    assert_eq!(
        csv,
        format!("period,created,resolved,reopened,backlog\n{today},3,2,1,2\n")
    );

    // With no dates: the last 30 days, one row each, today's last.
    let table = helpdesk(&dir, &["report", "volume"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 31, "{table}");
    assert!(lines[30].starts_with(&today), "{table}");
}

#[test]
fn report_rebuild_finds_nothing_to_repair_after_reports_and_repairs_a_broken_rollup() {
    let dir = temp_dir();
    for n in 1..=2 {
        assert!(mailgate(&dir, &mail(n)).status.success());
    }
    let today = chrono::Utc::now().date_naive().to_string();
    let volume = |dir: &std::path::Path| {
        let json = helpdesk(
            dir,
            &[
                "report", "volume", "--from", &today, "--to", &today, "--json",
            ],
        );
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["rows"][0]["created"].clone()
    };
    // The first report keeps the rollups of every ticket there is.
    assert_eq!(volume(&dir), 2);
    assert_eq!(
        helpdesk(&dir, &["report", "rebuild"]).trim(),
        "2 tickets read; 0 had report counters that differed from their timeline; 0 rollup counters repaired"
    );

    // A rollup counter lost (a broken restore, a hand edit): the report is
    // wrong until a rebuild repairs it and says so.
    let db = rusqlite::Connection::open(dir.join("helpdesk.db")).unwrap();
    let gone = db
        .execute("DELETE FROM rollup_days WHERE class = 'created:all'", [])
        .unwrap();
    assert_eq!(gone, 1, "one day's created counter");
    drop(db);
    assert_eq!(volume(&dir), 0);
    let said = helpdesk(&dir, &["report", "rebuild", "--json"]);
    let rebuilt: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(
        rebuilt,
        serde_json::json!({ "tickets": 2, "tickets_changed": 0, "counters_repaired": 1 })
    );
    assert_eq!(volume(&dir), 2);
}

#[test]
fn every_report_answers_from_the_command_line_with_its_columns() {
    let dir = temp_dir();
    assert!(mailgate(&dir, &mail(1)).status.success());
    helpdesk(
        &dir,
        &[
            "tickets", "set", "SUP-1", "--as", "anna", "--status", "Resolved",
        ],
    );
    for (name, columns) in [
        ("response-times", "group,metric,count,median_business"),
        ("sla", "group,metric,rule,met,breached,running,compliance"),
        (
            "reopens",
            "value,resolved,reopened,by_customer,by_agent,by_automation,rate",
        ),
        ("time-in-status", "status,value,stays,business_seconds"),
        ("agents", "agent,taken,answers,resolved,reopened"),
    ] {
        let csv = helpdesk(&dir, &["report", name, "--csv"]);
        assert!(csv.starts_with(columns), "{name}: {csv}");
    }
    let reopens = helpdesk(&dir, &["report", "reopens", "--csv"]);
    assert!(reopens.contains("\n(all),1,0,0,0,0,0.0\n"), "{reopens}");
    let stays = helpdesk(&dir, &["report", "time-in-status", "--json"]);
    let stays: serde_json::Value = serde_json::from_str(&stays).unwrap();
    assert_eq!(stays["rows"][0]["status"], "New", "{stays}");
    assert_eq!(stays["rows"][0]["stays"], 1, "{stays}");
}
