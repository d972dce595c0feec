//! SLA timers over business calendars: first response, resolution, next
//! response, measured in working hours only, paused while waiting for the
//! customer, with a warning before and a notification at the breach.
//!
//! - [`model`]: the rules as configured per queue (`queues.<KEY>.sla`).
//! - [`fold`]: the pure core. Timers are a fold over the ticket's
//!   timeline: the state stored on the ticket
//!   ([`crate::domain::SlaState`]) says up to which version the timeline
//!   was read, and folding the later entries (each write at its own
//!   instant) moves the timers and yields metric events (started, paused,
//!   resumed, warned, breached, met, stopped, retargeted) at their exact
//!   instants.
//! - [`track`]: folding a stored ticket and writing the result with one
//!   conditional write (the ticket's version), on every change (the stream
//!   or change-feed path) and from the checker.
//! - [`check`]: the checker, every minute: reads the due index (never the
//!   tickets), folds each due ticket, within a time budget.
//! - [`notify`]: on the change path, each warning or breach the timeline
//!   recorded is mailed to the rule's people and published on the event
//!   bus, once.
//! - [`show`]: timers as `helpdesk sla show` prints them.
//!
//! # Guarantees
//! - **Exact.** Business time comes only from [`crate::calendar`]; every
//!   event is timed by the write that caused it (not by when it was
//!   processed), and a warning or breach is recorded at the instant it fell
//!   due, however late the checker runs.
//! - **Once.** A warning or breach is a flag on its timer, set in the same
//!   conditional write that records its timeline entry; two checkers (a
//!   schedule that fires twice) or a checker and the tracker race on the
//!   ticket's version, and the loser's fold finds the flag set. Its
//!   notifications follow from the recorded entry and are claimed by
//!   stable ids (ticket, metric, cycle, kind).
//! - **Nothing lost.** A ticket stays in the due index until its due
//!   instant is recorded, so missed minutes and runs cut short by their
//!   budget are caught up by the next run.
//! - **Time spent is kept** when a ticket moves to another rule of the same
//!   metric or another target (priority change), and when paused.

pub mod check;
pub mod fold;
pub mod model;
pub mod notify;
pub mod show;
pub mod track;
pub mod validate;

pub use check::{CheckReport, check};
pub use model::{Condition, Notify, SlaRule, Target, TicketFilter, Word};
pub use track::{Refreshed, refresh};
