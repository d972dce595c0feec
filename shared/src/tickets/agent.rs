//! An agent working a ticket: a comment (public comments are mailed to the
//! requester and participants, as the answer "from the ticket"), and field
//! changes (status, priority, assignee, line, components, tags, custom
//! fields), in one write with the timeline entries that say what changed;
//! and a ticket opened by hand ([`open_by_hand`], a phone call). Every
//! value is checked against the queue's configuration, and what the
//! agent's role allows against their role ([`crate::auth::Principal`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::config::{Config, CustomFieldType, Queue};
use crate::domain::{Channel, EmailAddress, QueueKey, Ticket, TicketKey, TimelineEvent};
use crate::keys;
use crate::mail::send::{self, SendError, SendOutcome, TicketMail};
use crate::services::Services;
use crate::store::{ClaimPurpose, IdempotencyClaim, StoreError, Written};

/// What an agent does to a ticket. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentUpdate {
    /// A new status.
    pub status: Option<String>,
    /// A new priority.
    pub priority: Option<String>,
    /// A new assignee (`Some(None)`: unassign).
    pub assignee: Option<Option<String>>,
    /// A new support line (`Some(None)`: none).
    pub line: Option<Option<u8>>,
    /// The components, replacing the ticket's.
    pub components: Option<Vec<String>>,
    /// The tags, replacing the ticket's.
    pub tags: Option<Vec<String>>,
    /// Custom field values by id (`None`: clear the field).
    pub custom_fields: BTreeMap<String, Option<serde_json::Value>>,
    /// A comment: public (sent to the customer) or internal, and its text.
    pub comment: Option<(bool, String)>,
    /// A public comment's recipients instead of the requester and the
    /// participants.
    pub to: Option<Vec<EmailAddress>>,
    /// More recipients of a public comment (they become participants).
    pub cc: Vec<EmailAddress>,
    /// Uploads to attach to the comment, by id.
    pub attachments: Vec<String>,
    /// Makes the update idempotent: the same key writes once.
    pub idempotency_key: Option<String>,
    /// The version the agent saw (`If-Match`): when the ticket changed
    /// since, nothing is written ([`AgentError::Stale`]).
    pub expected_version: Option<u64>,
}

/// Why an update was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The ticket does not exist, or is in a queue the agent does not work
    /// in (told the same way, so its existence does not leak).
    #[error("ticket {0} does not exist")]
    NotFound(TicketKey),
    /// A value is not one the configuration allows.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as the API names it.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The agent may not do this (their role).
    #[error("{0}")]
    Forbidden(String),
    /// The ticket is closed and its queue keeps it so (a comment the
    /// `closed_comments` policy refuses).
    #[error("{0}")]
    Closed(String),
    /// The ticket changed since the version the agent saw.
    #[error("ticket {key} is at version {current} now; reload it and decide again")]
    Stale {
        /// The ticket.
        key: TicketKey,
        /// Its version now.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A long comment could not be kept in the blob store (nothing was
    /// written).
    #[error("the comment could not be stored")]
    Content(#[source] crate::blobs::BlobError),
    /// The answer could not be mailed (the comment is stored).
    #[error("the comment is stored, but the mail to the customer failed: {0}")]
    Mail(String),
}

impl AgentError {
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// What [`update`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The ticket as written.
    pub ticket: Ticket,
    /// The mail to the customer, for a public comment with someone to send
    /// it to.
    pub mail: Option<SendOutcome>,
}

/// Applies `update` by `agent` (see the module docs): checks it against
/// the configuration and the agent's role, writes it as one version, and
/// mails a public comment.
pub async fn update(
    services: &Services,
    key: &TicketKey,
    agent: &Principal,
    update: AgentUpdate,
) -> Result<Updated, AgentError> {
    let config = &services.config;
    let store = services.store.as_ref();
    let current = visible_ticket(services, key, agent).await?;
    check_values(config, &current.queue, &update)?;
    check_closed_comment(config, &current, &update)?;
    authorize(agent, &current, &update)?;
    let actor = agent.actor();
    let now = super::store_precision(services.clock.now());
    let claims = idempotency_claims(config, key, &update, now);
    let comment = comment_entry(services, key, &update).await?;
    let files = super::uploads::uploads_of(services, agent, &update.attachments).await?;
    let attached: Vec<TimelineEvent> = files.iter().map(attachment_event).collect();
    let write = |ticket: &mut Ticket| {
        let mut events = change(ticket, &update, comment.clone(), now);
        events.extend(attached.iter().cloned());
        add_participants(ticket, &update.cc);
        events
    };
    let (ticket, written) = match update.expected_version {
        Some(expected) => {
            super::apply_at_version(store, config, key, (&actor, now), &claims, expected, write)
                .await
                .map_err(|e| stale(key, e))?
        }
        None => super::apply(store, config, key, &actor, now, &claims, write).await?,
    };
    if let Written::Replayed(_) = written {
        // The same request was applied before: nothing was written now,
        // and its answer was mailed then (or its failure reported then).
        let ticket = visible_ticket(services, key, agent).await?;
        return Ok(Updated { ticket, mail: None });
    }
    let mail = match &update.comment {
        Some((true, body)) => {
            let answer = Answer {
                body,
                to: update.to.as_deref(),
                cc: &update.cc,
                files: &files,
            };
            answer_by_mail(services, &ticket, agent, answer).await?
        }
        _ => None,
    };
    Ok(Updated { ticket, mail })
}

/// A ticket an agent opens by hand: the draft (queue, summary,
/// description, requester by address, name or phone, channel, fields) and
/// the key that makes a repeated request open it once.
#[derive(Debug, Clone)]
pub struct HandMade {
    /// What the ticket says.
    pub draft: super::TicketDraft,
    /// Makes the creation idempotent: the same key opens one ticket.
    pub idempotency_key: Option<String>,
}

/// Opens a ticket by hand, through the same path forms and mail take
/// ([`super::open`]): in a queue `agent` works in, with values the queue
/// allows, for a requester known by at least an address, a name or a
/// phone number.
pub async fn open_by_hand(
    services: &Services,
    agent: &Principal,
    made: HandMade,
) -> Result<super::Opened, AgentError> {
    let config = &services.config;
    let draft = made.draft;
    if !agent.works_in(config, &draft.queue) {
        return Err(AgentError::invalid(
            "queue",
            format!("{} is not one of your queues", draft.queue),
        ));
    }
    check_draft(config, &draft)?;
    let now = super::store_precision(services.clock.now());
    let claims = made
        .idempotency_key
        .iter()
        .map(|k| IdempotencyClaim {
            key: keys::claim::hand_made(&agent.login, k),
            purpose: ClaimPurpose::Payload(format!("{draft:?}")),
            expires_at: now + config.idempotency_retention(),
        })
        .collect();
    let new = super::NewTicket {
        draft,
        participants: Vec::new(),
        actor: agent.actor(),
        intake: Vec::new(),
        attachments: super::Attachments::default(),
        links: Vec::new(),
        claims,
        now,
    };
    super::open(
        config,
        services.store.as_ref(),
        services.blobs.as_ref(),
        new,
    )
    .await
    .map_err(|e| match e {
        super::OpenError::UnknownQueue(queue) => {
            AgentError::invalid("queue", format!("queue {queue} is not configured"))
        }
        super::OpenError::Blob(e) => AgentError::Content(e),
        super::OpenError::Store(StoreError::IdempotencyMismatch { .. }) => AgentError::invalid(
            "Idempotency-Key",
            "this key opened another ticket with other values",
        ),
        super::OpenError::Store(e) => AgentError::Store(e),
    })
}

/// Refuses a hand-made draft without a summary or anyone to answer, from
/// a channel no agent types in, or with values its queue does not allow.
fn check_draft(config: &Config, draft: &super::TicketDraft) -> Result<(), AgentError> {
    if draft.summary.trim().is_empty() {
        return Err(AgentError::invalid(
            "summary",
            "a ticket says what it is about",
        ));
    }
    if draft.summary.chars().count() > super::SUMMARY_MAX {
        return Err(AgentError::invalid(
            "summary",
            format!("at most {} characters", super::SUMMARY_MAX),
        ));
    }
    let blank = |text: &Option<String>| text.as_deref().is_none_or(|t| t.trim().is_empty());
    if draft.requester_email.is_none()
        && blank(&draft.requester_name)
        && blank(&draft.requester_phone)
    {
        return Err(AgentError::invalid(
            "requester",
            "an address, a name or a phone number",
        ));
    }
    if !matches!(
        draft.channel,
        Channel::Phone | Channel::Email | Channel::Chat | Channel::Api
    ) {
        return Err(AgentError::invalid("channel", "phone, email, chat or api"));
    }
    let as_update = AgentUpdate {
        priority: draft.priority.clone(),
        assignee: draft.assignee.clone().map(Some),
        line: draft.line.map(Some),
        components: Some(draft.components.clone()),
        tags: Some(draft.tags.clone()),
        custom_fields: draft
            .custom_fields
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect(),
        ..AgentUpdate::default()
    };
    check_values(config, &draft.queue, &as_update)
}

/// The ticket `key` when `agent` works in its queue; otherwise, as when it
/// does not exist, [`AgentError::NotFound`].
pub async fn visible_ticket(
    services: &Services,
    key: &TicketKey,
    agent: &Principal,
) -> Result<Ticket, AgentError> {
    services
        .store
        .get_ticket(key)
        .await?
        .filter(|ticket| agent.works_in(&services.config, &ticket.queue))
        .ok_or_else(|| AgentError::NotFound(key.clone()))
}

/// A refused write because of the version: [`AgentError::Stale`].
fn stale(key: &TicketKey, e: StoreError) -> AgentError {
    match e {
        StoreError::VersionConflict {
            actual, expected, ..
        } => AgentError::Stale {
            key: key.clone(),
            current: actual.unwrap_or(expected),
        },
        other => AgentError::Store(other),
    }
}

/// Only a lead or an admin takes a ticket away from someone who holds it
/// (or hands it on for them); anyone takes an unassigned one, gives it to
/// a colleague, or lets go of their own.
fn authorize(agent: &Principal, current: &Ticket, update: &AgentUpdate) -> Result<(), AgentError> {
    let Some(new) = &update.assignee else {
        return Ok(());
    };
    let held_by_other = current
        .assignee
        .as_deref()
        .is_some_and(|holder| holder != agent.login);
    if held_by_other && *new != current.assignee && !agent.may_reassign() {
        return Err(AgentError::Forbidden(format!(
            "{} holds {}; only a lead or an admin reassigns it",
            current.assignee.as_deref().unwrap_or_default(),
            current.key
        )));
    }
    Ok(())
}

/// Refuses a comment that the queue's `closed_comments` policy does not
/// allow on a ticket that is closed (and stays closed with this change).
fn check_closed_comment(
    config: &Config,
    ticket: &Ticket,
    update: &AgentUpdate,
) -> Result<(), AgentError> {
    let Some((public, _)) = &update.comment else {
        return Ok(());
    };
    let Some(queue) = config.queues.get(&ticket.queue) else {
        return Ok(());
    };
    let status = update.status.as_deref().unwrap_or(&ticket.status);
    if queue.category_of(status) != Some(crate::config::StatusCategory::Closed) {
        return Ok(());
    }
    let refused = match queue.closed_comments {
        crate::config::ClosedComments::Any => None,
        crate::config::ClosedComments::Internal if *public => Some(
            "the ticket is closed: queue policy allows internal notes only; reopen it to answer the customer",
        ),
        crate::config::ClosedComments::Internal => None,
        crate::config::ClosedComments::None => {
            Some("the ticket is closed: queue policy allows no more comments")
        }
    };
    match refused {
        Some(message) => Err(AgentError::Closed(message.to_owned())),
        None => Ok(()),
    }
}

/// Refuses what the ticket's queue does not have: a status, a priority, an
/// assignee who does not work in the queue, a line, a component, a custom
/// field or a value of the wrong type.
fn check_values(
    config: &Config,
    queue_key: &QueueKey,
    update: &AgentUpdate,
) -> Result<(), AgentError> {
    let queue = config.queues.get(queue_key).ok_or_else(|| {
        AgentError::invalid("queue", format!("queue {queue_key} is not configured"))
    })?;
    if let Some(status) = &update.status
        && !queue.has_status(status)
    {
        return Err(AgentError::invalid(
            "status",
            format!("{status:?} is not a status of queue {}", queue_key),
        ));
    }
    if let Some(priority) = &update.priority
        && !config.priorities.levels.contains(priority)
    {
        return Err(AgentError::invalid(
            "priority",
            format!("{priority:?} is not a priority"),
        ));
    }
    if let Some(Some(assignee)) = &update.assignee
        && !config.works_in(assignee, queue_key)
    {
        return Err(AgentError::invalid(
            "assignee",
            format!("{assignee:?} is not an agent of queue {}", queue_key),
        ));
    }
    if let Some(Some(line)) = update.line
        && !queue.lines.contains(&line)
    {
        return Err(AgentError::invalid(
            "line",
            format!("{line} is not a line of queue {}", queue_key),
        ));
    }
    for component in update.components.iter().flatten() {
        if !queue.components.contains_key(component) {
            return Err(AgentError::invalid(
                "components",
                format!("{component:?} is not a component of queue {}", queue_key),
            ));
        }
    }
    for tag in update.tags.iter().flatten() {
        if tag.is_empty() || tag.chars().count() > 64 || tag.chars().any(char::is_whitespace) {
            return Err(AgentError::invalid(
                "tags",
                format!("{tag:?} is not a tag (1 to 64 characters, no spaces)"),
            ));
        }
    }
    for (id, value) in &update.custom_fields {
        check_custom_field(queue, queue_key, id, value.as_ref())?;
    }
    Ok(())
}

/// A custom field value of the right type for the field `id`.
fn check_custom_field(
    queue: &Queue,
    queue_key: &crate::domain::QueueKey,
    id: &str,
    value: Option<&serde_json::Value>,
) -> Result<(), AgentError> {
    let field = format!("custom_fields.{id}");
    let Some(definition) = queue.custom_fields.get(id) else {
        return Err(AgentError::invalid(
            &field,
            format!("queue {queue_key} has no custom field {id:?}"),
        ));
    };
    let Some(value) = value else {
        return Ok(());
    };
    let fine = match (&definition.field_type, value) {
        (CustomFieldType::Number, serde_json::Value::Number(_)) => true,
        (CustomFieldType::Number, _) => false,
        (CustomFieldType::Text, serde_json::Value::String(text)) => text.len() <= 4096,
        (CustomFieldType::Date, serde_json::Value::String(text)) => {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
                || DateTime::parse_from_rfc3339(text).is_ok()
        }
        (CustomFieldType::Select, serde_json::Value::String(text)) => {
            definition.options.iter().any(|o| o == text)
        }
        _ => false,
    };
    if fine {
        Ok(())
    } else {
        Err(AgentError::invalid(
            &field,
            format!(
                "{value} is not a {} value{}",
                definition.field_type.as_str(),
                if definition.options.is_empty() {
                    String::new()
                } else {
                    format!(" (one of {})", definition.options.join(", "))
                }
            ),
        ))
    }
}

/// The claim that makes an update with an idempotency key write once: the
/// same key with other values is refused.
fn idempotency_claims(
    config: &Config,
    key: &TicketKey,
    update: &AgentUpdate,
    now: DateTime<Utc>,
) -> Vec<IdempotencyClaim> {
    update
        .idempotency_key
        .iter()
        .map(|k| IdempotencyClaim {
            key: keys::claim::agent_change(key, k),
            purpose: ClaimPurpose::Payload(format!(
                "{:?}",
                (
                    &update.status,
                    &update.priority,
                    &update.assignee,
                    &update.comment,
                    (
                        &update.line,
                        &update.components,
                        &update.tags,
                        &update.custom_fields
                    )
                )
            )),
            expires_at: now + config.idempotency_retention(),
        })
        .collect()
}

/// The update's comment as its timeline entry, a long text kept whole in
/// the blob store.
async fn comment_entry(
    services: &Services,
    key: &TicketKey,
    update: &AgentUpdate,
) -> Result<Option<TimelineEvent>, AgentError> {
    let Some((public, body)) = &update.comment else {
        return Ok(None);
    };
    let comment = TimelineEvent::Comment {
        public: *public,
        body: body.clone(),
        body_blob: None,
    };
    super::fit::fit_event(services.blobs.as_ref(), key, comment)
        .await
        .map(Some)
        .map_err(AgentError::Content)
}

/// Changes the fields of `ticket` and answers the timeline entries: the
/// field changes, then the comment (a first public one is the first
/// response).
fn change(
    ticket: &mut Ticket,
    update: &AgentUpdate,
    comment: Option<TimelineEvent>,
    now: DateTime<Utc>,
) -> Vec<TimelineEvent> {
    let before = ticket.clone();
    if let Some(status) = &update.status {
        ticket.status.clone_from(status);
    }
    if let Some(priority) = &update.priority {
        ticket.priority.clone_from(priority);
    }
    if let Some(assignee) = &update.assignee {
        ticket.assignee.clone_from(assignee);
    }
    if let Some(line) = update.line {
        ticket.line = line;
    }
    if let Some(components) = &update.components {
        ticket.components.clone_from(components);
    }
    if let Some(tags) = &update.tags {
        ticket.tags.clone_from(tags);
    }
    for (id, value) in &update.custom_fields {
        match value {
            Some(value) => {
                ticket.custom_fields.insert(id.clone(), value.clone());
            }
            None => {
                ticket.custom_fields.remove(id);
            }
        }
    }
    let mut events = super::field_changes(&before, ticket);
    if before.tags != ticket.tags {
        events.push(TimelineEvent::FieldChanged {
            field: "tags".to_owned(),
            old: serde_json::json!(before.tags),
            new: serde_json::json!(ticket.tags),
        });
    }
    for id in update.custom_fields.keys() {
        let (old, new) = (before.custom_fields.get(id), ticket.custom_fields.get(id));
        if old != new {
            events.push(TimelineEvent::FieldChanged {
                field: format!("custom_fields.{id}"),
                old: old.cloned().unwrap_or(serde_json::Value::Null),
                new: new.cloned().unwrap_or(serde_json::Value::Null),
            });
        }
    }
    if let Some(comment) = comment {
        if matches!(comment, TimelineEvent::Comment { public: true, .. })
            && ticket.first_response_at.is_none()
        {
            ticket.first_response_at = Some(now);
        }
        events.push(comment);
    }
    events
}

/// A public answer: its text, recipients and files.
struct Answer<'a> {
    body: &'a str,
    /// Instead of the requester and participants.
    to: Option<&'a [EmailAddress]>,
    cc: &'a [EmailAddress],
    files: &'a [super::uploads::Upload],
}

/// The timeline event of an attached upload.
fn attachment_event(upload: &super::uploads::Upload) -> TimelineEvent {
    TimelineEvent::AttachmentAdded {
        file_name: upload.name.clone(),
        content_type: upload.content_type.clone(),
        size: upload.size,
        blob_key: upload.blob_key.clone(),
    }
}

/// Adds `cc` to the ticket's participants (the requester is not one; at
/// most [`crate::domain::bounds::PARTICIPANTS_MAX`]).
fn add_participants(ticket: &mut Ticket, cc: &[EmailAddress]) {
    for address in cc {
        let known = ticket.requester.email.as_ref() == Some(address)
            || ticket.participants.contains(address);
        if !known && ticket.participants.len() < crate::domain::bounds::PARTICIPANTS_MAX {
            ticket.participants.push(address.clone());
        }
    }
}

/// An answer's text as mailed: with the agent's signature, when they have
/// one, below the conventional `-- ` line.
fn signed(body: &str, agent: Option<&crate::config::Agent>) -> String {
    match agent
        .and_then(|a| a.signature.as_deref())
        .map(str::trim_end)
    {
        Some(signature) if !signature.is_empty() => {
            format!("{}\n\n-- \n{signature}\n", body.trim_end())
        }
        _ => body.to_owned(),
    }
}

/// Mails a public comment to the requester and participants (or to whom
/// `to` names), with its copies and files.
async fn answer_by_mail(
    services: &Services,
    ticket: &Ticket,
    agent: &Principal,
    answer: Answer<'_>,
) -> Result<Option<SendOutcome>, AgentError> {
    let to: Vec<EmailAddress> = match answer.to {
        Some(to) => to.to_vec(),
        None => ticket
            .requester
            .email
            .iter()
            .chain(
                ticket
                    .participants
                    .iter()
                    .filter(|p| !answer.cc.contains(p)),
            )
            .cloned()
            .collect(),
    };
    if to.is_empty() && answer.cc.is_empty() {
        return Ok(None);
    }
    let mut attachments = Vec::with_capacity(answer.files.len());
    for file in answer.files {
        let bytes = services
            .blobs
            .get(&file.blob_key)
            .await
            .map_err(AgentError::Content)?
            .ok_or_else(|| AgentError::Mail(format!("the upload {} is gone", file.name)))?;
        attachments.push((file.name.clone(), file.content_type.clone(), bytes));
    }
    let (in_reply_to, references) = send::thread_of(services, &ticket.key).await?;
    let mail = TicketMail {
        ticket: ticket.key.clone(),
        to,
        cc: answer.cc.to_vec(),
        attachments,
        subject: ticket.summary.clone(),
        text: signed(answer.body, services.config.agents.get(&agent.login)),
        purpose: format!("answer:{}", ticket.version),
        in_reply_to,
        references,
        automatic: false,
        actor: agent.actor(),
        trigger_depth: 0,
    };
    match send::send_ticket_mail(services, mail, None).await {
        Ok(outcome) => Ok(Some(outcome)),
        Err(SendError::Store(e)) => Err(AgentError::Store(e)),
        Err(e) => Err(AgentError::Mail(e.to_string())),
    }
}
