//! Shared helpers for the integration tests: the store conformance suite and
//! the `spawn_app`-style harness for form intake.

pub mod conformance;
