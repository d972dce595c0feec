//! Folding a stored ticket's pending timeline into its timers and writing
//! the result: [`refresh`] is what both the change path (every ticket
//! write, from the DynamoDB stream or the SQLite change feed) and the
//! checker call.
//!
//! One refresh is: read the ticket (consistently), read the timeline
//! entries after the version its SLA state accounts for (one range read),
//! fold them at the clock's "now", and, when that changes a timer or
//! records an event, write the ticket at version + 1 with the new state and
//! the metric events as timeline entries (each at its own instant), naming
//! the version read. A concurrent write makes it start over from a fresh
//! read; a fold that changes nothing writes nothing.

use chrono::{DateTime, Utc};

use super::fold::{Folded, Rules, fold};
use crate::domain::ticket::entry_seq;
use crate::domain::{Actor, Ticket, TicketKey, TimelineEntry};
use crate::services::Services;
use crate::store::{StoreError, Written};
use crate::tickets;

/// How often a refresh starts over after a concurrent write.
const ATTEMPTS: usize = 8;

/// What a refresh did.
#[derive(Debug, Clone, PartialEq)]
pub enum Refreshed {
    /// The ticket does not exist (any more).
    Gone,
    /// Its queue has no SLA rules and it has no timers (the ticket as
    /// read).
    NoRules(Box<Ticket>),
    /// The timers were up to date; nothing written.
    Unchanged(Box<Ticket>),
    /// Written as the ticket's next version.
    Written {
        /// The ticket as written.
        ticket: Box<Ticket>,
        /// The timeline entries written with it.
        entries: Vec<TimelineEntry>,
    },
}

impl Refreshed {
    /// The ticket as it is after the refresh, when it exists.
    pub fn ticket(&self) -> Option<&Ticket> {
        match self {
            Self::Gone => None,
            Self::NoRules(ticket) | Self::Unchanged(ticket) | Self::Written { ticket, .. } => {
                Some(ticket)
            }
        }
    }

    /// The metric events written, if any.
    pub fn entries(&self) -> &[TimelineEntry] {
        match self {
            Self::Written { entries, .. } => entries,
            _ => &[],
        }
    }
}

/// Folds what is pending for `key` and writes it (see the module docs).
/// `depth` is the trigger depth the write records (that of the change
/// being reacted to; 0 from the checker).
pub async fn refresh(
    services: &Services,
    key: &TicketKey,
    depth: u8,
) -> Result<Refreshed, StoreError> {
    let store = services.store.as_ref();
    let mut last_conflict = None;
    for _ in 0..ATTEMPTS {
        let Some(stored) = store.get_ticket(key).await? else {
            return Ok(Refreshed::Gone);
        };
        let Some(queue) = services.config.queues.get(&stored.queue) else {
            return Ok(Refreshed::NoRules(Box::new(stored)));
        };
        if queue.sla.is_empty() && stored.sla.timers.is_empty() {
            return Ok(Refreshed::NoRules(Box::new(stored)));
        }
        let rules = Rules {
            queue,
            rules: &queue.sla,
            calendars: &services.config.built_calendars,
        };
        let pending = store
            .entries_after_version(key, stored.sla.seen_version)
            .await?;
        let now = tickets::store_precision(services.clock.now());
        let folded = fold(rules, &stored, &pending, now);
        if !folded.changes(&stored.sla) {
            return Ok(Refreshed::Unchanged(Box::new(stored)));
        }
        let (ticket, entries) = next_version(&stored, folded, depth, now);
        match store
            .update_ticket(&ticket, stored.version, &entries, &[])
            .await
        {
            Ok(Written::New) => {
                return Ok(Refreshed::Written {
                    ticket: Box::new(ticket),
                    entries,
                });
            }
            Ok(Written::Replayed(_)) => {
                return Err(StoreError::backend(
                    "an SLA write without claims was answered as a replay",
                ));
            }
            Err(e @ StoreError::VersionConflict { .. }) => last_conflict = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_conflict
        .unwrap_or_else(|| StoreError::unavailable(format!("ticket {key} keeps changing"))))
}

/// The ticket after an SLA write: the folded state, which accounts for its
/// own version too (an SLA write has nothing the fold would read).
fn next_version(
    stored: &Ticket,
    folded: Folded,
    depth: u8,
    now: DateTime<Utc>,
) -> (Ticket, Vec<TimelineEntry>) {
    let mut ticket = stored.clone();
    ticket.version = stored.version + 1;
    ticket.updated_at = now;
    ticket.trigger_depth = depth;
    ticket.sla = folded.state;
    ticket.sla.seen_version = ticket.version;
    let entries = folded
        .events
        .into_iter()
        .enumerate()
        .map(|(i, e)| TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(ticket.version, i),
            at: e.at,
            actor: Actor::System,
            event: e.event,
        })
        .collect();
    (ticket, entries)
}

/// Whether a stored write needs a refresh: its queue has SLA rules (or the
/// ticket has timers), and it is not itself an SLA write (which accounts
/// for its own version already).
pub fn needs_refresh(services: &Services, after: &Ticket) -> bool {
    let has_rules = services
        .config
        .queues
        .get(&after.queue)
        .is_some_and(|q| !q.sla.is_empty());
    (has_rules || !after.sla.timers.is_empty()) && after.sla.seen_version < after.version
}
