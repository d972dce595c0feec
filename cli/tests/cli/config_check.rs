//! `helpdesk config check`.

use crate::support::helpdesk;

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
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("OK"), "{stdout}");
    assert!(
        stdout.contains("6 triggers, 3 SLA rules, 1 calendars"),
        "{stdout}"
    );
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
