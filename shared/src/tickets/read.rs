//! What an agent reads of a ticket, for the API and the console alike:
//! the ticket page (the ticket, its newest timeline entries, the
//! requester's other tickets), older entries on demand, and one
//! attachment. Each read is bounded, whatever the ticket's history: a
//! ticket with thousands of entries, or a requester with hundreds of
//! tickets, costs one page of each.

use bytes::Bytes;

use super::agent::{AgentError, visible_ticket};
use super::list;
use crate::auth::Principal;
use crate::domain::ticket::ENTRIES_PER_VERSION;
use crate::domain::{Ticket, TicketKey, TimelineEntry, TimelineEvent};
use crate::services::Services;
use crate::store::StoreError;
use crate::store::listing::ListingRules;

/// How many of the requester's other tickets a ticket page shows.
pub const OTHER_TICKETS_SHOWN: usize = 10;

/// A ticket as an agent opens it.
#[derive(Debug, Clone)]
pub struct TicketPage {
    /// The ticket.
    pub ticket: Ticket,
    /// Its newest timeline entries, newest first.
    pub entries: Vec<TimelineEntry>,
    /// Where older entries continue (the sequence number to read
    /// before), when there are any.
    pub older: Option<u64>,
    /// The requester's newest other tickets in the agent's queues.
    pub requester_tickets: Vec<Ticket>,
}

/// Ticket `key` for `agent` with its `entries` newest timeline entries.
pub async fn page(
    services: &Services,
    agent: &Principal,
    key: &TicketKey,
    entries: usize,
) -> Result<TicketPage, AgentError> {
    let ticket = visible_ticket(services, key, agent).await?;
    let (entries, older) = newest(services, key, None, entries).await?;
    let requester_tickets = requester_tickets(services, agent, &ticket).await?;
    Ok(TicketPage {
        ticket,
        entries,
        older,
        requester_tickets,
    })
}

/// Up to `count` entries of ticket `key` before sequence number `before`,
/// newest first, and where the next older ones start.
pub async fn older(
    services: &Services,
    agent: &Principal,
    key: &TicketKey,
    before: u64,
    count: usize,
) -> Result<(Vec<TimelineEntry>, Option<u64>), AgentError> {
    visible_ticket(services, key, agent).await?;
    Ok(newest(services, key, Some(before), count).await?)
}

/// One page of entries and whether more come before it (one read of one
/// more entry than shown).
async fn newest(
    services: &Services,
    key: &TicketKey,
    before: Option<u64>,
    count: usize,
) -> Result<(Vec<TimelineEntry>, Option<u64>), StoreError> {
    let mut entries = services
        .store
        .timeline_page(key, before, count.saturating_add(1))
        .await?;
    let more = entries.len() > count;
    entries.truncate(count);
    let older = more.then(|| entries.last().map(|e| e.seq)).flatten();
    Ok((entries, older))
}

/// The requester's newest other tickets in `agent`'s queues (at most
/// [`OTHER_TICKETS_SHOWN`], one listing read).
pub async fn requester_tickets(
    services: &Services,
    agent: &Principal,
    ticket: &Ticket,
) -> Result<Vec<Ticket>, StoreError> {
    let Some(email) = &ticket.requester.email else {
        return Ok(Vec::new());
    };
    let queues = agent.queues(&services.config);
    let mut found = list::of_requester(
        services.store.as_ref(),
        &ListingRules::of(&services.config),
        &queues,
        std::slice::from_ref(email),
        OTHER_TICKETS_SHOWN + 1,
    )
    .await?;
    found.retain(|t| t.key != ticket.key);
    found.truncate(OTHER_TICKETS_SHOWN);
    Ok(found)
}

/// A file attached to a ticket.
#[derive(Debug, Clone)]
pub struct File {
    /// Its name.
    pub name: String,
    /// Its media type, as received.
    pub content_type: String,
    /// Its content.
    pub bytes: Bytes,
}

/// The attachment recorded by entry `seq` of ticket `key`, for `agent`
/// (one read of that entry's version, then the blob); `None` when there
/// is no such attachment.
pub async fn attachment(
    services: &Services,
    agent: &Principal,
    key: &TicketKey,
    seq: u64,
) -> Result<Option<File>, AgentError> {
    visible_ticket(services, key, agent).await?;
    let entries = services
        .store
        .entries_of_version(key, seq / ENTRIES_PER_VERSION)
        .await?;
    let Some(TimelineEvent::AttachmentAdded {
        file_name,
        content_type,
        blob_key,
        ..
    }) = entries.into_iter().find(|e| e.seq == seq).map(|e| e.event)
    else {
        return Ok(None);
    };
    let bytes = services
        .blobs
        .get(&blob_key)
        .await
        .map_err(AgentError::Content)?;
    Ok(bytes.map(|bytes| File {
        name: file_name,
        content_type,
        bytes,
    }))
}
