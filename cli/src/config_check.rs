//! `helpdesk config check`: prints every finding with file, line and hint;
//! `helpdesk config compile`: the same, then writes the file's snapshot
//! ([`helpdesk::config::snapshot`]).

use std::path::Path;
use std::process::ExitCode;

use helpdesk::config::{ConfigError, snapshot, stack};

/// Checks `file`, and with `stack` compares it with the stack's parameter
/// overrides; exit code 0 when valid (and matching), 1 otherwise.
pub fn run(file: &Path, stack: Option<&str>) -> ExitCode {
    match (helpdesk::config::load(file), stack) {
        (Ok(config), Some(overrides)) => against_stack(file, &config, overrides),
        (Ok(config), None) => {
            let triggers: usize = config.queues.values().map(|q| q.triggers.len()).sum();
            let sla_rules: usize = config.queues.values().map(|q| q.sla.len()).sum();
            println!(
                "{}: OK ({} queues, {} forms, {} agents, {} triggers, {} SLA rules, {} calendars)",
                file.display(),
                config.queues.len(),
                config.forms.len(),
                config.agents.len(),
                triggers,
                sla_rules,
                config.calendars.len()
            );
            ExitCode::SUCCESS
        }
        (Err(e), _) => {
            print_findings(&e);
            ExitCode::FAILURE
        }
    }
}

/// The valid `config` of `file` against the stack parameters `overrides`:
/// each difference on its own line (stderr), exit code 1 on any.
fn against_stack(file: &Path, config: &helpdesk::config::Config, overrides: &str) -> ExitCode {
    let parameters = match stack::parse_overrides(overrides) {
        Ok(parameters) => parameters,
        Err(e) => {
            eprintln!("--against-stack: {e}");
            return ExitCode::FAILURE;
        }
    };
    let found = stack::mismatches(config, &parameters);
    if found.is_empty() {
        println!(
            "{}: OK, and it agrees with the stack parameters {}",
            file.display(),
            stack::CHECKED.join(", ")
        );
        return ExitCode::SUCCESS;
    }
    for mismatch in &found {
        eprintln!("{}: {mismatch}", file.display());
    }
    eprintln!(
        "{} difference(s) between the configuration and the stack parameters: fix one side before deploying",
        found.len()
    );
    ExitCode::FAILURE
}

/// Compiles `file` into its snapshot; exit code 0 when written, 1 when the
/// file has findings or cannot be snapshotted, 2 when it cannot be written.
pub fn compile(file: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read the file: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let snapshot = match snapshot::compile(&text, &file.display().to_string()) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            print_findings(&e);
            return ExitCode::FAILURE;
        }
    };
    let out = snapshot::snapshot_path(file);
    // Written beside and renamed, so a reader never sees half a file.
    let partial = out.with_extension("json.partial");
    match std::fs::write(&partial, &snapshot).and_then(|()| std::fs::rename(&partial, &out)) {
        Ok(()) => {
            println!(
                "{}: OK, snapshot written to {} ({} bytes)",
                file.display(),
                out.display(),
                snapshot.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: cannot write the snapshot: {e}", out.display());
            ExitCode::from(2)
        }
    }
}

/// Prints a configuration's findings and their count on stderr, the way
/// every command that loads the file reports a broken one.
pub fn print_findings(error: &ConfigError) {
    eprintln!("{error}");
    eprintln!("{} problem(s) found", error.findings.len());
}
