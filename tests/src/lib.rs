//! Shared helpers for the integration tests: the `spawn_app` harness for
//! form intake and the store conformance suite.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

pub mod app;
pub mod conformance;
pub mod moto;
