//! The local trigger runner: `helpdesk serve` reads the SQLite store's
//! change feed from a durable cursor and runs [`super::process`] (triggers
//! and SLA timers) on each change in order.
//!
//! The cursor moves past a change only after the change is fully processed,
//! so a crash anywhere resumes at the first unfinished change (skipping
//! nothing); the engine's claims make that repeat write and send nothing
//! twice (repeating nothing). A change that fails temporarily stops the
//! pass and is retried on the next one; one that fails for good is kept as a
//! `feed-failed:<seq>` marker with the error (the local dead-letter queue)
//! and the cursor moves on.

use std::time::Duration;

use serde::Serialize;

use super::engine::{AutomationError, Outcome};
use super::process::process;
use crate::keys;
use crate::services::Services;
use crate::store::{ChangeFeed, StoreError};

/// The name of the trigger engine's cursor.
pub const CURSOR: &str = "triggers";

/// How many changes one pass reads at most.
pub const BATCH: usize = 100;

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pass {
    /// Changes processed (including failed-for-good ones moved past).
    pub processed: usize,
    /// Changes that failed for good and were set aside.
    pub dead_lettered: usize,
    /// Outcomes, in order.
    #[serde(skip)]
    pub outcomes: Vec<Outcome>,
    /// The temporary failure that ended the pass early, if any.
    pub retry: Option<String>,
}

/// Processes up to `limit` changes after the cursor.
pub async fn run_once(
    services: &Services,
    feed: &dyn ChangeFeed,
    limit: usize,
) -> Result<Pass, StoreError> {
    let cursor = feed.cursor(CURSOR).await?;
    let changes = feed.changes_after(cursor, limit).await?;
    let mut pass = Pass::default();
    for stored in changes {
        let seq = stored.seq;
        let result = process(services, stored.before, stored.after).await;
        match result {
            Ok(outcome) => pass.outcomes.push(outcome),
            Err(AutomationError::Temporary(why)) => {
                tracing::warn!(seq, %why, "trigger run paused; will retry this change");
                pass.retry = Some(why);
                return Ok(pass);
            }
            Err(AutomationError::Permanent(why)) => {
                tracing::error!(seq, %why, "change set aside as feed-failed:{seq}");
                services
                    .store
                    .put_marker(&keys::marker::feed_failed(seq), &why, None)
                    .await?;
                pass.dead_lettered += 1;
            }
        }
        feed.set_cursor(CURSOR, seq).await?;
        pass.processed += 1;
    }
    Ok(pass)
}

/// Processes every change there is, pass after pass (a pass's own writes
/// are new changes for the next), until a pass finds nothing or stops on a
/// temporary failure.
pub async fn drain(services: &Services, feed: &dyn ChangeFeed) -> Result<Pass, StoreError> {
    let mut total = Pass::default();
    loop {
        let pass = run_once(services, feed, BATCH).await?;
        total.processed += pass.processed;
        total.dead_lettered += pass.dead_lettered;
        total.outcomes.extend(pass.outcomes);
        if pass.retry.is_some() || pass.processed == 0 {
            total.retry = pass.retry;
            return Ok(total);
        }
    }
}

/// Runs the engine until `shutdown` resolves: drains the feed, then sleeps
/// until the next write (or `idle` at most, or a backoff after a failure).
pub async fn run_forever(
    services: Services,
    idle: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StoreError> {
    let Some(feed) = services.store.change_feed() else {
        tracing::info!("the store has no change feed; triggers run from its stream");
        shutdown.await;
        return Ok(());
    };
    let wakeup = feed.wakeup();
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(200);
    loop {
        // Register interest before reading, so a write that commits while
        // the pass runs still wakes the next wait.
        let notified = wakeup.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let healthy = match drain(&services, feed).await {
            Ok(pass) => pass.retry.is_none(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the change feed");
                false
            }
        };
        if healthy {
            backoff = Duration::from_millis(200);
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = &mut notified => {}
                () = tokio::time::sleep(idle) => {}
            }
        } else {
            // Back off: new writes do not hurry a retry.
            backoff = (backoff * 2).min(Duration::from_secs(30));
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(backoff) => {}
            }
        }
    }
}
