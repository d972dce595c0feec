//! Web form submissions before they become tickets: decoding request bodies
//! (JSON, urlencoded, multipart), recognising provider payload shapes
//! (plain fields, Typeform, Tally, Jotform) and checking webhook signatures.
//!
//! Everything here is pure: no store, no clock of its own, no Lambda types.

pub mod payload;
pub mod providers;
pub mod signature;
