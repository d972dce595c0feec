//! The pieces of the `helpdesk` command, as a library so integration tests
//! can serve the same router on a random port.

pub mod config_check;
pub mod mailgate;
pub mod serve;
pub mod tickets;
