//! The `helpdesk` command as a user runs it: config check, serve (with the
//! trigger engine), the ticket listings and the trigger dry run. One test
//! binary; each module is one command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agents;
mod config_check;
mod forms_test;
mod mail_log;
mod rate_limit;
mod report;
mod serve;
mod serve_triggers;
mod sla;
mod slow_clients;
mod support;
mod terminal;
mod triggers_test;
