//! Opening a ticket: the one use case every channel calls (a form, a mail,
//! and later an agent's hand-made ticket and a split). What differs by
//! channel is in [`NewTicket`]; the steps are the same for all:
//!
//! 1. the requester's address resolves to a contact (found or created);
//! 2. the queue's counter gives the ticket its key;
//! 3. version 1 is built with the queue's defaults;
//! 4. texts over their bounds (a long description, a mail's text, a form's
//!    answers) are kept whole as blobs and cut to excerpts ([`super::fit`]);
//! 5. the attachments are stored (both before the ticket, so no ticket
//!    ever points at a missing file);
//! 6. the ticket, its first timeline entries and its claims are written in
//!    one write; a claim that exists makes it a replay of the first ticket.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{TicketDraft, build_ticket, first_entries, resolve_contact};
use crate::blobs::{BlobError, BlobStore, safe_file_name};
use crate::config::Config;
use crate::domain::{Actor, Contact, EmailAddress, Ticket, TicketKey, TimelineEvent};
use crate::store::{
    ContactStore, CounterStore, IdempotencyClaim, StoreError, TicketStore, Written,
};

/// A ticket about to be opened, as its channel describes it.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// The fields the channel filled: queue, summary, description, routing,
    /// requester, channel, custom fields.
    pub draft: TicketDraft,
    /// Addresses copied on the ticket from the start (a mail's Cc).
    pub participants: Vec<EmailAddress>,
    /// Who opened it: the customer, or the system for an anonymous form.
    pub actor: Actor,
    /// What the channel records first, after `created`: the form's
    /// answers, the mail received.
    pub intake: Vec<TimelineEvent>,
    /// Files that come with the request, recorded after `intake`.
    pub attachments: Attachments,
    /// Links recorded after the attachments (the ticket a follow-up
    /// continues).
    pub links: Vec<TimelineEvent>,
    /// Claims written with the ticket (an idempotency key, a Message-ID).
    pub claims: Vec<IdempotencyClaim>,
    /// When the request arrived, at store precision.
    pub now: DateTime<Utc>,
}

/// The files of a new ticket (or of a reply), and how their stored names
/// tell them from other files of the same ticket.
#[derive(Debug, Clone, Default)]
pub struct Attachments {
    /// A prefix of each stored name (`mail-<digest>-` for a mail's files),
    /// empty for a ticket's first files.
    pub tag: String,
    /// The files, in the order the request had them.
    pub files: Vec<NewFile>,
}

/// One file from a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// The name the customer gave it.
    pub file_name: String,
    /// `type/subtype`.
    pub content_type: String,
    /// The content.
    pub bytes: Bytes,
}

/// What [`open`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// A new ticket, as stored.
    New(Box<Ticket>),
    /// One of the claims was taken by an earlier identical request: nothing
    /// was written, and this is the ticket it opened.
    Replayed(TicketKey),
}

impl Opened {
    /// The ticket's key, new or replayed.
    pub fn key(&self) -> &TicketKey {
        match self {
            Self::New(ticket) => &ticket.key,
            Self::Replayed(key) => key,
        }
    }
}

/// Why a ticket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The draft names a queue that is not configured.
    #[error("queue {0} is not configured")]
    UnknownQueue(crate::domain::QueueKey),
    /// An attachment or a long text could not be stored in the blob store
    /// (nothing was written).
    #[error("an attachment or a long text could not be stored")]
    Blob(#[source] BlobError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opens a ticket (see the module docs for the steps).
pub async fn open<S>(
    config: &Config,
    store: &S,
    blobs: &dyn BlobStore,
    new: NewTicket,
) -> Result<Opened, OpenError>
where
    S: TicketStore + ContactStore + CounterStore + ?Sized,
{
    let contact = requester_contact(store, &new).await?;
    let key = store.allocate_ticket_key(&new.draft.queue).await?;
    let mut ticket =
        build_ticket(config, key, new.draft, contact, new.now).map_err(|e| match e {
            super::CreateError::UnknownQueue(queue) => OpenError::UnknownQueue(queue),
            super::CreateError::Store(e) => OpenError::Store(e),
        })?;
    ticket.participants = new.participants;
    super::fit::fit_ticket(blobs, &mut ticket)
        .await
        .map_err(OpenError::Blob)?;
    let mut events = super::fit::fit_events(blobs, &ticket.key, new.intake)
        .await
        .map_err(OpenError::Blob)?;
    events.extend(
        store_attachments(blobs, &ticket.key, &new.attachments)
            .await
            .map_err(OpenError::Blob)?,
    );
    events.extend(new.links);
    let entries = first_entries(&ticket, &new.actor, events);
    Ok(
        match store.create_ticket(&ticket, &entries, &new.claims).await? {
            Written::New => Opened::New(Box::new(ticket)),
            Written::Replayed(key) => Opened::Replayed(key),
        },
    )
}

/// The contact of the requester's address, when the request gave one.
async fn requester_contact<S>(store: &S, new: &NewTicket) -> Result<Option<Contact>, StoreError>
where
    S: ContactStore + ?Sized,
{
    let Some(email) = &new.draft.requester_email else {
        return Ok(None);
    };
    resolve_contact(store, email, new.draft.requester_name.as_deref(), new.now)
        .await
        .map(Some)
}

/// Stores files for the ticket `key` under
/// `attachments/<key>/<tag><n>-<safe name>` and answers the timeline events
/// that record them, in order.
pub async fn store_attachments(
    blobs: &dyn BlobStore,
    key: &TicketKey,
    attachments: &Attachments,
) -> Result<Vec<TimelineEvent>, BlobError> {
    let mut events = Vec::with_capacity(attachments.files.len());
    for (index, file) in attachments.files.iter().enumerate() {
        let blob_key = format!(
            "attachments/{key}/{}{}-{}",
            attachments.tag,
            index + 1,
            safe_file_name(&file.file_name)
        );
        blobs
            .put(&blob_key, &file.content_type, file.bytes.clone())
            .await?;
        events.push(TimelineEvent::AttachmentAdded {
            file_name: file.file_name.clone(),
            content_type: file.content_type.clone(),
            size: file.bytes.len() as u64,
            blob_key,
        });
    }
    Ok(events)
}
