//! Errors found in a configuration file, each with its place and a hint.

use std::fmt;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
}

impl Finding {
    /// A finding at a place.
    pub fn at(location: &serde_saphyr::Location, message: impl Into<String>) -> Self {
        let known = location.line() > 0;
        Self {
            line: known.then(|| location.line()),
            column: known.then(|| location.column()),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A configuration that cannot be used, with every finding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or `<string>`).
    pub file: String,
    /// What is wrong, in file order.
    pub findings: Vec<Finding>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, finding) in self.findings.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(line) = finding.line {
                write!(f, ":{line}")?;
                if let Some(column) = finding.column {
                    write!(f, ":{column}")?;
                }
            }
            write!(f, ": {}", finding.message)?;
            if let Some(hint) = &finding.hint {
                write!(f, "\n  hint: {hint}")?;
            }
        }
        Ok(())
    }
}

/// "did you mean X?" for the closest of `known` to `wrong`, if any is close.
pub fn did_you_mean<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| {
            (
                strsim::normalized_damerau_levenshtein(&wrong.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean {k:?}?"))
}

/// A hint listing what exists, with a suggestion first when one is close.
pub fn known_hint(wrong: &str, what: &str, known: &[&str]) -> String {
    let list = if known.is_empty() {
        format!("no {what} are defined")
    } else {
        format!("defined {what}: {}", known.join(", "))
    };
    match did_you_mean(wrong, known.iter().copied()) {
        Some(suggestion) => format!("{suggestion} ({list})"),
        None => list,
    }
}
