//! [`react`]: evaluate a queue's triggers against one stored change and
//! carry the plan out, exactly once per change (see the [module
//! documentation](super) for the guarantees). [`plan_for`] is the same
//! evaluation without doing anything, for the dry run.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::assign::choose_assignee;
use super::ports::{BusEvent, DeliveryError};
use crate::config::Config;
use crate::domain::bounds;
use crate::domain::ticket::entry_seq;
use crate::domain::{Actor, EmailAddress, Ticket, TimelineEntry, TimelineEvent, TriggerNoteKind};
use crate::keys;
use crate::mail::send::{self, SendError, SendOutcome, TicketMail};
use crate::mail::transport::TransportError;
use crate::services::Services;
use crate::store::{ClaimPurpose, IdempotencyClaim, Step, Store, StoreError, Written};
use crate::tickets;
use crate::triggers::field::{apply_list_delta, set_json};
use crate::triggers::{
    Change, Effect, EvalContext, FieldChange, Plan, PlannedEffect, WebhookTarget, evaluate,
};

/// How old an unfinished delivery claim must be before another attempt
/// takes it over (longer than any webhook timeout).
const STALE_CLAIM: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// How many temporary failures of one side effect are retried before it is
/// recorded as failed: changes are processed in order, so one receiver that
/// stays down must not hold up every later change's triggers.
const EFFECT_ATTEMPTS: u64 = 3;

/// How many times the write re-reads the ticket after a concurrent change.
const WRITE_ATTEMPTS: usize = 8;

/// How long claims and markers of one evaluation are kept (longer than any
/// stream or feed redelivery).
const CLAIM_DAYS: i64 = 30;

/// Why a change could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum AutomationError {
    /// Worth processing the change again later (the store or a webhook is
    /// unavailable); whatever already happened is not repeated.
    #[error("temporary failure, will retry: {0}")]
    Temporary(String),
    /// Processing this change again will fail the same way.
    #[error("{0}")]
    Permanent(String),
}

impl AutomationError {
    /// Whether processing the change again may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Temporary(_))
    }
}

impl From<StoreError> for AutomationError {
    fn from(e: StoreError) -> Self {
        if e.is_retryable() {
            Self::Temporary(e.to_string())
        } else {
            Self::Permanent(e.to_string())
        }
    }
}

/// What became of the plan's ticket write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum WriteReport {
    /// The plan writes nothing.
    Nothing,
    /// Written as this version.
    Written {
        /// The new version.
        version: u64,
    },
    /// An earlier delivery of the same change wrote it.
    AlreadyWritten,
}

/// What became of one side effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectReport {
    /// The planned effect's id.
    pub id: String,
    /// Its trigger.
    pub trigger: String,
    /// `email`, `webhook` or `event` (comments are part of the write).
    pub kind: &'static str,
    /// What happened.
    pub status: EffectStatus,
}

/// The result of one side effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum EffectStatus {
    /// Done now.
    Done,
    /// An earlier delivery of the same change did it.
    AlreadyDone,
    /// Mail held back by loop protection; the reason is on the timeline.
    Suppressed(String),
    /// Failed for good; recorded on the ticket.
    Failed(String),
    /// Failed for now; processing the change again will retry it.
    Retry(String),
}

/// Everything [`react`] did for one change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The evaluation.
    pub plan: Plan,
    /// The ticket write.
    pub write: WriteReport,
    /// The side effects other than comments, in plan order.
    pub effects: Vec<EffectReport>,
}

/// Evaluates the triggers of the change's queue without doing anything:
/// the dry run's answer, and the first step of [`react`]. A queue that is
/// not configured has no triggers.
pub fn plan_for(config: &Config, change: &Change, env: &dyn crate::triggers::Environment) -> Plan {
    let queue_key = &change.after.queue;
    let triggers = config
        .queues
        .get(queue_key)
        .map(|q| q.triggers.as_slice())
        .unwrap_or_default();
    let ctx = EvalContext::for_queue(config, queue_key)
        .with_calendars(config)
        .with_env(env);
    evaluate(triggers, change, &ctx)
}

/// Evaluates and carries out the triggers for one stored change. Safe to
/// call again for the same change (a redelivery): nothing is written or
/// sent twice. An `Err` means "process this change again later".
pub async fn react(services: &Services, change: &Change) -> Result<Outcome, AutomationError> {
    let env = |name: &str| services.secrets.setting(name);
    let plan = plan_for(&services.config, change, &env);
    let now = tickets::store_precision(services.clock.now());
    let write = write_plan(services, change, &plan, now).await?;
    let mut effects = Vec::new();
    let mut retry = None;
    for planned in &plan.effects {
        let Some(report) = carry_out(services, change, planned, now).await? else {
            continue;
        };
        if let EffectStatus::Retry(why) = &report.status {
            retry.get_or_insert_with(|| why.clone());
        }
        effects.push(report);
    }
    let outcome = Outcome {
        plan,
        write,
        effects,
    };
    tracing::info!(
        ticket = %outcome.plan.ticket,
        version = outcome.plan.version,
        depth = outcome.plan.depth,
        fired = ?outcome.plan.fired,
        write = ?outcome.write,
        "triggers evaluated"
    );
    match retry {
        Some(why) => Err(AutomationError::Temporary(why)),
        None => Ok(outcome),
    }
}

/// The claim that makes one change's write happen once (once per SLA
/// signal, when a write recorded several).
fn write_claim(change: &Change, plan: &Plan, now: DateTime<Utc>) -> IdempotencyClaim {
    IdempotencyClaim {
        key: keys::claim::trigger_write(&plan.ticket, plan.version, change.sla.as_ref()),
        purpose: ClaimPurpose::Once(Step::TriggerWrite),
        expires_at: now + chrono::Duration::days(CLAIM_DAYS),
    }
}

/// The notes the plan leaves on the ticket: a stop, planning problems.
fn notes(plan: &Plan) -> Vec<TimelineEvent> {
    let mut notes = Vec::new();
    if let Some(stop) = &plan.stopped {
        notes.push(TimelineEvent::TriggerNote {
            kind: TriggerNoteKind::Stopped,
            triggers: stop.would_fire.clone(),
            message: stop.message(),
        });
    }
    for problem in &plan.problems {
        notes.push(TimelineEvent::TriggerNote {
            kind: TriggerNoteKind::Problem,
            triggers: vec![problem.trigger.clone()],
            message: problem.message.clone(),
        });
    }
    notes
}

/// Writes the plan's field changes, assignment, comments and notes in one
/// conditional write, re-applying them to a fresh read on a conflict.
async fn write_plan(
    services: &Services,
    change: &Change,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<WriteReport, AutomationError> {
    let comments = planned_comments(plan);
    let mut notes = notes(plan);
    if !plan.writes_ticket() && comments.is_empty() && notes.is_empty() {
        return Ok(WriteReport::Nothing);
    }
    let store = services.store.as_ref();
    let claim = write_claim(change, plan, now);
    if store.idempotency_record(&claim.key).await?.is_some() {
        return Ok(WriteReport::AlreadyWritten);
    }
    let assignee = group_assignee(services, change, plan, &mut notes, now).await?;
    let staged = Staged {
        comments,
        notes,
        assignee,
    };
    let mut last_conflict = None;
    for _ in 0..WRITE_ATTEMPTS {
        match write_attempt(store, change, plan, &staged, &claim, now).await? {
            Attempt::Done(report) => return Ok(report),
            Attempt::Conflict(e) => last_conflict = Some(e),
        }
    }
    Err(AutomationError::Temporary(last_conflict.map_or_else(
        || format!("ticket {} keeps changing", plan.ticket),
        |e| e.to_string(),
    )))
}

/// What the write adds to the plan's field changes.
struct Staged<'p> {
    /// (trigger, public, body) of every planned comment, in order.
    comments: Vec<(&'p str, bool, &'p str)>,
    /// The notes to leave on the ticket.
    notes: Vec<TimelineEvent>,
    /// (trigger, login) of the member the group assignment chose.
    assignee: Option<(&'p str, String)>,
}

/// How one write attempt ended.
enum Attempt {
    /// Written, replayed or found unnecessary: nothing more to try.
    Done(WriteReport),
    /// The ticket changed since it was read.
    Conflict(StoreError),
}

/// (trigger, public, body) of every comment the plan adds, in order.
fn planned_comments(plan: &Plan) -> Vec<(&str, bool, &str)> {
    plan.effects
        .iter()
        .filter_map(|e| match &e.effect {
            Effect::Comment { public, body } => Some((e.trigger.as_str(), *public, body.as_str())),
            _ => None,
        })
        .collect()
}

/// Chooses the member for the plan's group assignment, if it has one;
/// when every member is at the cap, a note says the ticket stays unassigned.
async fn group_assignee<'p>(
    services: &Services,
    change: &Change,
    plan: &'p Plan,
    notes: &mut Vec<TimelineEvent>,
    now: DateTime<Utc>,
) -> Result<Option<(&'p str, String)>, AutomationError> {
    let Some(group) = &plan.assignment else {
        return Ok(None);
    };
    let chosen = choose_assignee(services, &change.after.queue, group, now).await?;
    if chosen.is_none() {
        notes.push(TimelineEvent::TriggerNote {
            kind: TriggerNoteKind::Unassigned,
            triggers: vec![group.trigger.clone()],
            message: format!(
                "every member of {} is at the cap of tickets in work; the ticket stays unassigned in the queue",
                group.members.join(", ")
            ),
        });
    }
    Ok(chosen.map(|login| (group.trigger.as_str(), login)))
}

/// One attempt: re-applies the plan to a fresh read of the ticket and
/// writes it on condition that the ticket is still at the version read.
async fn write_attempt(
    store: &dyn Store,
    change: &Change,
    plan: &Plan,
    staged: &Staged<'_>,
    claim: &IdempotencyClaim,
    now: DateTime<Utc>,
) -> Result<Attempt, AutomationError> {
    let stored = store
        .get_ticket(&plan.ticket)
        .await?
        .ok_or_else(|| AutomationError::Permanent(format!("ticket {} is gone", plan.ticket)))?;
    let mut ticket = stored.clone();
    for fc in &plan.changes {
        reapply(&mut ticket, fc).map_err(AutomationError::Permanent)?;
    }
    if let Some((_, login)) = &staged.assignee {
        ticket.assignee = Some(login.clone());
    }
    let events = write_events(&stored, &ticket, plan, staged);
    if events.is_empty() {
        // Someone else already made the same changes.
        return Ok(Attempt::Done(WriteReport::Nothing));
    }
    ticket.version = stored.version + 1;
    ticket.updated_at = now;
    ticket.trigger_depth = change.depth.saturating_add(1);
    let entries = entries_for(&ticket, now, events);
    match store
        .update_ticket(
            &ticket,
            stored.version,
            &entries,
            std::slice::from_ref(claim),
        )
        .await
    {
        Ok(Written::New) => Ok(Attempt::Done(WriteReport::Written {
            version: ticket.version,
        })),
        Ok(Written::Replayed(_)) => Ok(Attempt::Done(WriteReport::AlreadyWritten)),
        Err(e @ StoreError::VersionConflict { .. }) => Ok(Attempt::Conflict(e)),
        Err(e) => Err(e.into()),
    }
}

/// The timeline events of one write, from `stored` to `ticket`: a field
/// event per planned change (and for the chosen assignee), the comments,
/// then the notes.
fn write_events(
    stored: &Ticket,
    ticket: &Ticket,
    plan: &Plan,
    staged: &Staged<'_>,
) -> Vec<(Actor, TimelineEvent)> {
    let mut events: Vec<(Actor, TimelineEvent)> = Vec::new();
    for fc in &plan.changes {
        push_field_event(&mut events, stored, ticket, &fc.field, &fc.by);
    }
    if let Some((trigger, _)) = &staged.assignee
        && !plan.changes.iter().any(|c| c.field == "assignee")
    {
        push_field_event(&mut events, stored, ticket, "assignee", trigger);
    }
    for (trigger, public, body) in &staged.comments {
        events.push((
            Actor::Trigger {
                name: (*trigger).to_owned(),
            },
            TimelineEvent::Comment {
                public: *public,
                body: bounds::excerpt(body, bounds::TEXT_INLINE).to_owned(),
                body_blob: None,
            },
        ));
    }
    let note_actor = Actor::Trigger {
        name: plan.fired.join(", "),
    };
    events.extend(staged.notes.iter().map(|n| (note_actor.clone(), n.clone())));
    events
}

/// Re-applies one planned change to `ticket` (which may have moved on
/// since the plan was made): single values are set, lists get the planned
/// additions and removals.
fn reapply(ticket: &mut Ticket, fc: &FieldChange) -> Result<(), String> {
    let as_list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    match fc.field.as_str() {
        "components" => {
            apply_list_delta(&mut ticket.components, &as_list(&fc.old), &as_list(&fc.new));
            Ok(())
        }
        "tags" => {
            apply_list_delta(&mut ticket.tags, &as_list(&fc.old), &as_list(&fc.new));
            Ok(())
        }
        field => set_json(ticket, field, &fc.new),
    }
}

/// Adds a `FieldChanged` event for `field` when it differs between `before`
/// and `after`.
fn push_field_event(
    events: &mut Vec<(Actor, TimelineEvent)>,
    before: &Ticket,
    after: &Ticket,
    field: &str,
    by: &str,
) {
    let Some(parsed) = crate::triggers::field::Field::parse(field) else {
        return;
    };
    let (old, new) = (parsed.json(before), parsed.json(after));
    if old != new {
        events.push((
            Actor::Trigger {
                name: by.to_owned(),
            },
            TimelineEvent::FieldChanged {
                field: field.to_owned(),
                old,
                new,
            },
        ));
    }
}

fn entries_for(
    ticket: &Ticket,
    now: DateTime<Utc>,
    events: Vec<(Actor, TimelineEvent)>,
) -> Vec<TimelineEntry> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, (actor, event))| TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(ticket.version, i),
            at: now,
            actor,
            event,
        })
        .collect()
}

/// Carries out one side effect: a public comment (written with the
/// triggers' write) is mailed to the requester and participants, an
/// internal one needs nothing more (`None`). Also used for SLA
/// notifications, which are effects with ids of their own.
pub(crate) async fn carry_out(
    services: &Services,
    change: &Change,
    planned: &PlannedEffect,
    now: DateTime<Utc>,
) -> Result<Option<EffectReport>, AutomationError> {
    let report = |kind, status| {
        Some(EffectReport {
            id: planned.id.clone(),
            trigger: planned.trigger.clone(),
            kind,
            status,
        })
    };
    match &planned.effect {
        Effect::Comment { public: false, .. } => Ok(None),
        Effect::Comment { public: true, body } => {
            let status = mail_public_comment(services, change, planned, body).await?;
            Ok(status.and_then(|status| report("email", status)))
        }
        Effect::Email { to, subject, body } => {
            let status = send_mail(services, change, planned, to, subject, body).await?;
            Ok(report("email", status))
        }
        Effect::Webhook { target, body, .. } => {
            let url = match target {
                WebhookTarget::Url(url) => Ok(url.clone()),
                WebhookTarget::Env(name) => services
                    .secrets
                    .secret(name)
                    .await
                    .map_err(|e| AutomationError::Temporary(e.to_string()))?
                    .ok_or_else(|| format!("the webhook URL variable {name} is not set")),
            };
            let status = match url {
                Err(why) => {
                    record_failure(services, change, planned, &why, now).await?;
                    EffectStatus::Failed(why)
                }
                Ok(url) => {
                    once(services, change, planned, now, async {
                        services.webhooks.post(&url, body, &planned.id).await
                    })
                    .await?
                }
            };
            Ok(report("webhook", status))
        }
        Effect::Event {
            detail_type,
            detail,
        } => {
            let event = BusEvent {
                id: planned.id.clone(),
                source: "helpdesk".into(),
                detail_type: detail_type.clone(),
                detail: detail.clone(),
                time: change.at(),
            };
            let status = once(services, change, planned, now, async {
                services.events.publish(&event).await
            })
            .await?;
            Ok(report("event", status))
        }
    }
}

/// Runs `deliver` once per effect id, across redeliveries and crashes:
///
/// - `fxdone:<id>` exists: it was delivered; nothing to do.
/// - otherwise the claim `fx:<id>` is taken (value: when), then delivered,
///   then `fxdone:<id>` is written. A temporary failure releases the claim
///   so the next processing retries; a permanent one is recorded on the
///   ticket and marked done.
/// - a claim without `fxdone` means an earlier attempt is sending or died
///   while sending: younger than [`STALE_CLAIM`] it is left alone (retry
///   later), older it is taken over and delivered again with the same
///   `Idempotency-Key`, so a receiver can drop the repeat. That window, a
///   crash during the call itself, is the only way anything goes out twice.
/// - after [`EFFECT_ATTEMPTS`] temporary failures the effect is recorded as
///   failed on the ticket instead of being retried again.
async fn once(
    services: &Services,
    change: &Change,
    planned: &PlannedEffect,
    now: DateTime<Utc>,
    deliver: impl Future<Output = Result<(), DeliveryError>>,
) -> Result<EffectStatus, AutomationError> {
    let store = services.store.as_ref();
    let claim = keys::marker::effect(&planned.id);
    let done = keys::marker::effect_done(&planned.id);
    let expires = Some(now + chrono::Duration::days(CLAIM_DAYS));
    if store.get_marker(&done).await?.is_some() {
        return Ok(EffectStatus::AlreadyDone);
    }
    if let Some(since) = store.put_marker(&claim, &now.to_rfc3339(), expires).await? {
        let started = DateTime::parse_from_rfc3339(&since).map(|t| t.with_timezone(&Utc));
        if started.is_ok_and(|t| now - t < STALE_CLAIM) {
            return Ok(EffectStatus::Retry(format!(
                "effect {} is being delivered by another attempt",
                planned.id
            )));
        }
        tracing::warn!(effect = %planned.id, "taking over an effect whose delivery did not finish");
    }
    let status = match deliver.await {
        Ok(()) => EffectStatus::Done,
        Err(DeliveryError::Temporary(why)) => {
            let attempts = store
                .increment_counter(
                    &keys::counter::effect_attempts(&planned.id),
                    now + chrono::Duration::days(CLAIM_DAYS),
                )
                .await?;
            if attempts < EFFECT_ATTEMPTS {
                store.delete_marker(&claim).await?;
                tracing::warn!(effect = %planned.id, %why, attempts, "side effect failed, will retry");
                return Ok(EffectStatus::Retry(why));
            }
            let why = format!("gave up after {attempts} attempts: {why}");
            tracing::warn!(effect = %planned.id, %why, "side effect failed for good");
            record_failure(services, change, planned, &why, now).await?;
            EffectStatus::Failed(why)
        }
        Err(DeliveryError::Permanent(why)) => {
            tracing::warn!(effect = %planned.id, %why, "side effect failed for good");
            record_failure(services, change, planned, &why, now).await?;
            EffectStatus::Failed(why)
        }
    };
    store.put_marker(&done, &now.to_rfc3339(), expires).await?;
    Ok(status)
}

/// Sends a trigger's mail with the effect id as its purpose, so its
/// Message-ID is the same on every redelivery and it goes out once.
async fn send_mail(
    services: &Services,
    change: &Change,
    planned: &PlannedEffect,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<EffectStatus, AutomationError> {
    let now = tickets::store_precision(services.clock.now());
    let Ok(recipient) = EmailAddress::parse(to) else {
        let why = format!("{to:?} is not an email address");
        record_failure(services, change, planned, &why, now).await?;
        return Ok(EffectStatus::Failed(why));
    };
    let mail = trigger_mail(change, planned, vec![recipient], subject, body);
    deliver_trigger_mail(services, mail).await
}

/// A trigger's public comment, mailed like an agent's answer: to the
/// requester and participants, in the customer's thread, once (the mail's
/// Message-ID comes from the effect's id). `None` when nobody can be
/// mailed.
async fn mail_public_comment(
    services: &Services,
    change: &Change,
    planned: &PlannedEffect,
    body: &str,
) -> Result<Option<EffectStatus>, AutomationError> {
    let ticket = &change.after;
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
    let (in_reply_to, references) = send::thread_of(services, &ticket.key).await?;
    let mut mail = trigger_mail(change, planned, to, &ticket.summary, body);
    mail.in_reply_to = in_reply_to;
    mail.references = references;
    deliver_trigger_mail(services, mail).await.map(Some)
}

/// A mail of a trigger's effect, automatic, at the next trigger depth.
fn trigger_mail(
    change: &Change,
    planned: &PlannedEffect,
    to: Vec<EmailAddress>,
    subject: &str,
    body: &str,
) -> TicketMail {
    TicketMail {
        ticket: change.after.key.clone(),
        to,
        cc: Vec::new(),
        attachments: Vec::new(),
        subject: subject.to_owned(),
        text: body.to_owned(),
        purpose: format!("trigger:{}", planned.id),
        in_reply_to: None,
        references: Vec::new(),
        automatic: true,
        actor: Actor::Trigger {
            name: planned.trigger.clone(),
        },
        trigger_depth: change.depth.saturating_add(1),
    }
}

/// Sends a trigger's mail once; a refusal that retrying cannot fix is
/// recorded on the ticket as a held-back mail with the reason.
async fn deliver_trigger_mail(
    services: &Services,
    mail: TicketMail,
) -> Result<EffectStatus, AutomationError> {
    match send::send_ticket_mail(services, mail.clone(), None).await {
        Ok(SendOutcome::Sent { .. }) => Ok(EffectStatus::Done),
        Ok(SendOutcome::AlreadySent { .. }) => Ok(EffectStatus::AlreadyDone),
        Ok(SendOutcome::Suppressed { reason }) => Ok(EffectStatus::Suppressed(reason)),
        Err(SendError::Store(e)) => Err(e.into()),
        Err(SendError::Transport(TransportError::Temporary(why))) => Ok(EffectStatus::Retry(why)),
        Err(e @ SendError::Secrets(_)) => Ok(EffectStatus::Retry(e.to_string())),
        Err(SendError::Transport(TransportError::Permanent(why)) | SendError::Build(why)) => {
            let why = format!("the mail could not be sent: {why}");
            let unsent = TicketMail {
                text: String::new(),
                ..mail
            };
            send::send_ticket_mail(services, unsent, Some(why.clone()))
                .await
                .map_err(|e| AutomationError::Temporary(e.to_string()))?;
            Ok(EffectStatus::Failed(why))
        }
    }
}

/// Records on the ticket, once, that an effect failed for good.
async fn record_failure(
    services: &Services,
    change: &Change,
    planned: &PlannedEffect,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(), AutomationError> {
    let claim = IdempotencyClaim {
        key: keys::claim::effect_failure(&planned.id),
        purpose: ClaimPurpose::Once(Step::EffectFailure),
        expires_at: now + chrono::Duration::days(CLAIM_DAYS),
    };
    let event = TimelineEvent::TriggerNote {
        kind: TriggerNoteKind::Failed,
        triggers: vec![planned.trigger.clone()],
        message: why.to_owned(),
    };
    let actor = Actor::Trigger {
        name: planned.trigger.clone(),
    };
    tickets::apply_at_depth(
        services.store.as_ref(),
        &services.config,
        &change.after.key,
        (&actor, change.depth.saturating_add(1)),
        now,
        &[claim],
        |_| vec![event.clone()],
    )
    .await?;
    Ok(())
}
