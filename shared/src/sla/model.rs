//! SLA rules as written in `helpdesk.yaml` under `queues.<KEY>.sla`
//! (the model of Yandex Tracker's SLA rules):
//!
//! ```yaml
//! sla:
//!   - name: First response
//!     metric: first_response          # timers are per metric (default: the name in snake_case)
//!     calendar: office
//!     when: { priority: [critical, high, normal, low] }   # which tickets (optional)
//!     targets:                        # the first whose `when` matches sets the target
//!       - { when: { priority: [critical] }, limit: 30m, warning: 20m }
//!       - { limit: 2h, warning: 1h 30m }
//!     start: [created]
//!     stop: [team_answer]
//!     notify: { to: [assignee, anna], template: sla-alert }
//!   - name: Resolution
//!     calendar: office
//!     targets: [{ limit: 2d, warning: 1d 4h }]
//!     start: [created]
//!     pause: [{ status: [Need info] }]
//!     stop: [resolved]
//! ```
//!
//! `warning` is business time spent when the warning goes out (it must be
//! shorter than `limit`). Conditions are words or a status set:
//!
//! | condition | in `start` / `stop` (an event) | in `pause` (a state) |
//! |---|---|---|
//! | `created` | the ticket was created | - |
//! | `team_answer` | a public comment by a member of the queue team, or mail an agent sent | - |
//! | `customer_reply` | mail or a public comment from a customer after creation | - |
//! | `resolved` | the status became one of category resolved or closed | while it is |
//! | `waiting` | the status became one of category waiting | while it is |
//! | `assigned` | the ticket got an assignee | while it has one |
//! | `{ status: [A, B] }` | the status became A or B | while it is A or B |

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::{Span, Spanned};
use crate::domain::{Channel, Ticket};

/// One SLA rule of a queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    /// Shown on the timeline and in reports.
    pub name: Spanned<String>,
    /// What the rule's timer measures; rules with the same metric are
    /// alternatives (the first that matches a ticket applies), and a ticket
    /// moving from one to another keeps the time spent.
    #[serde(default)]
    pub metric: Option<String>,
    /// The business calendar the timer counts in.
    pub calendar: Spanned<String>,
    /// Which tickets the rule covers (all when absent).
    #[serde(default)]
    pub when: TicketFilter,
    /// Targets per group of tickets, the first matching one applies.
    pub targets: Vec<Target>,
    /// What starts (or, after a stop, re-arms) the timer.
    pub start: Vec<Condition>,
    /// While any of these holds the timer is paused.
    #[serde(default)]
    pub pause: Vec<Condition>,
    /// What stops the timer (met, or breached when past the limit).
    pub stop: Vec<Condition>,
    /// Who is told by mail about warnings and breaches.
    #[serde(default)]
    pub notify: Option<Notify>,
}

impl SlaRule {
    /// The metric: `metric`, else the name in snake_case.
    pub fn metric(&self) -> String {
        self.metric.clone().unwrap_or_else(|| {
            let mut out = String::new();
            for c in self.name.value.chars() {
                if c.is_alphanumeric() {
                    out.extend(c.to_lowercase());
                } else if !out.ends_with('_') && !out.is_empty() {
                    out.push('_');
                }
            }
            out.trim_end_matches('_').to_owned()
        })
    }

    /// The first target whose filter matches `ticket`.
    pub fn target_for(&self, ticket: &Ticket) -> Option<&Target> {
        self.targets.iter().find(|t| t.when.matches(ticket))
    }
}

/// A limit and warning time for a group of tickets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Which tickets (all when absent).
    #[serde(default)]
    pub when: TicketFilter,
    /// Business time allowed, like `2h 30m`.
    pub limit: Span,
    /// Business time spent when the warning goes out.
    #[serde(default)]
    pub warning: Option<Span>,
}

/// Which tickets: every list given must match (a list matches when the
/// ticket's value is one of it; for components, when any is).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketFilter {
    /// Priority levels.
    #[serde(default)]
    pub priority: Vec<String>,
    /// Components.
    #[serde(default)]
    pub components: Vec<String>,
    /// Support lines.
    #[serde(default)]
    pub line: Vec<u8>,
    /// Channels.
    #[serde(default)]
    pub channel: Vec<Channel>,
    /// Custom field id -> accepted values (compared as text).
    #[serde(default)]
    pub custom: BTreeMap<String, Vec<String>>,
}

impl TicketFilter {
    /// Whether `ticket` is one of the filter's tickets.
    pub fn matches(&self, ticket: &Ticket) -> bool {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        (self.priority.is_empty() || self.priority.iter().any(|p| same(p, &ticket.priority)))
            && (self.components.is_empty()
                || self
                    .components
                    .iter()
                    .any(|c| ticket.components.iter().any(|t| same(c, t))))
            && (self.line.is_empty() || ticket.line.is_some_and(|l| self.line.contains(&l)))
            && (self.channel.is_empty() || self.channel.contains(&ticket.channel))
            && self.custom.iter().all(|(field, values)| {
                let value = match ticket.custom_fields.get(field) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                values.iter().any(|v| same(v, &value))
            })
    }
}

/// A start, pause or stop condition (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    /// A word.
    Word(Word),
    /// A set of statuses.
    Status {
        /// The statuses.
        status: Vec<String>,
    },
}

/// The conditions written as one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Word {
    /// The ticket was created.
    Created,
    /// The queue team answered in public.
    TeamAnswer,
    /// A customer wrote after creation.
    CustomerReply,
    /// Status of category resolved or closed.
    Resolved,
    /// Status of category waiting.
    Waiting,
    /// The ticket has an assignee.
    Assigned,
}

impl Condition {
    /// Whether the condition describes a state (usable in `pause`), not
    /// only an event.
    pub fn is_state(&self) -> bool {
        !matches!(
            self,
            Self::Word(Word::Created | Word::TeamAnswer | Word::CustomerReply)
        )
    }

    /// How the condition reads in messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Word(word) => format!("{word:?}"),
            Self::Status { status } => format!("status in {status:?}"),
        }
    }
}

/// Who hears about warnings and breaches, and with which mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Agent logins, `assignee` (the ticket's assignee at the time), or
    /// email addresses.
    pub to: Vec<Spanned<String>>,
    /// A template of `templates:` (subject and body over `ticket`, `sla`
    /// and `desk`).
    pub template: Spanned<String>,
}
