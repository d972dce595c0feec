//! An agent working a ticket: a comment (public comments are mailed to the
//! requester and participants, as the answer "from the ticket"), and field
//! changes (status, priority, assignee), in one write with the timeline
//! entries that say what changed.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::domain::{Actor, EmailAddress, Ticket, TicketKey, TimelineEvent};
use crate::keys;
use crate::mail::send::{self, SendError, SendOutcome, TicketMail};
use crate::services::Services;
use crate::store::{ClaimPurpose, IdempotencyClaim, StoreError};

/// What an agent does to a ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentUpdate {
    /// A new status.
    pub status: Option<String>,
    /// A new priority.
    pub priority: Option<String>,
    /// A new assignee (`Some(None)`: unassign).
    pub assignee: Option<Option<String>>,
    /// A comment: public (sent to the customer) or internal, and its text.
    pub comment: Option<(bool, String)>,
    /// Makes the update idempotent: the same key writes once.
    pub idempotency_key: Option<String>,
}

/// Why an update was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The ticket does not exist.
    #[error("ticket {0} does not exist")]
    NotFound(TicketKey),
    /// A value is not one the configuration allows.
    #[error("{0}")]
    Invalid(String),
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

/// What [`update`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The ticket as written.
    pub ticket: Ticket,
    /// The mail to the customer, for a public comment with someone to send
    /// it to.
    pub mail: Option<SendOutcome>,
}

/// Applies `update` by the agent `login` (see the module docs).
pub async fn update(
    services: &Services,
    key: &TicketKey,
    login: &str,
    update: AgentUpdate,
) -> Result<Updated, AgentError> {
    let config = &services.config;
    if !config.agents.contains_key(login) {
        return Err(AgentError::Invalid(format!("{login:?} is not an agent")));
    }
    let store = services.store.as_ref();
    let current = store
        .get_ticket(key)
        .await?
        .ok_or_else(|| AgentError::NotFound(key.clone()))?;
    check_values(config, &current, &update)?;
    let actor = Actor::Agent {
        login: login.to_owned(),
    };
    let now = super::store_precision(services.clock.now());
    let claims = idempotency_claims(config, key, &update, now);
    let comment = comment_entry(services, key, &update).await?;
    let (ticket, _) = super::apply(store, key, &actor, now, &claims, |ticket| {
        change(ticket, &update, comment.clone(), now)
    })
    .await?;
    let mail = match &update.comment {
        Some((true, body)) => answer_by_mail(services, &ticket, login, body).await?,
        _ => None,
    };
    Ok(Updated { ticket, mail })
}

/// Refuses a status the ticket's queue does not have, a priority that is
/// not configured and an assignee who is not an agent.
fn check_values(config: &Config, current: &Ticket, update: &AgentUpdate) -> Result<(), AgentError> {
    let queue = config
        .queues
        .get(&current.queue)
        .ok_or_else(|| AgentError::Invalid(format!("queue {} is not configured", current.queue)))?;
    if let Some(status) = &update.status
        && !queue.has_status(status)
    {
        return Err(AgentError::Invalid(format!(
            "{status:?} is not a status of queue {}",
            current.queue
        )));
    }
    if let Some(priority) = &update.priority
        && !config.priorities.levels.contains(priority)
    {
        return Err(AgentError::Invalid(format!(
            "{priority:?} is not a priority"
        )));
    }
    if let Some(Some(assignee)) = &update.assignee
        && !config.agents.contains_key(assignee)
    {
        return Err(AgentError::Invalid(format!("{assignee:?} is not an agent")));
    }
    Ok(())
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
                    &update.comment
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
    let mut events = super::field_changes(&before, ticket);
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

/// Mails a public comment to the requester and participants.
async fn answer_by_mail(
    services: &Services,
    ticket: &Ticket,
    login: &str,
    body: &str,
) -> Result<Option<SendOutcome>, AgentError> {
    let to: Vec<EmailAddress> = ticket
        .requester
        .email
        .iter()
        .chain(&ticket.participants)
        .cloned()
        .collect();
    if to.is_empty() {
        return Ok(None);
    }
    let mail = TicketMail {
        ticket: ticket.key.clone(),
        to,
        subject: ticket.summary.clone(),
        text: body.to_owned(),
        purpose: format!("answer:{}", ticket.version),
        in_reply_to: None,
        references: Vec::new(),
        automatic: false,
        actor: Actor::Agent {
            login: login.to_owned(),
        },
        trigger_depth: 0,
    };
    match send::send_ticket_mail(services, mail, None).await {
        Ok(outcome) => Ok(Some(outcome)),
        Err(SendError::Store(e)) => Err(AgentError::Store(e)),
        Err(e) => Err(AgentError::Mail(e.to_string())),
    }
}
