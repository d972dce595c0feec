//! The configuration is validated on load: unknown keys, wrong types and
//! broken references are reported with their line and a hint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

#[test]
fn the_example_config_is_valid() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let config = helpdesk::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let sup = &config.queues[&helpdesk::domain::QueueKey::parse("SUP").unwrap()];
    let statuses: Vec<&str> = sup.statuses.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "New",
            "Open",
            "First line",
            "Second line",
            "In progress",
            "Need info",
            "Resolved",
            "Closed"
        ]
    );
    assert_eq!(sup.lines, [1, 2, 3]);
    assert!(config.priorities.levels.contains(&"critical".to_owned()));
    for component in ["Billing", "Accounts", "Outages"] {
        assert!(
            sup.components[component].assignee.is_some(),
            "{component} has a default assignee"
        );
    }
    let form = &config.forms["support"];
    let required: Vec<&str> = form
        .fields
        .iter()
        .filter(|(_, f)| f.required)
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(required, ["email", "message", "subject"]);
}

#[test]
fn every_broken_reference_is_reported_with_its_line_and_a_hint() {
    let error = helpdesk::config::load(fixture("broken-references.yaml")).unwrap_err();
    let text = error.to_string();
    let expect = [
        (
            12,
            "unknown status \"Nwe\" as initial status of queue SUP",
            "did you mean \"New\"? (defined statuses of queue SUP: New, Closed)",
        ),
        (
            12,
            "queue SUP has no status of category open to reopen tickets into",
            "add one, or set mail.reopen_status",
        ),
        (
            14,
            "unknown agent \"bob\" in the team of queue SUP",
            "defined agents: anna",
        ),
        (
            16,
            "unknown agent \"anne\" as default assignee of component Billing",
            "did you mean \"anna\"?",
        ),
        (
            24,
            "unknown field \"subjcet\" in the mapping of form support",
            "did you mean \"subject\"?",
        ),
        (
            28,
            "unknown field \"topic\" in a routing condition of form support",
            "defined fields of form support: email, subject",
        ),
        (
            29,
            "line 3 is not a line of queue SUP",
            "defined lines: 1, 2",
        ),
        (
            29,
            "unknown component \"Biling\" in rule \"billing\" of form support",
            "did you mean \"Billing\"?",
        ),
        (
            29,
            "unknown priority \"urgent\" in rule \"billing\" of form support",
            "defined priorities: critical, high, normal, low",
        ),
    ];
    for (line, message, hint) in expect {
        let finding = error
            .findings
            .iter()
            .find(|f| f.message.contains(message))
            .unwrap_or_else(|| panic!("no finding {message:?} in:\n{text}"));
        assert_eq!(finding.line, Some(line), "{message}");
        assert!(
            finding.hint.as_deref().unwrap_or("").contains(hint),
            "hint for {message}: {:?}",
            finding.hint
        );
    }
    assert_eq!(error.findings.len(), expect.len(), "{text}");
    assert!(text.contains("broken-references.yaml:12:"), "{text}");
}

#[test]
fn an_unknown_key_is_reported_with_its_line() {
    let error = helpdesk::config::load(fixture("unknown-key.yaml")).unwrap_err();
    let finding = &error.findings[0];
    assert_eq!(finding.line, Some(9), "{error}");
    assert!(finding.message.contains("colour"), "{error}");
    assert!(finding.hint.is_some());
}

#[test]
fn a_wrong_type_is_reported_with_its_line() {
    let error = helpdesk::config::load(fixture("wrong-type.yaml")).unwrap_err();
    assert_eq!(error.findings[0].line, Some(9), "{error}");
}

#[test]
fn a_missing_file_says_how_to_point_at_one() {
    let error = helpdesk::config::load(fixture("does-not-exist.yaml")).unwrap_err();
    assert!(error.to_string().contains("HELPDESK_CONFIG"));
}

#[test]
fn the_example_sla_rules_are_the_two_our_users_asked_for_plus_next_response() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let config = helpdesk::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let sup = &config.queues[&helpdesk::domain::QueueKey::parse("SUP").unwrap()];
    let metrics: Vec<String> = sup.sla.iter().map(|r| r.metric()).collect();
    assert_eq!(metrics, ["first_response", "next_response", "resolution"]);
    use helpdesk::sla::{Condition, Word};
    let first = &sup.sla[0];
    assert_eq!(first.start, [Condition::Word(Word::Created)]);
    assert_eq!(first.stop, [Condition::Word(Word::TeamAnswer)]);
    let resolution = &sup.sla[2];
    assert_eq!(
        resolution.pause,
        [Condition::Status {
            status: vec!["Need info".into()]
        }]
    );
    assert_eq!(
        resolution.stop,
        [Condition::Status {
            status: vec!["Resolved".into(), "Closed".into()]
        }]
    );
}

#[test]
fn sla_rules_with_broken_references_and_targets_are_reported_with_their_line() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let example = std::fs::read_to_string(path).unwrap();
    let broken = example.replacen(
        "    sla:\n",
        r#"    sla:
      - name: Broken
        calendar: offfice
        when: { priority: [urgent] }
        targets: [{ limit: 1h, warning: 2h }]
        start: [created]
        pause: [team_answer, { status: [Waiting for Godot] }]
        stop: [resolved]
        notify: { to: [nobody], template: sla-alrt }
"#,
        1,
    );
    let error = helpdesk::config::load_str(&broken, "broken.yaml").unwrap_err();
    let text = error.to_string();
    for expected in [
        "unknown calendar \"offfice\"",
        "did you mean \"office\"",
        "unknown priority \"urgent\"",
        "the warning (2h) must come before the limit (1h)",
        "`pause` needs states",
        "unknown status \"Waiting for Godot\"",
        "unknown template \"sla-alrt\"",
        "notifies \"nobody\"",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    assert!(error.findings.iter().all(|f| f.line.is_some()), "{text}");
}

#[test]
fn a_select_field_without_options_and_options_on_a_text_field_are_reported_with_their_line() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let example = std::fs::read_to_string(path).unwrap();
    let broken = example.replacen(
        "      customer_id: { label: Customer ID }\n",
        "      customer_id: { label: Customer ID, options: [a, b] }\n      plan: { label: Plan, type: select }\n      tier: { label: Tier, type: select, options: [gold, gold] }\n",
        1,
    );
    assert_ne!(
        broken, example,
        "the example has the field this test changes"
    );
    let error = helpdesk::config::load_str(&broken, "broken.yaml").unwrap_err();
    let text = error.to_string();
    for expected in [
        "field customer_id is of type text and takes no options",
        "select field plan has no options",
        "select field tier lists an option twice",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    assert!(error.findings.iter().all(|f| f.line.is_some()), "{text}");
}

#[test]
fn a_report_zone_and_a_queue_calendar_that_do_not_exist_are_reported() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let example = std::fs::read_to_string(path).unwrap();
    let broken = example
        .replacen("  # zone: Europe/Berlin ", "  zone: Europe/Berlni ", 1)
        .replacen(
            "    calendar: office\n    # SLA",
            "    calendar: ofice\n    # SLA",
            1,
        );
    assert_ne!(broken, example);
    let error = helpdesk::config::load_str(&broken, "broken.yaml").unwrap_err();
    let text = error.to_string();
    for expected in [
        "desk.zone \"Europe/Berlni\" is not an IANA time zone",
        "unknown calendar \"ofice\" as the calendar of queue SUP",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
}

#[test]
fn a_survey_on_an_unknown_status_or_without_a_public_url_is_reported() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let example = std::fs::read_to_string(path).unwrap();
    let broken = example
        .replacen("csat: { on: [Resolved]", "csat: { on: [Resolvd]", 1)
        .replacen("  public_url: http://127.0.0.1:8080\n", "", 1);
    assert_ne!(broken, example);
    let error = helpdesk::config::load_str(&broken, "broken.yaml").unwrap_err();
    let text = error.to_string();
    for expected in [
        "unknown status \"Resolvd\" in csat.on of queue SUP",
        "queue SUP asks for ratings but desk.public_url is not set",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    let odd = example.replacen(
        "public_url: http://127.0.0.1:8080",
        "public_url: ftp://help.example.com?x=1",
        1,
    );
    let text = helpdesk::config::load_str(&odd, "odd.yaml")
        .unwrap_err()
        .to_string();
    assert!(text.contains("is not an http or https URL"), "{text}");
}
