//! Running triggers against stored changes: the store-backed half of the
//! trigger engine (the pure half is [`crate::triggers`]).
//!
//! A change comes from the DynamoDB stream ([`stream`], in the
//! `ticket-triggers` function) or from the SQLite change feed ([`feed`], in
//! `helpdesk serve`). [`source`] turns either into a [`crate::triggers::Change`]
//! (old and new ticket, the timeline entry, actor, depth), and
//! [`engine::react`] evaluates the queue's triggers and carries the plan out:
//!
//! 1. **One conditional write.** Field changes, the chosen group assignee,
//!    trigger comments and any notes (a stop at the depth limit, an action
//!    that could not be planned) go into one update of the ticket, based on
//!    the version the change produced. When someone changed the ticket
//!    meanwhile, the changes are re-applied to a fresh read (list fields as
//!    additions and removals) and written again. The write carries the
//!    idempotency claim `trig:<ticket>:<version>`, so a redelivered change
//!    writes nothing a second time.
//! 2. **Side effects once.** Mail goes through [`crate::mail::send`] with the
//!    effect id as its purpose (a deterministic Message-ID); webhooks and
//!    bus events claim the marker `fx:<effect id>` before they go out and
//!    write `fxdone:<effect id>` after, so a crash between two effects
//!    repeats neither on redelivery. A temporary failure releases the claim
//!    (retried with the change, at most three times, then recorded as
//!    failed); a permanent one is recorded on the ticket at once.
//! 3. **Chains.** The write stores `trigger_depth = depth + 1`, so the
//!    change it produces is evaluated one level deeper; at the limit
//!    nothing is applied and the stop is recorded on the ticket.
//!
//! 4. **SLA.** [`process`] is what the feed and the stream run for each
//!    write: the triggers (once per SLA warning or breach the write
//!    recorded), the SLA notifications, then the SLA timers
//!    ([`crate::sla`]).
//!
//! - [`ports`]: the webhook and event-bus ports; [`webhook`] and [`bus`]
//!   are their adapters.

mod assign;
pub mod bus;
pub mod engine;
pub mod feed;
pub mod ports;
pub mod process;
pub mod source;
pub mod stream;
pub mod webhook;

pub use engine::{AutomationError, EffectReport, Outcome, react};
pub use ports::{BusEvent, DeliveryError, EventPublisher, WebhookSender};
pub use process::process;
