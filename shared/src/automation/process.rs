//! [`process`]: everything one stored ticket write sets off, for the
//! change feed and the stream alike:
//!
//! 1. the queue's triggers ([`super::react`]), once for the write, or once
//!    per SLA warning or breach the write recorded (each evaluation then
//!    sees its `sla_warning` / `sla_breach` event and has its own write
//!    claim and effect ids);
//! 2. the SLA notifications of those warnings and breaches
//!    ([`crate::sla::notify`]), through the same once-only executor;
//! 3. the satisfaction survey, when the write moved the ticket into a
//!    status that asks for a rating ([`crate::csat::ask::follow_for_rating`]);
//! 4. the SLA timers ([`crate::sla::refresh`]), unless the write is an
//!    SLA write itself.
//!
//! Each step is safe to repeat, so a temporary failure anywhere makes the
//! whole write be processed again later.

use super::engine::{AutomationError, EffectStatus, Outcome, carry_out, react};
use super::source::change_from_parts;
use crate::csat;
use crate::domain::{Actor, Ticket, TimelineEvent, TriggerNoteKind};
use crate::keys;
use crate::services::Services;
use crate::sla;
use crate::store::{ClaimPurpose, IdempotencyClaim, Step};
use crate::tickets;

/// Processes one stored write (see the module docs). The outcome is that
/// of the first trigger evaluation, with the side effects of the others
/// and of the SLA notifications appended.
pub async fn process(
    services: &Services,
    before: Option<Ticket>,
    after: Ticket,
) -> Result<Outcome, AutomationError> {
    let store = services.store.as_ref();
    let entries = store.entries_of_version(&after.key, after.version).await?;
    let alerts: Vec<_> = sla::notify::alerts(&entries)
        .into_iter()
        .map(|(alert, entry)| (alert, entry.clone()))
        .collect();
    let change = change_from_parts(before, after, entries);

    let mut outcome: Option<Outcome> = None;
    let mut evaluations = vec![None];
    if !alerts.is_empty() {
        evaluations = alerts.iter().map(|(a, _)| Some(a.clone())).collect();
    }
    for alert in evaluations {
        let mut one = change.clone();
        one.sla = alert;
        let result = react(services, &one).await?;
        match &mut outcome {
            None => outcome = Some(result),
            Some(first) => first.effects.extend(result.effects),
        }
    }
    let mut outcome =
        outcome.ok_or_else(|| AutomationError::Permanent("nothing evaluated".into()))?;

    let now = tickets::store_precision(services.clock.now());
    let mut retry = None;
    for (alert, entry) in &alerts {
        let mut with_signal = change.clone();
        with_signal.sla = Some(alert.clone());
        let (effects, problems) = sla::notify::effects(services, &change.after, alert, entry);
        if !problems.is_empty() {
            note_problems(services, &change.after, alert, &problems).await?;
        }
        for planned in &effects {
            if let Some(report) = carry_out(services, &with_signal, planned, now).await? {
                if let EffectStatus::Retry(why) = &report.status {
                    retry.get_or_insert_with(|| why.clone());
                }
                outcome.effects.push(report);
            }
        }
    }
    if let Some(why) = retry {
        return Err(AutomationError::Temporary(why));
    }

    csat::ask::follow_for_rating(services, change.before.as_ref(), &change.after)
        .await
        .map_err(|e| match e {
            csat::ask::AskError::Store(e) => e.into(),
            csat::ask::AskError::Send(e) => AutomationError::Temporary(e.to_string()),
        })?;

    if sla::track::needs_refresh(services, &change.after) {
        sla::refresh(services, &change.after.key, change.depth).await?;
    }
    Ok(outcome)
}

/// Records, once per alert, why some of its notifications cannot go out.
async fn note_problems(
    services: &Services,
    ticket: &Ticket,
    alert: &crate::triggers::SlaAlert,
    problems: &[String],
) -> Result<(), AutomationError> {
    let now = tickets::store_precision(services.clock.now());
    let claim = IdempotencyClaim {
        key: keys::claim::sla_note(&ticket.key, alert),
        purpose: ClaimPurpose::Once(Step::SlaNote),
        expires_at: now + chrono::Duration::days(30),
    };
    if services
        .store
        .idempotency_record(&claim.key)
        .await?
        .is_some()
    {
        return Ok(());
    }
    tracing::warn!(ticket = %ticket.key, ?problems, "SLA notification problems");
    let event = TimelineEvent::TriggerNote {
        kind: TriggerNoteKind::Problem,
        triggers: vec![format!("SLA {}", alert.rule)],
        message: problems.join("; "),
    };
    tickets::apply(
        services.store.as_ref(),
        &services.config,
        &ticket.key,
        &Actor::System,
        now,
        &[claim],
        |_| vec![event.clone()],
    )
    .await?;
    Ok(())
}
