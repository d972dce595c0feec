//! `helpdesk config check`: prints every finding with file, line and hint.

use std::path::Path;
use std::process::ExitCode;

use helpdesk::config::ConfigError;

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

/// Prints a configuration's findings and their count on stderr, the way
/// every command that loads the file reports a broken one.
pub fn print_findings(error: &ConfigError) {
    eprintln!("{error}");
    eprintln!("{} problem(s) found", error.findings.len());
}
