//! One page of tickets across the queues an agent works in, newest first:
//! one index range per queue ([`crate::store::TicketStore::list_tickets`]),
//! each at most a page long, merged. The next page starts after the last
//! row's [`Position`], so paging is stable while tickets arrive (new ones
//! are newer than every page already read).

use chrono::{DateTime, Utc};

use crate::domain::{QueueKey, Ticket};
use crate::store::{ListPosition, StoreError, TicketQuery, TicketStore};

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// The queues, each one the agent works in.
    pub queues: Vec<QueueKey>,
    /// Only this assignee's tickets (`Some(None)`: unassigned ones).
    pub assignee: Option<Option<String>>,
    /// Only this status.
    pub status: Option<String>,
    /// At most this many.
    pub limit: usize,
    /// Only rows after this one (the previous page's last).
    pub after: Option<Position>,
}

/// A row's place in the merged order: newer first, then higher number,
/// then the queue key descending.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// When the ticket was created.
    pub created_at: DateTime<Utc>,
    /// Its number in its queue.
    pub number: u64,
    /// Its queue.
    pub queue: QueueKey,
}

impl Position {
    fn of(ticket: &Ticket) -> Self {
        Self {
            created_at: ticket.created_at,
            number: ticket.key.number(),
            queue: ticket.queue.clone(),
        }
    }
}

/// One page, and where the next starts (`None`: this is the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The rows, newest first.
    pub tickets: Vec<Ticket>,
    /// The last row's place, when more may follow.
    pub next: Option<Position>,
}

/// The page `request` asks for.
pub async fn page(store: &dyn TicketStore, request: &ListRequest) -> Result<Page, StoreError> {
    let mut rows = Vec::new();
    for queue in &request.queues {
        let query = TicketQuery {
            assignee: request.assignee.clone(),
            status: request.status.clone(),
            after: request.after.as_ref().map(|after| within(after, queue)),
            ..TicketQuery::newest(queue.clone(), request.limit.saturating_add(1))
        };
        rows.extend(store.list_tickets(&query).await?.into_iter().filter(|t| {
            request
                .after
                .as_ref()
                .is_none_or(|after| Position::of(t) < *after)
        }));
    }
    rows.sort_by_key(|t| std::cmp::Reverse(Position::of(t)));
    let more = rows.len() > request.limit;
    rows.truncate(request.limit);
    let next = if more {
        rows.last().map(Position::of)
    } else {
        None
    };
    Ok(Page {
        tickets: rows,
        next,
    })
}

/// Where `queue`'s range resumes after `after` (the store's bound is
/// strict): in a queue whose key sorts before `after`'s, a ticket created
/// at the same instant with the same number still comes later in the
/// merged order, so the bound is one number higher there.
fn within(after: &Position, queue: &QueueKey) -> ListPosition {
    let number = if *queue < after.queue {
        after.number.saturating_add(1)
    } else {
        after.number
    };
    ListPosition {
        created_at: after.created_at,
        number,
    }
}
