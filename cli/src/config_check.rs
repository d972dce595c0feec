//! `helpdesk config check`: prints every finding with file, line and hint.

use std::path::Path;
use std::process::ExitCode;

/// Checks `file`; exit code 0 when valid, 1 otherwise.
pub fn run(file: &Path) -> ExitCode {
    match helpdesk::config::load(file) {
        Ok(config) => {
            println!(
                "{}: OK ({} queues, {} forms, {} agents)",
                file.display(),
                config.queues.len(),
                config.forms.len(),
                config.agents.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{} problem(s) found", e.findings.len());
            ExitCode::FAILURE
        }
    }
}
