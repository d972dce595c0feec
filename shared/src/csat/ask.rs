//! Asking for a rating: when a write moves a ticket into a status its
//! queue's survey asks on, the requester gets one mail with a link per
//! score, at once or, with a delay, when the SLA checker finds the ticket
//! due (the ticket keeps `satisfaction.ask_at`, which puts it in the due
//! index). A ticket is asked once ([`Satisfaction::asked_at`]); never when
//! automatic mail opened it, when it has no requester address, or when it
//! left the status before the delay ran out.

use chrono::{DateTime, Utc};

use super::link;
use crate::config::Csat;
use crate::domain::{Actor, Satisfaction, Ticket, TicketKey, TimelineEvent};
use crate::mail::send::{self, SendError, SendOutcome, TicketMail};
use crate::mail::transport::TransportError;
use crate::services::Services;
use crate::store::StoreError;
use crate::tickets;

/// Why asking failed (worth retrying: the write is processed again).
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mail could not be sent now.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// Nothing to do.
    No,
    /// The mail is due at this instant.
    Scheduled(DateTime<Utc>),
    /// The mail went out (or was held back, visibly on the timeline).
    Mailed(SendOutcome),
    /// The ticket left the status before the mail was due: not asked.
    Dropped,
}

/// The survey of `ticket`'s queue, if it has one.
fn survey_of<'a>(services: &'a Services, ticket: &Ticket) -> Option<&'a Csat> {
    services
        .config
        .queues
        .get(&ticket.queue)
        .and_then(|q| q.csat.as_ref())
}

/// After a stored write (`before` -> `after`): asks, or schedules asking,
/// when the write moved the ticket into a status that asks.
pub async fn follow_for_rating(
    services: &Services,
    before: Option<&Ticket>,
    after: &Ticket,
) -> Result<Asked, AskError> {
    let Some(csat) = survey_of(services, after) else {
        return Ok(Asked::No);
    };
    let entered = before.is_some_and(|b| b.status != after.status) && csat.asks_on(&after.status);
    if !entered || !may_ask_rating(services, after).await? {
        return Ok(Asked::No);
    }
    match csat
        .delay
        .map(|d| d.chrono())
        .filter(|d| *d > chrono::Duration::zero())
    {
        None => ask_for_rating(services, after, csat).await,
        Some(delay) => schedule_survey(services, &after.key, after.updated_at + delay).await,
    }
}

/// For the checker, with the ticket as it read it: asks now when the
/// survey is due and the ticket is still in a status that asks; forgets it
/// otherwise.
pub async fn rating_due(services: &Services, ticket: &Ticket) -> Result<Asked, AskError> {
    let now = tickets::store_precision(services.clock.now());
    let Some(ask_at) = ticket.satisfaction.ask_at else {
        return Ok(Asked::No);
    };
    if ask_at > now {
        return Ok(Asked::No);
    }
    match survey_of(services, ticket) {
        Some(csat) if csat.asks_on(&ticket.status) && ticket.satisfaction.asked_at.is_none() => {
            ask_for_rating(services, ticket, csat).await
        }
        _ => {
            settle_survey(services, &ticket.key, |s| s.ask_at = None).await?;
            Ok(Asked::Dropped)
        }
    }
}

/// Whether the ticket may be asked: not yet asked, a requester address,
/// not opened by automatic mail.
async fn may_ask_rating(services: &Services, ticket: &Ticket) -> Result<bool, StoreError> {
    if ticket.satisfaction.asked_at.is_some() || ticket.requester.email.is_none() {
        return Ok(false);
    }
    let opening = services.store.entries_of_version(&ticket.key, 1).await?;
    let automatic = opening.iter().any(
        |e| matches!(&e.event, TimelineEvent::EmailIn { automatic, .. } if !automatic.is_empty()),
    );
    Ok(!automatic)
}

/// Keeps when the mail is due on the ticket.
async fn schedule_survey(
    services: &Services,
    key: &TicketKey,
    at: DateTime<Utc>,
) -> Result<Asked, AskError> {
    let at = tickets::store_precision(at);
    settle_survey(services, key, |s| {
        if s.asked_at.is_none() {
            s.ask_at = Some(at);
        }
    })
    .await?;
    Ok(Asked::Scheduled(at))
}

/// Sends the survey mail (once: its Message-ID comes from the ticket and
/// the purpose `csat`), then records that the ticket was asked.
async fn ask_for_rating(
    services: &Services,
    ticket: &Ticket,
    csat: &Csat,
) -> Result<Asked, AskError> {
    let Some(to) = ticket.requester.email.clone() else {
        return Ok(Asked::No);
    };
    let now = tickets::store_precision(services.clock.now());
    let secret_name = &services.config.desk.mail.reply_token_secret_env;
    let secret = services
        .secrets
        .secret(secret_name)
        .await
        .map_err(|e| AskError::Send(SendError::Secrets(e)))?;
    let base = services
        .config
        .desk
        .public_url
        .as_ref()
        .and_then(|u| crate::config::public_url(&u.value));
    let (text, reason) = match (secret, base) {
        (Some(secret), Some(base)) => {
            let expires = now + csat.expires.chrono();
            let token = link::token(secret.as_bytes(), &ticket.key, expires);
            (survey_text(services, ticket, csat, base, &token), None)
        }
        (None, _) => (
            String::new(),
            Some(format!(
                "rating links need a signing secret: set {secret_name}"
            )),
        ),
        (_, None) => (
            String::new(),
            Some("rating links need desk.public_url".to_owned()),
        ),
    };
    let mail = TicketMail {
        ticket: ticket.key.clone(),
        to: vec![to],
        cc: Vec::new(),
        attachments: Vec::new(),
        subject: format!("How did we do? {}", ticket.summary),
        text,
        purpose: "csat".to_owned(),
        in_reply_to: None,
        references: Vec::new(),
        automatic: true,
        actor: Actor::System,
        trigger_depth: 0,
    };
    let outcome = match send::send_ticket_mail(services, mail.clone(), reason).await {
        Ok(outcome) => outcome,
        Err(SendError::Transport(TransportError::Permanent(why)) | SendError::Build(why)) => {
            // Retrying cannot help: recorded on the ticket as held back.
            let why = format!("the rating request could not be sent: {why}");
            send::send_ticket_mail(services, mail, Some(why)).await?
        }
        Err(e) => return Err(e.into()),
    };
    settle_survey(services, &ticket.key, |s| {
        s.ask_at = None;
        s.asked_at = Some(now);
    })
    .await?;
    Ok(Asked::Mailed(outcome))
}

/// The mail's text: a link per score.
fn survey_text(
    services: &Services,
    ticket: &Ticket,
    csat: &Csat,
    base: &str,
    token: &str,
) -> String {
    let hello = ticket.requester.name.as_deref().map_or_else(
        || "Hello,".to_owned(),
        |n| format!("Hello {},", crate::display::line(n)),
    );
    let desk = services
        .config
        .desk
        .name
        .as_deref()
        .unwrap_or("our support team");
    let mut text = format!(
        "{hello}\n\nyour request {} \"{}\" is done. How did {desk} do? Choose an answer:\n\n",
        ticket.key,
        crate::display::line(&ticket.summary),
    );
    for score in csat.scale.scores() {
        text.push_str(&format!(
            "{}: {base}/csat/{token}?score={score}\n",
            score.label()
        ));
    }
    let days = csat.expires.chrono().num_days();
    text.push_str(&format!(
        "\nYou can add a comment on the page, and change your answer there for {days} days.\n"
    ));
    text
}

/// Changes what the ticket keeps of its survey, in one write with no
/// timeline entry (the mail recorded itself).
async fn settle_survey(
    services: &Services,
    key: &TicketKey,
    change: impl Fn(&mut Satisfaction) + Send + Sync,
) -> Result<(), StoreError> {
    let now = tickets::store_precision(services.clock.now());
    tickets::apply(
        services.store.as_ref(),
        &services.config,
        key,
        &Actor::System,
        now,
        &[],
        |ticket| {
            change(&mut ticket.satisfaction);
            Vec::new()
        },
    )
    .await?;
    Ok(())
}
