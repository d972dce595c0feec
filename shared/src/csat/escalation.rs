//! Internal ratings: on a ticket escalated from line 1 to line 2, an agent
//! rates the help line 2 gave (the two-line team's internal CSAT). One
//! rating per escalation: rating it again replaces the rating. The rated
//! agent is whoever held the ticket last while it was on line 2 or above;
//! nobody rates their own help.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::auth::Principal;
use crate::domain::bounds::RATING_COMMENT;
use crate::domain::{Scale, Score, Ticket, TicketKey, TimelineEntry, TimelineEvent};
use crate::services::Services;
use crate::tickets::{self, agent::AgentError};

/// One escalation of a ticket to line 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The entry of the line change (the escalation's identity).
    pub seq: u64,
    /// When it was escalated.
    pub at: DateTime<Utc>,
    /// Who held the ticket last while it was on line 2 or above.
    pub helper: Option<String>,
    /// Its rating as it stands.
    pub rating: Option<Score>,
}

/// A line as a change records it.
fn line_of(value: &Value) -> Option<u64> {
    value.as_u64()
}

/// The ticket's escalations from line 1 to line 2 or above, oldest first.
pub fn escalations(ticket: &Ticket, timeline: &[TimelineEntry]) -> Vec<Escalation> {
    let first_holder = timeline.iter().find_map(|e| match &e.event {
        TimelineEvent::FieldChanged { field, old, .. } if field == "assignee" => {
            Some(old.as_str().map(str::to_owned))
        }
        _ => None,
    });
    let mut holder = first_holder.unwrap_or_else(|| ticket.assignee.clone());
    let mut out: Vec<Escalation> = Vec::new();
    let mut on_line_two = false;
    for entry in timeline {
        match &entry.event {
            TimelineEvent::FieldChanged { field, old, new } if field == "line" => {
                let (old, new) = (line_of(old), line_of(new));
                if old == Some(1) && new.is_some_and(|l| l >= 2) {
                    on_line_two = true;
                    out.push(Escalation {
                        seq: entry.seq,
                        at: entry.at,
                        helper: holder.clone(),
                        rating: None,
                    });
                } else if new.is_none_or(|l| l < 2) {
                    on_line_two = false;
                }
            }
            TimelineEvent::FieldChanged { field, new, .. } if field == "assignee" => {
                holder = new.as_str().map(str::to_owned);
                if on_line_two
                    && holder.is_some()
                    && let Some(last) = out.last_mut()
                {
                    last.helper = holder.clone();
                }
            }
            TimelineEvent::EscalationRated {
                escalation, score, ..
            } => {
                if let Some(rated) = out.iter_mut().find(|e| e.seq == *escalation) {
                    rated.rating = Some(*score);
                }
            }
            _ => {}
        }
    }
    out
}

/// `rater` rates the help line 2 gave on `key`'s latest escalation with
/// `score` (on the queue's survey scale, good/bad without one) and an
/// optional comment; answers the ticket as written and the escalation.
pub async fn rate_escalation(
    services: &Services,
    key: &TicketKey,
    rater: &Principal,
    score: &str,
    comment: Option<&str>,
) -> Result<(Ticket, Escalation), AgentError> {
    let ticket = tickets::agent::visible_ticket(services, key, rater).await?;
    let timeline = services.store.timeline(key).await?;
    let invalid = |field: &str, message: String| AgentError::Invalid {
        field: field.to_owned(),
        message,
    };
    let Some(escalation) = escalations(&ticket, &timeline).pop() else {
        return Err(invalid(
            "ticket",
            format!("{key} was never escalated from line 1 to line 2"),
        ));
    };
    let Some(helper) = escalation.helper.clone() else {
        return Err(invalid(
            "ticket",
            format!("nobody held {key} on line 2 to rate"),
        ));
    };
    if helper == rater.login {
        return Err(AgentError::Forbidden(format!(
            "{helper} held {key} on line 2: rate someone else's help"
        )));
    }
    let scale = services
        .config
        .queues
        .get(&ticket.queue)
        .and_then(|q| q.csat.as_ref())
        .map_or(Scale::GoodBad, |c| c.scale);
    let Some(score) = Score::on(scale, score) else {
        let offered: Vec<String> = scale.scores().iter().map(ToString::to_string).collect();
        return Err(invalid(
            "score",
            format!("{score:?}: one of {}", offered.join(", ")),
        ));
    };
    let comment = comment
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if comment.as_ref().is_some_and(|c| c.len() > RATING_COMMENT) {
        return Err(invalid(
            "comment",
            format!("at most {RATING_COMMENT} bytes"),
        ));
    }
    let now = tickets::store_precision(services.clock.now());
    let event = TimelineEvent::EscalationRated {
        escalation: escalation.seq,
        agent: helper,
        score,
        comment,
        previous: escalation.rating,
    };
    let (written, _) = tickets::apply(
        services.store.as_ref(),
        &services.config,
        key,
        &rater.actor(),
        now,
        &[],
        |_| vec![event.clone()],
    )
    .await?;
    let rated = Escalation {
        rating: Some(score),
        ..escalation
    };
    Ok((written, rated))
}
