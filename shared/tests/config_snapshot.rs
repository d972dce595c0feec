//! Configuration snapshots: a current snapshot next to the YAML file is
//! what `config::load` reads; a stale, broken or missing one is ignored and
//! the YAML is parsed, so the YAML file is always what counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use helpdesk::config::{self, snapshot};

/// A directory of its own with a copy of the example configuration.
fn example_copy(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "helpdesk-config-snapshot-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let path = dir.join("helpdesk.yaml");
    std::fs::copy(example, &path).unwrap();
    path
}

fn write_snapshot(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let snapshot =
        snapshot::compile(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(snapshot::snapshot_path(path), snapshot).unwrap();
}

/// Changes the document of the snapshot next to `path` with `edit`,
/// keeping its header (so it still counts as current).
fn edit_snapshot(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let file = snapshot::snapshot_path(path);
    let content = std::fs::read_to_string(&file).unwrap();
    let (header, document) = content.split_once('\n').unwrap();
    let mut document: serde_json::Value = serde_json::from_str(document).unwrap();
    edit(&mut document);
    std::fs::write(&file, format!("{header}\n{document}\n")).unwrap();
}

/// Replaces the desk's name in the snapshot's document: a configuration
/// only the snapshot can have produced.
fn rename_desk_in_snapshot(path: &Path, name: &str) {
    edit_snapshot(path, |document| document["desk"]["name"] = name.into());
}

#[test]
fn the_snapshot_of_the_example_config_loads_the_same_configuration() {
    let path = example_copy("same");
    let from_yaml = config::load(&path).unwrap();
    write_snapshot(&path);
    let from_snapshot = config::load(&path).unwrap();
    assert!(snapshot::equivalent(&from_yaml, &from_snapshot));
    // The calendars are built on either path.
    assert_eq!(
        from_snapshot.built_calendars.len(),
        from_yaml.calendars.len()
    );
    assert!(from_snapshot.calendar("office").is_some());
    // And a changed configuration is not equivalent: the check can fail.
    let mut other = from_yaml.clone();
    other.desk.name = Some("Another desk".into());
    assert!(!snapshot::equivalent(&from_yaml, &other));
}

#[test]
fn load_reads_a_current_snapshot_instead_of_the_yaml() {
    let path = example_copy("current");
    write_snapshot(&path);
    rename_desk_in_snapshot(&path, "From the snapshot");
    let config = config::load(&path).unwrap();
    assert_eq!(config.desk.name.as_deref(), Some("From the snapshot"));
}

#[test]
fn a_snapshot_of_an_older_yaml_is_ignored_and_the_yaml_counts() {
    let path = example_copy("stale");
    write_snapshot(&path);
    rename_desk_in_snapshot(&path, "From the snapshot");
    let yaml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        yaml.replace("name: Example Inc. Support", "name: Edited Support"),
    )
    .unwrap();
    let config = config::load(&path).unwrap();
    assert_eq!(config.desk.name.as_deref(), Some("Edited Support"));
}

#[test]
fn a_broken_snapshot_is_ignored_and_the_yaml_counts() {
    let path = example_copy("broken");
    write_snapshot(&path);
    let file = snapshot::snapshot_path(&path);
    let content = std::fs::read_to_string(&file).unwrap();
    let (header, _) = content.split_once('\n').unwrap();
    std::fs::write(&file, format!("{header}\n{{\"desk\": ")).unwrap();
    let config = config::load(&path).unwrap();
    assert_eq!(config.desk.name.as_deref(), Some("Example Inc. Support"));
}

#[test]
fn a_snapshot_whose_document_fails_validation_is_ignored_and_the_yaml_findings_count() {
    let path = example_copy("invalid");
    write_snapshot(&path);
    edit_snapshot(&path, |document| {
        document["queues"]["SUP"]["components"]["Billing"]["assignee"] = "nobody".into();
    });
    // The YAML is valid, and it is what loads.
    let config = config::load(&path).unwrap();
    let sup = &config.queues[&helpdesk::domain::QueueKey::parse("SUP").unwrap()];
    assert_ne!(
        sup.components["Billing"]
            .assignee
            .as_ref()
            .map(|a| a.value.as_str()),
        Some("nobody")
    );
}

#[test]
fn an_invalid_configuration_gets_no_snapshot_and_the_same_findings_as_check() {
    let path = example_copy("findings");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let broken = yaml.replace("initial_status: New", "initial_status: Nwe");
    assert_ne!(broken, yaml, "the example config has initial_status: New");
    let error = snapshot::compile(&broken, "helpdesk.yaml").unwrap_err();
    let expected = config::load_str(&broken, "helpdesk.yaml").unwrap_err();
    assert_eq!(error, expected);
    assert!(error.findings.iter().any(|f| f.line.is_some()));
}

#[test]
fn a_value_json_would_read_as_another_type_is_refused_with_a_hint() {
    // A plain 2024 is a string to the YAML deserializer (the field is a
    // string) but a number in a JSON document.
    let path = example_copy("typed");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let typed = yaml.replace("name: Example Inc. Support", "name: 2024");
    let from_yaml = config::load_str(&typed, "helpdesk.yaml").unwrap();
    assert_eq!(from_yaml.desk.name.as_deref(), Some("2024"));
    let error = snapshot::compile(&typed, "helpdesk.yaml").unwrap_err();
    let finding = &error.findings[0];
    assert!(
        finding.message.contains("does not load"),
        "{}",
        finding.message
    );
    assert!(finding.hint.as_deref().unwrap().contains("quote the value"));
}
