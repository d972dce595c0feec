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
        stdout.contains("7 triggers, 3 SLA rules, 1 calendars"),
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

#[test]
fn config_check_against_the_stack_parameters_names_each_difference_and_fails() {
    let check = |overrides: &str| {
        helpdesk()
            .args([
                "config",
                "check",
                "config/helpdesk.yaml",
                "--against-stack",
                overrides,
            ])
            .output()
            .unwrap()
    };
    // The README's deploy values.
    let good = check(
        "MailDomain=example.com MailRecipients=support@example.com,help@example.com AllowedOrigins=https://www.example.com",
    );
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("agrees with the stack parameters"));

    let bad = check(
        r#"MailDomain="mail.example.com" MailRecipients="support@example.com" AllowedOrigins="https://shop.example.com""#,
    );
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    for said in [
        "queue SUP: help@example.com is not among MailRecipients",
        "outside MailDomain (mail.example.com)",
        "form support: origin https://www.example.com is not among AllowedOrigins",
    ] {
        assert!(stderr.contains(said), "{said}: {stderr}");
    }

    let unreadable = check("MailDomain=\"example.com");
    assert_eq!(unreadable.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unreadable.stderr).contains("unclosed quote"));
}

/// Copies the workspace file `source` into a new directory as `name` and
/// runs `helpdesk config compile` on the copy.
fn compile_copy(source: &str, name: &str) -> (std::path::PathBuf, std::process::Output) {
    let dir = crate::support::temp_dir();
    let config = dir.join(name);
    std::fs::copy(crate::support::workspace().join(source), &config).unwrap();
    let output = helpdesk()
        .args(["config", "compile"])
        .arg(&config)
        .output()
        .unwrap();
    (config, output)
}

#[test]
fn config_compile_writes_a_snapshot_that_the_next_start_reads() {
    let (config, output) = compile_copy("config/helpdesk.yaml", "helpdesk.yaml");
    let dir = config.parent().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let snapshot = dir.join("helpdesk.snapshot.json");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("snapshot written to"), "{stdout}");
    let content = std::fs::read_to_string(&snapshot).unwrap();
    let (header, document) = content.split_once('\n').unwrap();
    assert!(
        header.contains("\"helpdesk_config_snapshot\":1"),
        "{header}"
    );
    let document: serde_json::Value = serde_json::from_str(document).unwrap();
    assert_eq!(document["desk"]["name"], "Example Inc. Support");
    // `config check` loads through the snapshot too, and the YAML has not
    // changed, so it reports the same configuration.
    let check = helpdesk()
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("7 triggers, 3 SLA rules"));
}

#[test]
fn config_compile_of_a_broken_config_reports_the_findings_and_writes_nothing() {
    let (config, output) = compile_copy(
        "shared/tests/fixtures/config/broken-references.yaml",
        "broken.yaml",
    );
    let dir = config.parent().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown agent \"anne\""), "{stderr}");
    assert!(!dir.join("broken.snapshot.json").exists());
}

#[test]
fn config_check_refuses_form_uploads_larger_than_a_deployed_form_can_carry() {
    let example =
        std::fs::read_to_string(crate::support::workspace().join("config/helpdesk.yaml")).unwrap();
    let line = "attachments: { max_file_bytes: 2097152, max_total_bytes: 4194304, max_files: 5 }";
    assert!(example.contains(line), "the example's support form changed");
    let larger = example.replacen(
        line,
        "attachments: { max_file_bytes: 10485760, max_total_bytes: 20971520, max_files: 5 }",
        1,
    );
    let dir = crate::support::temp_dir();
    let path = dir.join("helpdesk.yaml");
    std::fs::write(&path, larger).unwrap();
    let output = helpdesk()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in ["max_total_bytes is 20971520", "max_file_bytes is 10485760"] {
        assert!(
            stderr.contains(&format!(
                "form support: attachments.{name}, more than a deployed form can take (4194304)"
            )),
            "{stderr}"
        );
    }
}
