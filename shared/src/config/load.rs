//! Reading the configuration file: parse (reporting YAML and type errors
//! with line and column), then validate every reference. A current
//! [snapshot](super::snapshot) next to the file stands in for the YAML
//! parse.

use std::path::Path;

use super::error::{ConfigError, Finding};
use super::model::Config;
use super::validate::validate;

/// Reads, parses and validates the configuration file at `path`. When a
/// current snapshot of it lies next to it (`helpdesk config compile`), the
/// document is read from the snapshot instead of parsed from the YAML; the
/// validation and the calendars are the same either way.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        findings: vec![Finding {
            line: None,
            column: None,
            message: format!("cannot read the file: {e}"),
            hint: Some("pass --config FILE or set HELPDESK_CONFIG".into()),
        }],
    })?;
    if let Some(config) = super::snapshot::load_current(path, &text) {
        return Ok(config);
    }
    load_str(&text, &file)
}

/// Parses and validates configuration text; `file` names it in errors, and
/// files it refers to (holiday calendars) are read relative to its
/// directory.
pub fn load_str(text: &str, file: &str) -> Result<Config, ConfigError> {
    let config: Config = serde_saphyr::from_str(text).map_err(|e| ConfigError {
        file: file.to_owned(),
        findings: vec![parse_finding(&e)],
    })?;
    finish(config, file)
}

/// What every load does after the document is read: validate every
/// reference, and build the calendars (holiday files are read relative to
/// `file`'s directory).
pub(super) fn finish(mut config: Config, file: &str) -> Result<Config, ConfigError> {
    let mut findings = validate(&config);
    let base_dir = Path::new(file).parent().unwrap_or(Path::new("."));
    for (name, calendar) in &config.calendars {
        match calendar.build(base_dir) {
            Ok(built) => {
                config.built_calendars.insert(name.clone(), built);
            }
            Err(e) => findings.push(Finding {
                line: None,
                column: None,
                message: format!("calendar {name:?}: {e}"),
                hint: Some("see the calendars section of config/helpdesk.yaml".into()),
            }),
        }
    }
    if findings.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError {
            file: file.to_owned(),
            findings,
        })
    }
}

fn parse_finding(error: &serde_saphyr::Error) -> Finding {
    let message = error.to_string();
    // The library's message may already carry the location; keep only the
    // first line, which says what is wrong.
    let first = message.lines().next().unwrap_or("invalid YAML").trim();
    let first = strip_location_prefix(first).to_owned();
    let hint = if first.contains("unknown field") {
        Some(
            "remove the key or fix its spelling; see config/helpdesk.yaml for every key".to_owned(),
        )
    } else if first.contains("invalid type") || first.contains("invalid value") {
        Some("check the value's type against the example config".to_owned())
    } else {
        None
    };
    let mut finding = match error.location() {
        Some(location) => Finding::at(&location, first),
        None => Finding {
            line: None,
            column: None,
            message: first,
            hint: None,
        },
    };
    finding.hint = hint;
    finding
}

/// Drops a leading "error: line L column C:" that the parser adds, since the
/// finding carries the place itself.
fn strip_location_prefix(message: &str) -> &str {
    let rest = message.strip_prefix("error: ").unwrap_or(message);
    match rest.strip_prefix("line ") {
        Some(after) => after.split_once(": ").map_or(rest, |(_, tail)| tail),
        None => rest,
    }
}
