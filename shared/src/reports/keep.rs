//! Rollups: the tallies of every ticket kept summed in the store, per
//! queue, class and day, so that a report reads days, not tickets.
//!
//! - [`keep_ticket`] recomputes one ticket's tally from its timeline and
//!   keeps it ([`RollupStore::keep_counters`] adds the difference from what
//!   was kept for it): the trigger stream's function calls it for every
//!   ticket change on AWS, so a redelivered change finds nothing to add.
//! - [`follow_write`] is what the stream's function calls: it keeps the
//!   ticket's rollups and exports the write's metric events
//!   ([`super::export`]).
//! - [`catch_up`] does the same locally from the SQLite store's change
//!   feed, on its own cursor, before a report is read; the first time, it
//!   keeps every ticket.
//! - [`read`] is what reports read: the rollups of the classes a report
//!   needs, or, for a zone other than the desk's `desk.zone` (rollups count
//!   its days), the tallies gathered from every timeline.
//! - [`rebuild`] recomputes every ticket's tally, keeps it, and repairs the
//!   rollups where they differ from the sum: after a change of the
//!   configuration that reports depend on (`desk.zone`, statuses, a
//!   queue's calendar), or to verify them.

use chrono::NaiveDate;
use serde::Serialize;

use super::breakdown::Field;
use super::gather::{TicketPages, gather};
use super::run::Name;
use super::tally::{Entry, Group, Key, Tally, add, entries, tally};
use crate::blobs::{BlobError, BlobStore};
use crate::calendar::TimeZone;
use crate::config::Config;
use crate::domain::{QueueKey, Ticket, TicketKey, TimelineEntry};
use crate::keys;
use crate::store::{
    ChangeFeed, Counter, RollupDay, RollupStore, Store, StoreError, TicketStore, TimelineStore,
    counter_difference,
};

/// The feed cursor of the local rollups.
pub const CURSOR: &str = "rollups";

/// Changes read from the feed at a time.
const BATCH: usize = 200;

/// The class of a field's counters.
fn field_class(field: &Field) -> String {
    match field {
        Field::Custom(id) => format!("custom:{id}"),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

/// The class of a group's counters of `kind`: `created:all`,
/// `open:component`, ...
fn group_class(kind: &str, group: &Group) -> String {
    match group {
        Group::All => format!("{kind}:all"),
        Group::Value(field, _) => format!("{kind}:{}", field_class(field)),
    }
}

/// What a report reads a counter for.
pub fn class_of(key: &Key) -> String {
    match key {
        Key::Created(g) => group_class("created", g),
        Key::Resolved(g) => group_class("resolved", g),
        Key::Reopened(g, _) => group_class("reopened", g),
        Key::Open(g) => group_class("open", g),
        Key::OpenAs { .. } => "open_as".to_owned(),
        Key::CreatedNowAs { .. } => "created_now_as".to_owned(),
        Key::Taken(_) => "taken".to_owned(),
        Key::Answered(_) => "answered".to_owned(),
        Key::Response { metric, .. } => format!("response:{}", metric.as_str()),
        Key::Sla { .. } => "sla".to_owned(),
        Key::SlaRunning { .. } => "sla_running".to_owned(),
        Key::Stays { group, .. }
        | Key::StaySeconds { group, .. }
        | Key::StayWallSeconds { group, .. } => group_class("stays", group),
        Key::Rated { .. } => "rated".to_owned(),
        Key::EscalationRated { .. } => "escalation_rated".to_owned(),
    }
}

/// The classes report `name` reads, grouped `by`.
pub fn classes(config: &Config, name: Name, by: Option<&str>) -> Vec<String> {
    let field = by.and_then(|by| Field::parse(by, config));
    let of = |kinds: &[&str], field: &Field| {
        kinds
            .iter()
            .map(|k| format!("{k}:{}", field_class(field)))
            .collect::<Vec<_>>()
    };
    let all = |kinds: &[&str]| kinds.iter().map(|k| format!("{k}:all")).collect::<Vec<_>>();
    let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    match name {
        Name::Volume => all(&["created", "resolved", "reopened", "open"]),
        Name::Breakdown => of(
            &["created", "resolved", "open"],
            &field.unwrap_or(Field::Component),
        ),
        Name::AssigneeStatus => owned(&["open_as", "created_now_as"]),
        Name::ResponseTimes => owned(&[
            "response:first_response",
            "response:next_response",
            "response:resolution",
        ]),
        Name::Sla => owned(&["sla", "sla_running"]),
        Name::Reopens => {
            let mut classes = all(&["resolved", "reopened"]);
            classes.extend(of(
                &["resolved", "reopened"],
                &field.unwrap_or(Field::Assignee),
            ));
            classes
        }
        Name::TimeInStatus => match field {
            Some(field) => of(&["stays"], &field),
            None => all(&["stays"]),
        },
        Name::Agents => {
            let mut classes = owned(&[
                "taken",
                "answered",
                "response:first_response",
                "rated",
                "escalation_rated",
            ]);
            classes.extend(of(&["resolved", "reopened"], &Field::Assignee));
            classes
        }
    }
}

/// A tally as the store keeps it.
pub fn counters(tally: &Tally) -> Vec<Counter> {
    tally
        .iter()
        .map(|((day, key), n)| Counter {
            class: class_of(key),
            day: *day,
            key: key.encode(),
            n: *n,
        })
        .collect()
}

/// The counters of `days` as entries.
pub fn entries_of(days: &[RollupDay]) -> Result<Vec<Entry>, StoreError> {
    let mut out = Vec::new();
    for day in days {
        for entry in day.entries() {
            let (key, n) = entry?;
            let key = Key::decode(key).ok_or_else(|| {
                StoreError::corrupt(format!(
                    "a rollup key {key:?}; `helpdesk report rebuild` makes them again"
                ))
            })?;
            out.push(((day.day, key), n));
        }
    }
    Ok(out)
}

/// [`entries_of`] on every core: a year of response times is some
/// hundreds of thousands of keys to decode.
fn entries_in_parallel(days: &[RollupDay]) -> Result<Vec<Entry>, StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let size: usize = days.iter().map(|d| d.lines.len()).sum();
    if threads < 2 || size < 1 << 20 {
        return entries_of(days);
    }
    // Parts of about equal text, in order.
    let mut parts = Vec::with_capacity(threads);
    let (mut start, mut taken) = (0, 0);
    for (i, day) in days.iter().enumerate() {
        taken += day.lines.len();
        if taken * threads >= size * (parts.len() + 1) {
            parts.push(&days[start..=i]);
            start = i + 1;
        }
    }
    parts.push(&days[start..]);
    let decoded: Vec<Result<Vec<Entry>, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || entries_of(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError::backend("decoding rollups panicked")))
            })
            .collect()
    });
    let mut out = Vec::new();
    for part in decoded {
        out.extend(part?);
    }
    Ok(out)
}

/// Recomputes the tally of ticket `key` from its timeline and keeps it;
/// answers how many counters changed (0: already kept, or no such
/// ticket).
pub async fn keep_ticket<S>(
    config: &Config,
    store: &S,
    key: &TicketKey,
) -> Result<usize, StoreError>
where
    S: TicketStore + TimelineStore + RollupStore + ?Sized,
{
    let Some(ticket) = store.get_ticket(key).await? else {
        return Ok(0);
    };
    let timeline = store.timeline(key).await?;
    keep_read(config, store, &ticket, &timeline).await
}

/// Keeps the tally of `ticket` (as it is now) and its whole `timeline`.
async fn keep_read<S>(
    config: &Config,
    store: &S,
    ticket: &Ticket,
    timeline: &[TimelineEntry],
) -> Result<usize, StoreError>
where
    S: RollupStore + ?Sized,
{
    let tally = tally(config, config.report_zone(), ticket, timeline);
    store
        .keep_counters(&ticket.queue, &ticket.key, &counters(&tally))
        .await
}

/// Why following a change failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The export could not be written.
    #[error(transparent)]
    Export(#[from] BlobError),
}

/// What the trigger stream's function does for reports with each ticket
/// write `written`: keeps the ticket's rollups and exports the metric
/// events of that version ([`super::export`]).
pub async fn follow_write<S>(
    config: &Config,
    store: &S,
    blobs: &dyn BlobStore,
    written: &Ticket,
) -> Result<(), FollowError>
where
    S: TicketStore + TimelineStore + RollupStore + ?Sized,
{
    let Some(ticket) = store.get_ticket(&written.key).await? else {
        return Ok(());
    };
    let timeline = store.timeline(&ticket.key).await?;
    keep_read(config, store, &ticket, &timeline).await?;
    super::export::export_version(config, blobs, &ticket, &timeline, written).await?;
    Ok(())
}

/// Keeps the tickets changed since the feed's rollup cursor (every ticket,
/// the first time); answers how many were kept.
pub async fn catch_up(
    config: &Config,
    store: &dyn Store,
    feed: &dyn ChangeFeed,
) -> Result<usize, StoreError> {
    let mut kept = 0;
    if store
        .get_marker(keys::marker::ROLLUPS_KEPT)
        .await?
        .is_none()
    {
        // The cursor first, so that no change made meanwhile is forgotten.
        feed.set_cursor(CURSOR, 0).await?;
        let mut first = Rebuilt::default();
        for queue in config.queues.keys() {
            keep_all(config, store, queue, &mut first).await?;
        }
        kept += first.tickets;
        store
            .put_marker(
                keys::marker::ROLLUPS_KEPT,
                "kept since the first report",
                None,
            )
            .await?;
    }
    loop {
        let after = feed.cursor(CURSOR).await?;
        let changes = feed.changes_after(after, BATCH).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(kept);
        };
        let mut seen = std::collections::BTreeSet::new();
        for change in &changes {
            if seen.insert(change.after.key.clone()) {
                keep_ticket(config, store, &change.after.key).await?;
                kept += 1;
            }
        }
        feed.set_cursor(CURSOR, last).await?;
    }
}

/// The counters of `queues` in `classes` up to `to`, in days of `zone`:
/// from the rollups when `zone` is the desk's (brought up to date first
/// where the store has a change feed), else gathered from every timeline.
pub async fn read(
    config: &Config,
    store: &dyn Store,
    queues: &[QueueKey],
    classes: &[String],
    zone: TimeZone,
    to: NaiveDate,
) -> Result<Vec<Entry>, StoreError> {
    if zone != config.report_zone() {
        return Ok(entries(gather(config, store, queues, zone).await?));
    }
    if let Some(feed) = store.change_feed() {
        catch_up(config, store, feed).await?;
    }
    let mut days = Vec::new();
    for queue in queues {
        days.extend(store.rollups(queue, classes, to).await?);
    }
    entries_in_parallel(&days)
}

/// What a rebuild found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rebuilt {
    /// Tickets read.
    pub tickets: usize,
    /// Tickets whose kept counters differed from their timeline's.
    pub tickets_changed: usize,
    /// Rollup counters that differed from the sum of the tickets' and
    /// were repaired.
    pub counters_repaired: usize,
}

/// Recomputes and keeps every ticket's tally of `queues`, then repairs
/// each queue's rollups where they differ from the sum of its tickets'.
pub async fn rebuild(
    config: &Config,
    store: &dyn Store,
    queues: &[QueueKey],
) -> Result<Rebuilt, StoreError> {
    let mut rebuilt = Rebuilt::default();
    for queue in queues {
        let expected = counters(&keep_all(config, store, queue, &mut rebuilt).await?);
        let mut classes: Vec<String> = expected.iter().map(|c| c.class.clone()).collect();
        classes.extend(every_class(config));
        classes.sort();
        classes.dedup();
        let stored = RollupDay::counters(&store.rollups(queue, &classes, last_day()).await?)?;
        let repair = counter_difference(&stored, &expected);
        if !repair.is_empty() {
            tracing::warn!(queue = %queue, counters = repair.len(), "rollups repaired");
            store.adjust_rollups(queue, &repair).await?;
        }
        rebuilt.counters_repaired += repair.len();
    }
    Ok(rebuilt)
}

/// Recomputes and keeps the tally of every ticket of `queue`, counting
/// them in `rebuilt`; answers their sum. Safe to run beside other keeping:
/// each ticket's counters are kept atomically against what was kept.
async fn keep_all(
    config: &Config,
    store: &dyn Store,
    queue: &QueueKey,
    rebuilt: &mut Rebuilt,
) -> Result<Tally, StoreError> {
    let zone = config.report_zone();
    let mut sum = Tally::new();
    let mut pages = TicketPages::of(store, queue);
    while let Some(page) = pages.next_page().await? {
        for (ticket, timeline) in &page {
            let tally = tally(config, zone, ticket, timeline);
            let changed = store
                .keep_counters(queue, &ticket.key, &counters(&tally))
                .await?;
            rebuilt.tickets += 1;
            rebuilt.tickets_changed += usize::from(changed > 0);
            add(&mut sum, &tally, 1);
        }
    }
    Ok(sum)
}

/// The last day rollups can hold (their days are compared as text).
fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default()
}

/// Every class the reports of `config` read.
fn every_class(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (_, name) in Name::ALL {
        let (groupings, _) = name.groupings(config);
        out.extend(classes(config, name, None));
        for by in groupings {
            out.extend(classes(config, name, Some(&by)));
        }
    }
    out
}
