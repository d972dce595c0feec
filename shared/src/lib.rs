//! The helpdesk library: everything the Lambda functions and the `helpdesk`
//! command share. Entry points turn their events into calls on this crate;
//! the one Lambda event type it reads itself is the DynamoDB stream record
//! ([`automation::stream`]), which both the trigger function and the
//! `helpdesk triggers test` dry run decode.
//!
//! - [`domain`]: tickets, contacts, the timeline, and the newtypes they use.
//! - [`config`]: the configuration file (queues, forms, routing), loaded and validated.
//! - [`store`]: the storage port and its SQLite and DynamoDB implementations.
//! - [`blobs`]: where attachments go (a local directory or S3).
//! - [`blocking`]: blocking work (SQLite, local files) from async code.
//! - [`calendar`]: business calendars: working hours, holidays, time zones.
//! - [`forms`]: decoding form deliveries and checking their signatures.
//! - [`intake`]: the form intake use case, from an HTTP request to a stored ticket.
//! - [`mail`]: parsing, classifying and building email.
//! - [`tickets`]: creating and changing tickets, resolving requesters to contacts.
//! - [`triggers`]: rules that react to ticket changes (the pure evaluation).
//! - [`automation`]: running triggers and SLA timers on stored changes (stream, change feed).
//! - [`sla`]: SLA timers over business calendars, the due index checker.
//! - [`aws`]: the AWS SDK configuration (and the roots its HTTPS client trusts).
//! - [`auth`]: agents' credentials (API tokens, passwords) and who is asking.
//! - [`app`]: wiring the services together from the environment.

pub mod app;
pub mod auth;
pub mod automation;
pub mod aws;
pub mod blobs;
pub mod blocking;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod csat;
pub mod display;
pub mod domain;
pub mod forms;
pub mod intake;
pub mod keys;
pub mod mail;
pub mod reports;
pub mod secrets;
pub mod services;
pub mod sla;
pub mod store;
pub mod telemetry;
pub mod tickets;
pub mod triggers;
