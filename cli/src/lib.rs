//! The pieces of the `helpdesk` command, as a library so integration tests
//! can serve the same router on a random port.

pub mod agents;
pub mod config_check;
pub mod event_file;
pub mod forms_test;
pub mod listen;
pub mod mail_log;
pub mod mailgate;
pub mod plan_report;
pub mod report;
pub mod serve;
pub mod sla;
pub mod tickets;
pub mod triggers_test;
