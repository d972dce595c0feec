//! Triggers: a queue's ordered rules that react to ticket changes ("line
//! became 1 -> status First line", "status changed -> tell Telegram").
//!
//! This is the pure core: [`evaluate()`] takes the queue's triggers and one
//! [`Change`] and returns a [`Plan`] (one merged ticket update plus side
//! effects in order). It reads no store, sends nothing and does no I/O; the
//! calendar and the environment come in through [`EvalContext`].
//!
//! - [`model`]: the config types (`queues.SUP.triggers: [...]`).
//! - [`mod@validate`]: shape and reference checks with file positions.
//! - [`change`]: a change and the events derived from it.
//! - [`field`]: ticket fields by name and how conditions read them.
//! - [`context`]: what an evaluation consults (owners, calendars, env).
//! - [`plan`]: the result.
//!
//! # Semantics
//!
//! - **Events.** A change is `created` when it has no `before`;
//!   `fields_changed` when any field differs between `before` and `after`;
//!   `comment_added`, `email_received`, `email_sent` from its timeline entry;
//!   `sla_warning`/`sla_breach` when the SLA check says so. A trigger is a
//!   candidate when one of its `on` events happened.
//! - **Conditions see the incoming change only**: `before` and `after` as
//!   delivered, a new ticket's `before` being the empty ticket. They never
//!   see field changes made by triggers earlier in the same evaluation.
//!   Values compare as text ignoring case (`became: 1` matches line 1). On
//!   list fields (components, tags, list custom fields) a value test is about
//!   one element: `equals: Billing` / `contains: Billing` hold when Billing
//!   is in the list, `became: Billing` when it was added.
//!   `became: X` (= `changed_to: X`) holds when the value has X after and
//!   did not before, so a ticket that already had line 1 and changes priority
//!   does not fire `became: 1`. `changed_from: A` holds when it had A before
//!   and not after. `changed` compares the whole value exactly.
//! - **Order and once.** Matching triggers fire in configured order, each at
//!   most once per change.
//! - **One update.** Field actions apply cumulatively to one working copy of
//!   the ticket: a later `set` of a single value overrides an earlier one,
//!   list edits stack, `assign: component_owner` reads the components as
//!   earlier actions left them, and the last assignment action wins. The
//!   result is one merged update ([`Plan::changes`], [`Plan::updated`]),
//!   written in one conditional write on [`Plan::version`]; fields that end
//!   where they started are not written.
//! - **Side effects** (comments, mails, webhooks, events) are listed in
//!   trigger and action order with their trigger's name and a stable id,
//!   rendered against the ticket as the whole evaluation leaves it (`ticket`),
//!   with `old` the ticket before the incoming change.
//! - **Chains and the depth limit.** A change made by people or the system
//!   has depth 0. The update a plan writes is itself a change, by actor
//!   `trigger`, at depth + 1, and is evaluated like any other: that is how
//!   "A sets Line, B reacts to Line" works (B fires in the next
//!   evaluation). A change at depth >= the limit (default 5) applies
//!   nothing; when triggers would have fired, the plan carries a [`Stop`]
//!   whose message the executor records on the ticket.

pub mod change;
mod condition;
pub mod context;
pub mod evaluate;
pub mod field;
pub mod model;
pub mod plan;
mod render;
pub mod validate;

pub use change::{Change, ChangeEvent, SlaAlert, SlaKind};
pub use context::{
    BusinessHours, DEFAULT_DEPTH_LIMIT, Environment, EvalContext, NoCalendars, NoEnvironment,
};
pub use evaluate::evaluate;
pub use model::{
    Action, ActorKind, Assign, AssignGroup, BusinessHoursTest, CommentAction, CommentVisibility,
    Condition, EmailAction, EventAction, EventKind, ListEdit, Recipient, Scalar, SetFields,
    Trigger, WebhookAction, WebhookFormat,
};
pub use plan::{
    AssignStrategy, CalendarCheck, Effect, FieldChange, GroupAssignment, Plan, PlannedEffect,
    Problem, Stop, WebhookTarget,
};
pub use render::DEFAULT_SUBJECT;
pub use validate::validate;
