//! Shared helpers for the integration tests: the `spawn_app` harness, the
//! store conformance suite, moto helpers (services, the DynamoDB stream as
//! Lambda delivers it) and a webhook receiver.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

pub mod app;
pub mod conformance;
pub mod moto;
pub mod stream;
pub mod webhook;
