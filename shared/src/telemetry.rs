//! Logging set up in one place: `tracing` with `RUST_LOG` filtering; JSON
//! lines on Lambda (CloudWatch), human-readable text locally.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

/// What the HTML parsers say about the customer HTML they read ("foster
/// parenting not implemented", once per misplaced text): nothing an
/// operator can act on, and thousands of lines for one newsletter. Kept
/// unless `RUST_LOG` names them itself.
const QUIET_PARSERS: &str = "html5ever=error,markup5ever=error";

/// Installs the global subscriber; `default` is the filter when `RUST_LOG`
/// is unset. Calling it twice is harmless.
pub fn init(format: LogFormat, default: &str) {
    let asked = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    let directives = if asked.contains("html5ever") {
        asked
    } else {
        format!("{asked},{QUIET_PARSERS}")
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().without_time().with_target(false).try_init(),
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// Log lines in the functions' JSON format ([`LogFormat::Json`]), captured
/// on this thread while it lives, at every level: for tests that check what
/// the deployed stack's log metric filters see.
pub struct JsonCapture {
    buffer: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl JsonCapture {
    /// Starts capturing.
    pub fn start() -> Self {
        let buffer = std::sync::Arc::default();
        let writer = SharedBuffer(std::sync::Arc::clone(&buffer));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .without_time()
            .with_target(false)
            .with_writer(move || writer.clone())
            .finish();
        Self {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// The lines so far, one JSON text each.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self
            .buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
