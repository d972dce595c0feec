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
