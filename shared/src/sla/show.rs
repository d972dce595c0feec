//! A ticket's timers as people read them (`helpdesk sla show`): the
//! stored state with whatever is pending folded in at "now" (nothing is
//! written), and the business time left.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fold::{Rules, business_left, fold};
use crate::domain::{SlaTimer, TicketKey, TimerState};
use crate::services::Services;
use crate::store::StoreError;
use crate::tickets;

/// One timer, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimerView {
    /// The rule in force.
    pub rule: String,
    /// What it measures.
    pub metric: String,
    /// `running`, `paused`, `met` or `breached`.
    pub state: TimerState,
    /// Its cycle.
    pub cycle: u32,
    /// The calendar it counts in.
    pub calendar: String,
    /// While running: when the limit is reached.
    pub deadline: Option<DateTime<Utc>>,
    /// Business time allowed, in seconds.
    pub limit_seconds: i64,
    /// Business time spent so far, in seconds.
    pub business_seconds_spent: i64,
    /// Business time left, in seconds (negative: past the limit).
    pub business_seconds_left: i64,
    /// The warning was recorded.
    pub warned: bool,
    /// The breach was recorded.
    pub breached: bool,
    /// When the cycle started.
    pub started_at: DateTime<Utc>,
    /// When it stopped.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// The timers of `key` as of now; `None` when the ticket does not exist.
pub async fn timers(
    services: &Services,
    key: &TicketKey,
) -> Result<Option<Vec<TimerView>>, StoreError> {
    let store = services.store.as_ref();
    let Some(ticket) = store.get_ticket(key).await? else {
        return Ok(None);
    };
    let now = tickets::store_precision(services.clock.now());
    let calendars = &services.config.built_calendars;
    let state = match services.config.queues.get(&ticket.queue) {
        Some(queue) if !queue.sla.is_empty() || !ticket.sla.timers.is_empty() => {
            let pending = store
                .entries_after_version(key, ticket.sla.seen_version)
                .await?;
            let rules = Rules {
                queue,
                rules: &queue.sla,
                calendars,
            };
            fold(rules, &ticket, &pending, now).state
        }
        _ => ticket.sla.clone(),
    };
    Ok(Some(
        state
            .timers
            .iter()
            .map(|t| view(t, calendars, now))
            .collect(),
    ))
}

fn view(
    timer: &SlaTimer,
    calendars: &std::collections::BTreeMap<String, crate::calendar::Calendar>,
    now: DateTime<Utc>,
) -> TimerView {
    let left = business_left(timer, calendars, now).num_seconds();
    let limit_seconds = timer.limit_us.div_euclid(1_000_000);
    TimerView {
        rule: timer.rule.clone(),
        metric: timer.metric.clone(),
        state: timer.state,
        cycle: timer.cycle,
        calendar: timer.calendar.clone(),
        deadline: timer.deadline,
        limit_seconds,
        business_seconds_spent: limit_seconds - left,
        business_seconds_left: left,
        warned: timer.warned,
        breached: timer.breached,
        started_at: timer.started_at,
        stopped_at: timer.stopped_at,
    }
}
