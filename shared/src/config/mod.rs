//! Configuration as code: one YAML file with queues, statuses, lines,
//! components, agents, priorities and forms with their routing rules.
//!
//! [`load`] reads and validates it; every process calls it at start, and
//! `helpdesk config check` prints the same findings with file, line and a
//! hint. A config that loads is a config whose references all resolve.

pub mod error;
pub mod load;
pub mod model;
pub mod snapshot;
pub mod stack;
pub mod validate;

pub use error::{ConfigError, Finding};
pub use load::{load, load_str};
pub use model::*;
pub use validate::public_url;
