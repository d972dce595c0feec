//! The SLA checker, run every minute (the `sla-check` function on an
//! EventBridge schedule; `helpdesk serve` in process): it reads the due
//! index for tickets with a warning or breach due by now, earliest first,
//! and refreshes each (see [`super::track`]), which records what fell due
//! at its exact instant; a satisfaction survey that fell due is asked
//! first ([`crate::csat::ask::rating_due`]). It never reads a ticket that is not due.
//!
//! - **Twice or late.** A schedule that fires twice runs two checkers;
//!   their writes race on the ticket's version and the loser's fold finds
//!   the warning already recorded. A late or skipped run finds everything
//!   that fell due meanwhile still in the index.
//! - **Budget.** The run stops taking tickets when its deadline passes; the
//!   rest stay due for the next run. A ticket that fails is logged and left
//!   due, and the run goes on with the others.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::track::{Refreshed, refresh};
use crate::domain::{SlaEventKind, TicketKey, TimelineEvent};
use crate::services::Services;
use crate::store::StoreError;
use crate::tickets;

/// How many due tickets one index read takes.
pub const PAGE: usize = 100;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Due index entries read.
    pub due_read: usize,
    /// Tickets refreshed.
    pub tickets: usize,
    /// Tickets written (something was recorded).
    pub written: usize,
    /// Warnings recorded.
    pub warnings: usize,
    /// Breaches recorded.
    pub breaches: usize,
    /// Satisfaction surveys that fell due (asked, or dropped because the
    /// ticket moved on).
    pub surveys: usize,
    /// Tickets that failed (left due for the next run), with the error.
    pub failed: Vec<String>,
    /// Whether the run got through everything due (false: its budget ran
    /// out and the rest waits for the next run).
    pub finished: bool,
}

/// Runs one check, taking no new ticket after `budget` has passed.
pub async fn check(services: &Services, budget: Duration) -> Result<CheckReport, StoreError> {
    let started = Instant::now();
    let mut report = CheckReport::default();
    let mut done: BTreeSet<TicketKey> = BTreeSet::new();
    // How many listed tickets this run has taken already and will see
    // again (failed, found up to date, or listed by an index that lags);
    // each read takes a page past them. A written ticket leaves the range:
    // its next due is later than now.
    let mut again = 0;
    loop {
        let now = tickets::store_precision(services.clock.now());
        let limit = PAGE + again;
        let due = services.store.sla_due(now, limit).await?;
        report.due_read += due.len();
        let listed = due.len();
        let fresh: Vec<TicketKey> = due
            .into_iter()
            .map(|d| d.key)
            .filter(|k| !done.contains(k))
            .collect();
        again = listed - fresh.len();
        if fresh.is_empty() {
            if listed < limit {
                report.finished = true;
                return Ok(report);
            }
            // A whole page of tickets taken already: read past them.
            if started.elapsed() >= budget {
                return Ok(report);
            }
            continue;
        }
        let last_page = listed < limit;
        for key in fresh {
            if started.elapsed() >= budget {
                tracing::warn!(
                    tickets = report.tickets,
                    "SLA check budget used up; the rest waits for the next run"
                );
                return Ok(report);
            }
            done.insert(key.clone());
            report.tickets += 1;
            let refreshed = refresh(services, &key, 0).await;
            // A satisfaction survey due keeps a ticket in the index too:
            // asked (or dropped) from the ticket the refresh read.
            if let Some(ticket) = refreshed.as_ref().ok().and_then(Refreshed::ticket) {
                match crate::csat::ask::rating_due(services, ticket).await {
                    Ok(crate::csat::ask::Asked::No) => {}
                    Ok(_) => report.surveys += 1,
                    Err(e) => {
                        tracing::error!(ticket = %key, error = %e, "a due rating request failed; the ticket stays due");
                        report.failed.push(format!("{key}: {e}"));
                    }
                }
            }
            match refreshed {
                Ok(refreshed @ Refreshed::Written { .. }) => count(&mut report, &refreshed),
                Ok(_) => again += 1,
                Err(e) => {
                    tracing::error!(ticket = %key, error = %e, "SLA refresh failed; the ticket stays due");
                    report.failed.push(format!("{key}: {e}"));
                    again += 1;
                }
            }
        }
        if last_page {
            // The read listed everything due then; what this run took and
            // left due (failed, up to date) waits for the next run.
            report.finished = true;
            return Ok(report);
        }
    }
}

fn count(report: &mut CheckReport, refreshed: &Refreshed) {
    if let Refreshed::Written { .. } = refreshed {
        report.written += 1;
    }
    for entry in refreshed.entries() {
        match entry.event {
            TimelineEvent::Sla {
                event: SlaEventKind::Warned,
                ..
            } => report.warnings += 1,
            TimelineEvent::Sla {
                event: SlaEventKind::Breached,
                ..
            } => report.breaches += 1,
            _ => {}
        }
    }
}
