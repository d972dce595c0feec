//! How many tickets each view holds for an agent: their open tickets, the
//! open unassigned ones, all open ones, those at risk of or past an SLA
//! target, and per queue each status and each support line. Every count is
//! one count of one index partition ([`TicketStore::count_tickets`]), never
//! a read of the tickets.

use crate::auth::Principal;
use crate::config::Config;
use crate::domain::QueueKey;
use crate::store::listing::{Facet, Listing, Scope, SlaStanding, SortKind};
use crate::store::{Counted, StoreError, TicketStore};

/// One view and its count, across the agent's queues.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ViewCount {
    /// `mine`, `unassigned`, `open`, `at_risk` or `breached`.
    pub view: &'static str,
    /// The `GET /tickets` parameters that list it.
    pub query: &'static str,
    /// How many tickets.
    pub count: u64,
}

/// One status of a queue and its count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusCount {
    /// The status.
    pub status: String,
    /// Its category (`new`, `open`, `waiting`, `resolved`, `closed`).
    pub category: String,
    /// How many tickets are in it.
    pub count: u64,
}

/// One support line of a queue and its open tickets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineCount {
    /// The line.
    pub line: u8,
    /// How many open tickets are on it.
    pub count: u64,
}

/// A queue's counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueCounts {
    /// The queue.
    pub queue: QueueKey,
    /// Its name.
    pub name: String,
    /// Each status, in the configuration's order.
    pub statuses: Vec<StatusCount>,
    /// Each line's open tickets.
    pub lines: Vec<LineCount>,
}

/// Every count of the side bar.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// The views, summed over the agent's queues.
    pub views: Vec<ViewCount>,
    /// Per queue.
    pub queues: Vec<QueueCounts>,
}

/// The views' listings, with their names and parameters.
fn views(agent: &Principal) -> [(&'static str, &'static str, Listing); 5] {
    let open = |facet| Listing::Facet { facet, open: true };
    [
        (
            "mine",
            "view=mine",
            Listing::Sorted(Scope::Holder(Some(agent.login.clone())), SortKind::Created),
        ),
        (
            "unassigned",
            "view=unassigned",
            Listing::Sorted(Scope::Holder(None), SortKind::Created),
        ),
        (
            "open",
            "view=open",
            Listing::Sorted(Scope::Open, SortKind::Created),
        ),
        (
            "at_risk",
            "view=open&sla=at_risk",
            open(Facet::Sla(SlaStanding::AtRisk)),
        ),
        (
            "breached",
            "view=open&sla=breached",
            open(Facet::Sla(SlaStanding::Breached)),
        ),
    ]
}

/// The counts of `agent`'s views and queues.
pub async fn counts(
    config: &Config,
    store: &dyn TicketStore,
    agent: &Principal,
) -> Result<Counts, StoreError> {
    let queues = config.queues_of(&agent.login);
    let mut totals: Vec<ViewCount> = views(agent)
        .into_iter()
        .map(|(view, query, _)| ViewCount {
            view,
            query,
            count: 0,
        })
        .collect();
    let mut per_queue = Vec::with_capacity(queues.len());
    for key in queues {
        let Some(queue) = config.queues.get(key) else {
            continue;
        };
        for (total, (_, _, listing)) in totals.iter_mut().zip(views(agent)) {
            total.count += store.count_tickets(key, &Counted::Listing(listing)).await?;
        }
        let mut statuses = Vec::with_capacity(queue.statuses.len());
        for status in &queue.statuses {
            statuses.push(StatusCount {
                status: status.name.clone(),
                category: status.category.as_str().to_owned(),
                count: store
                    .count_tickets(key, &Counted::Status(status.name.clone()))
                    .await?,
            });
        }
        let mut lines = Vec::with_capacity(queue.lines.len());
        for line in &queue.lines {
            let listing = Listing::Facet {
                facet: Facet::Line(*line),
                open: true,
            };
            lines.push(LineCount {
                line: *line,
                count: store.count_tickets(key, &Counted::Listing(listing)).await?,
            });
        }
        per_queue.push(QueueCounts {
            queue: key.clone(),
            name: queue.name.clone(),
            statuses,
            lines,
        });
    }
    Ok(Counts {
        views: totals,
        queues: per_queue,
    })
}
