//! Tickets as use cases see them: [`open`] opens one (every channel calls
//! it), [`apply`] changes one (read, change, write version + 1, retry on a
//! concurrent change; [`apply_at_version`] without the retry, for a
//! change decided on a version the agent saw), and the steps both are made of: resolving the
//! requester to a contact, building version 1 with the queue's defaults,
//! the first timeline entries. [`agent`]: an agent commenting and changing
//! fields; [`list`]: a page of tickets across an agent's queues.

pub mod agent;
pub mod fit;
pub mod list;
pub mod open;
pub mod read;
pub mod uploads;
pub mod views;

pub use open::{Attachments, NewFile, NewTicket, OpenError, Opened, open};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::{
    Actor, Channel, Contact, EmailAddress, QueueKey, Requester, Ticket, TicketKey, TimelineEntry,
    TimelineEvent, ticket::entry_seq,
};
use crate::store::{ContactStore, IdempotencyClaim, StoreError, TicketStore, Written};

/// Everything known about a ticket before it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketDraft {
    /// The queue.
    pub queue: QueueKey,
    /// Summary line.
    pub summary: String,
    /// Text.
    pub description: String,
    /// Priority, or the configured default.
    pub priority: Option<String>,
    /// Support line.
    pub line: Option<u8>,
    /// Components.
    pub components: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Assignee login.
    pub assignee: Option<String>,
    /// The requester's address, when the request gave one.
    pub requester_email: Option<EmailAddress>,
    /// The requester's name.
    pub requester_name: Option<String>,
    /// The requester's phone number, as given.
    pub requester_phone: Option<String>,
    /// Where it came from.
    pub channel: Channel,
    /// Custom field values.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
}

/// Why a ticket could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The queue is not in the configuration.
    #[error("queue {0} is not configured")]
    UnknownQueue(QueueKey),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finds the contact owning `email`, or creates one; a concurrent creation
/// of the same address resolves to the contact that won.
pub async fn resolve_contact<S: ContactStore + ?Sized>(
    store: &S,
    email: &EmailAddress,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Contact, StoreError> {
    if let Some(contact) = store.find_contact_by_email(email).await? {
        return Ok(contact);
    }
    let contact = Contact::new(email.clone(), name.map(str::to_owned), now);
    match store.create_contact(&contact).await {
        Ok(()) => Ok(contact),
        Err(StoreError::EmailTaken { contact: owner, .. }) => store
            .get_contact(&owner)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("contact {owner}"))),
        Err(e) => Err(e),
    }
}

/// Builds version 1 of a ticket from a draft, with the queue's initial
/// status and the default priority where the draft sets none.
pub fn build_ticket(
    config: &Config,
    key: TicketKey,
    draft: TicketDraft,
    contact: Option<Contact>,
    now: DateTime<Utc>,
) -> Result<Ticket, CreateError> {
    let (contact_id, organization) = contact.map_or((None, None), |c| (Some(c.id), c.organization));
    let queue = config
        .queues
        .get(&draft.queue)
        .ok_or_else(|| CreateError::UnknownQueue(draft.queue.clone()))?;
    Ok(Ticket {
        key,
        queue: draft.queue,
        summary: draft.summary,
        description: draft.description,
        description_blob: None,
        status: queue.initial_status.value.clone(),
        resolution: None,
        priority: draft
            .priority
            .unwrap_or_else(|| config.priorities.default.value.clone()),
        line: draft.line,
        components: draft.components,
        tags: draft.tags,
        assignee: draft.assignee,
        requester: Requester {
            contact_id,
            email: draft.requester_email,
            name: draft.requester_name,
            phone: draft.requester_phone,
            organization,
        },
        participants: Vec::new(),
        channel: draft.channel,
        custom_fields: draft.custom_fields,
        created_at: now,
        updated_at: now,
        first_response_at: None,
        resolved_at: None,
        reopen_count: 0,
        trigger_depth: 0,
        sla: Default::default(),
        satisfaction: Default::default(),
        version: 1,
    })
}

/// The timeline entries of a new ticket: `Created`, then `events` in order.
pub fn first_entries(
    ticket: &Ticket,
    actor: &Actor,
    events: Vec<TimelineEvent>,
) -> Vec<TimelineEntry> {
    std::iter::once(TimelineEvent::Created {
        channel: ticket.channel,
    })
    .chain(events)
    .enumerate()
    .map(|(index, event)| TimelineEntry {
        ticket: ticket.key.clone(),
        seq: entry_seq(ticket.version, index),
        at: ticket.created_at,
        actor: actor.clone(),
        event,
    })
    .collect()
}

/// The longest summary, in characters.
pub const SUMMARY_MAX: usize = 250;

/// A ticket summary from any text (a form's mapped summary, a mail's
/// subject): one line, white space folded, at most [`SUMMARY_MAX`]
/// characters (cut with `…`). The full text stays where it came from (the
/// form's answers, the mail's timeline entry).
pub fn summary_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= SUMMARY_MAX {
        flat
    } else {
        let mut cut: String = flat.chars().take(SUMMARY_MAX - 1).collect();
        cut.push('…');
        cut
    }
}

/// Current time truncated to microseconds, the precision every store keeps.
pub fn store_precision(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{SubsecRound, Timelike};
    let micros = now.nanosecond() / 1_000 * 1_000;
    now.with_nanosecond(micros)
        .unwrap_or_else(|| now.trunc_subsecs(6))
}

/// How many times [`apply`] re-reads and retries after a concurrent change.
const APPLY_ATTEMPTS: usize = 8;

/// Changes a stored ticket: reads it, lets `change` edit it and name the
/// timeline events, and writes version + 1 with `claims`, retrying from a
/// fresh read when someone else changed the ticket meanwhile. `change` may
/// run several times and must decide from the ticket it is given.
pub async fn apply<F>(
    store: &dyn TicketStore,
    config: &Config,
    key: &TicketKey,
    actor: &Actor,
    now: DateTime<Utc>,
    claims: &[IdempotencyClaim],
    change: F,
) -> Result<(Ticket, Written), StoreError>
where
    F: FnMut(&mut Ticket) -> Vec<TimelineEvent> + Send,
{
    apply_at_depth(store, config, key, (actor, 0), now, claims, change).await
}

/// [`apply`] for a change made at trigger depth `by.1` (see
/// [`Ticket::trigger_depth`]) by actor `by.0`.
pub async fn apply_at_depth<F>(
    store: &dyn TicketStore,
    config: &Config,
    key: &TicketKey,
    (actor, depth): (&Actor, u8),
    now: DateTime<Utc>,
    claims: &[IdempotencyClaim],
    mut change: F,
) -> Result<(Ticket, Written), StoreError>
where
    F: FnMut(&mut Ticket) -> Vec<TimelineEvent> + Send,
{
    let mut last_error = None;
    for _ in 0..APPLY_ATTEMPTS {
        let stored = store
            .get_ticket(key)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ticket {key}")))?;
        let (ticket, entries) = next_version(config, &stored, &mut change, (actor, depth), now);
        match store
            .update_ticket(&ticket, stored.version, &entries, claims)
            .await
        {
            Ok(written) => return Ok((ticket, written)),
            Err(e @ StoreError::VersionConflict { .. }) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| StoreError::unavailable(format!("ticket {key} keeps changing"))))
}

/// [`apply`] for a change decided on version `expected` of the ticket (an
/// agent's `If-Match`): when the ticket is at another version, or changes
/// before the write lands, nothing is written and the answer is
/// [`StoreError::VersionConflict`] with the version it is at.
pub async fn apply_at_version<F>(
    store: &dyn TicketStore,
    config: &Config,
    key: &TicketKey,
    (actor, now): (&Actor, DateTime<Utc>),
    claims: &[IdempotencyClaim],
    expected: u64,
    mut change: F,
) -> Result<(Ticket, Written), StoreError>
where
    F: FnMut(&mut Ticket) -> Vec<TimelineEvent> + Send,
{
    let stored = store
        .get_ticket(key)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {key}")))?;
    if stored.version != expected {
        return Err(StoreError::VersionConflict {
            key: key.clone(),
            expected,
            actual: Some(stored.version),
        });
    }
    let (ticket, entries) = next_version(config, &stored, &mut change, (actor, 0), now);
    match store
        .update_ticket(&ticket, expected, &entries, claims)
        .await
    {
        Err(StoreError::VersionConflict { actual: None, .. }) => {
            let actual = store.get_ticket(key).await?.map(|t| t.version);
            Err(StoreError::VersionConflict {
                key: key.clone(),
                expected,
                actual,
            })
        }
        other => other.map(|written| (ticket, written)),
    }
}

/// Version + 1 of `stored` as `change` makes it, with its timeline
/// entries, and the [`lifecycle`] its status change implies.
fn next_version<F>(
    config: &Config,
    stored: &Ticket,
    change: &mut F,
    (actor, depth): (&Actor, u8),
    now: DateTime<Utc>,
) -> (Ticket, Vec<TimelineEntry>)
where
    F: FnMut(&mut Ticket) -> Vec<TimelineEvent>,
{
    let mut ticket = stored.clone();
    let mut events = change(&mut ticket);
    events.extend(lifecycle(config, stored, &mut ticket, now));
    ticket.version = stored.version + 1;
    ticket.trigger_depth = depth;
    ticket.updated_at = now;
    let entries = events
        .into_iter()
        .enumerate()
        .map(|(index, event)| TimelineEntry {
            ticket: stored.key.clone(),
            seq: entry_seq(ticket.version, index),
            at: now,
            actor: actor.clone(),
            event,
        })
        .collect();
    (ticket, entries)
}

/// What a status change means, whoever made it (an agent, a trigger, a
/// customer's reply): entering a resolved or closed status sets
/// `resolved_at`; leaving one clears it and the resolution, and counts a
/// reopen (once: a
/// change that counted it itself is not counted again). Answers the
/// timeline event of a reopen counted here.
fn lifecycle(
    config: &Config,
    before: &Ticket,
    after: &mut Ticket,
    now: DateTime<Utc>,
) -> Option<TimelineEvent> {
    let queue = config.queues.get(&after.queue)?;
    let done = |status: &str| queue.category_of(status).is_some_and(|c| c.is_done());
    match (done(&before.status), done(&after.status)) {
        (false, true) => {
            after.resolved_at = Some(now);
            None
        }
        (true, false) => {
            after.resolved_at = None;
            after.resolution = None;
            (after.reopen_count == before.reopen_count).then(|| {
                after.reopen_count = before.reopen_count.saturating_add(1);
                TimelineEvent::FieldChanged {
                    field: "reopen_count".to_owned(),
                    old: before.reopen_count.into(),
                    new: after.reopen_count.into(),
                }
            })
        }
        _ => None,
    }
}

/// The field-change events between two versions of a ticket's simple
/// fields (status, priority, line, assignee, components, participants,
/// reopen count), for the timeline.
pub fn field_changes(before: &Ticket, after: &Ticket) -> Vec<TimelineEvent> {
    let mut events = Vec::new();
    let mut compare = |field: &str, old: serde_json::Value, new: serde_json::Value| {
        if old != new {
            events.push(TimelineEvent::FieldChanged {
                field: field.to_owned(),
                old,
                new,
            });
        }
    };
    compare(
        "status",
        before.status.clone().into(),
        after.status.clone().into(),
    );
    compare(
        "priority",
        before.priority.clone().into(),
        after.priority.clone().into(),
    );
    compare(
        "line",
        serde_json::json!(before.line),
        serde_json::json!(after.line),
    );
    compare(
        "assignee",
        serde_json::json!(before.assignee),
        serde_json::json!(after.assignee),
    );
    compare(
        "components",
        serde_json::json!(before.components),
        serde_json::json!(after.components),
    );
    compare(
        "participants",
        serde_json::json!(before.participants),
        serde_json::json!(after.participants),
    );
    compare(
        "reopen_count",
        before.reopen_count.into(),
        after.reopen_count.into(),
    );
    events
}
