//! `helpdesk config check`: prints every finding with file, line and hint;
//! `helpdesk config compile`: the same, then writes the file's snapshot
//! ([`helpdesk::config::snapshot`]).

use std::path::Path;
use std::process::ExitCode;

use helpdesk::config::{ConfigError, snapshot};

/// Checks `file`; exit code 0 when valid, 1 otherwise.
pub fn run(file: &Path) -> ExitCode {
    match helpdesk::config::load(file) {
        Ok(config) => {
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
        Err(e) => {
            print_findings(&e);
            ExitCode::FAILURE
        }
    }
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
