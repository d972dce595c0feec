//! Configuration snapshots: the YAML document of `helpdesk.yaml`, written
//! once as JSON, so that a process that starts often (a Lambda function's
//! cold start) does not parse YAML at every start.
//!
//! Parsing the YAML is most of the work a function does before its first
//! event: about 4.2 million of sla-check's 6.9 million instructions from
//! exec to its answer (callgrind, example config), because the YAML parser
//! keeps every value's line and column for the findings. A JSON document
//! deserializes into the same [`Config`] for a small part of that.
//!
//! The YAML file stays the one source of truth:
//!
//! - `helpdesk config compile FILE` ([`compile`]) validates `FILE` like
//!   `config check`, converts the YAML document to JSON as it is (no
//!   knowledge of the [`Config`] type: a snapshot is the data, not this
//!   build's idea of it), checks that the JSON loads the same
//!   configuration as the YAML, and writes it to [`snapshot_path`]
//!   (`helpdesk.snapshot.json` next to `helpdesk.yaml`). `scripts/build-lambdas`
//!   runs it, so the configuration layer ships both files.
//! - [`super::load()`] uses a snapshot only when its first line names the
//!   SHA-256 of the YAML file's bytes as they are now ([`load_current`]);
//!   a missing, stale or unreadable snapshot is ignored and the YAML is
//!   parsed, as without one. Validation and calendars run on either path.
//!
//! The file is two lines: a header `{"helpdesk_config_snapshot":1,
//! "source_sha256":"<hex>"}`, then the document. The header comes first so
//! that a stale snapshot is recognised without parsing the document.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{ConfigError, Finding};
use super::load::{finish, load_str};
use super::model::Config;

/// The snapshot format this code writes and reads.
pub const FORMAT: u32 = 1;

/// The first line of a snapshot file.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    /// [`FORMAT`].
    helpdesk_config_snapshot: u32,
    /// SHA-256 (hex) of the YAML file the document was converted from.
    source_sha256: String,
}

/// Where the snapshot of the configuration file `config` lives: next to
/// it, `<stem>.snapshot.json` (`helpdesk.yaml` -> `helpdesk.snapshot.json`).
pub fn snapshot_path(config: &Path) -> PathBuf {
    config.with_extension("snapshot.json")
}

/// SHA-256 of the YAML text, hex.
fn source_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The snapshot file's text for the configuration `text` (read from
/// `file`, which names it in findings): the configuration must be valid
/// (the same findings as `config check` otherwise), and the JSON document
/// must load exactly the configuration the YAML loads, or it is refused
/// with a finding that says why.
pub fn compile(text: &str, file: &str) -> Result<String, ConfigError> {
    let from_yaml = load_str(text, file)?;
    let refuse = |message: String| ConfigError {
        file: file.to_owned(),
        findings: vec![Finding {
            line: None,
            column: None,
            message,
            hint: Some(
                "quote the value in the YAML (a plain 123 or true is a number or a \
                 boolean to JSON); the functions read the YAML when there is no snapshot"
                    .into(),
            ),
        }],
    };
    let document: serde_json::Value = serde_saphyr::from_str(text)
        .map_err(|e| refuse(format!("the document cannot be written as JSON: {e}")))?;
    let from_json = Config::deserialize(&document)
        .map_err(|e| refuse(format!("the JSON document does not load: {e}")))?;
    let from_json = finish(from_json, file)?;
    if !equivalent(&from_yaml, &from_json) {
        return Err(refuse(
            "the JSON document loads a different configuration than the YAML".into(),
        ));
    }
    let header = Header {
        helpdesk_config_snapshot: FORMAT,
        source_sha256: source_hash(text),
    };
    let header = serde_json::to_string(&header).map_err(|e| refuse(e.to_string()))?;
    let document = serde_json::to_string(&document).map_err(|e| refuse(e.to_string()))?;
    Ok(format!("{header}\n{document}\n"))
}

/// The configuration from the snapshot next to `path`, when there is one
/// and it was made from exactly `text` (the YAML file's content now) and
/// loads and validates; `None` otherwise, and the caller parses the YAML.
pub fn load_current(path: &Path, text: &str) -> Option<Config> {
    let snapshot = snapshot_path(path);
    let content = std::fs::read_to_string(&snapshot).ok()?;
    let (header, document) = content.split_once('\n')?;
    let current = serde_json::from_str::<Header>(header).is_ok_and(|h| {
        h.helpdesk_config_snapshot == FORMAT && h.source_sha256 == source_hash(text)
    });
    if !current {
        tracing::info!(
            snapshot = %snapshot.display(),
            config = %path.display(),
            "the configuration snapshot was not made from this configuration file; \
             reading the YAML (helpdesk config compile makes a new one)"
        );
        return None;
    }
    let file = path.display().to_string();
    match serde_json::from_str::<Config>(document) {
        // Findings are reported from the YAML, with their lines.
        Ok(config) => finish(config, &file).ok(),
        Err(error) => {
            tracing::warn!(snapshot = %snapshot.display(), %error,
                "the configuration snapshot does not load; reading the YAML");
            None
        }
    }
}

/// Whether two configurations are the same but for the source locations
/// of their [`super::Spanned`] values (which a JSON document has none of):
/// their `Debug` texts, locations left out, are equal.
pub fn equivalent(a: &Config, b: &Config) -> bool {
    without_locations(&format!("{a:?}")) == without_locations(&format!("{b:?}"))
}

/// `Debug` text with the source locations of [`super::Spanned`] values
/// left out (a JSON document has none), for comparing two configurations.
fn without_locations(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(start) = ["referenced: Location {", "defined: Location {"]
        .iter()
        .filter_map(|marker| rest.find(marker).map(|at| (at, marker.len())))
        .min()
    {
        let (at, len) = start;
        // Keep "referenced: Location", drop " { ... }".
        out.push_str(&rest[..at + len - 2]);
        let mut depth = 0usize;
        let mut end = rest.len();
        for (i, c) in rest[at + len - 1..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = at + len - 1 + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_left_out_and_everything_else_kept() {
        let debug = "Spanned { value: \"a\", referenced: Location { line: 3, column: 5, \
                     span: Span { offset: 1, len: 2 }, source_id: 0 }, defined: Location { \
                     line: 3, column: 5, span: Span { offset: 1, len: 2 }, source_id: 0 } }, x: 1";
        assert_eq!(
            without_locations(debug),
            "Spanned { value: \"a\", referenced: Location, defined: Location }, x: 1"
        );
    }

    #[test]
    fn the_snapshot_of_a_file_lies_next_to_it() {
        assert_eq!(
            snapshot_path(Path::new("/opt/helpdesk.yaml")),
            Path::new("/opt/helpdesk.snapshot.json")
        );
    }
}
