//! The tallies of a queue, gathered from the store: every ticket of the
//! queue, page by page, and each one's timeline. The effectful edge of the
//! reports that reads every ticket: for a zone other than the desk's, and
//! for (re)building the kept rollups ([`TicketPages`]).

use super::tally::{Tally, add, tally};
use crate::calendar::TimeZone;
use crate::config::Config;
use crate::domain::{QueueKey, Ticket, TimelineEntry};
use crate::store::{ListPosition, StoreError, TicketQuery, TicketStore, TimelineStore};

/// Tickets read per page.
const PAGE: usize = 500;

/// Every ticket of a queue with its timeline, newest first, a page of
/// tickets at a time.
pub struct TicketPages<'a, S: ?Sized> {
    store: &'a S,
    queue: QueueKey,
    after: Option<ListPosition>,
    done: bool,
}

impl<'a, S> TicketPages<'a, S>
where
    S: TicketStore + TimelineStore + ?Sized,
{
    /// The pages of `queue`'s tickets.
    pub fn of(store: &'a S, queue: &QueueKey) -> Self {
        Self {
            store,
            queue: queue.clone(),
            after: None,
            done: false,
        }
    }

    /// The next page (`None`: there is none).
    pub async fn next_page(
        &mut self,
    ) -> Result<Option<Vec<(Ticket, Vec<TimelineEntry>)>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let query = TicketQuery {
            after: self.after.take(),
            ..TicketQuery::newest(self.queue.clone(), PAGE)
        };
        let page = self.store.list_tickets(&query).await?;
        match page.last() {
            Some(last) if page.len() == PAGE => self.after = Some(ListPosition::of(last)),
            _ => self.done = true,
        }
        let mut out = Vec::with_capacity(page.len());
        for ticket in page {
            let timeline = self.store.timeline(&ticket.key).await?;
            out.push((ticket, timeline));
        }
        Ok(Some(out))
    }
}

/// The tally of every ticket of `queues`, in days of `zone`.
pub async fn gather<S>(
    config: &Config,
    store: &S,
    queues: &[QueueKey],
    zone: TimeZone,
) -> Result<Tally, StoreError>
where
    S: TicketStore + TimelineStore + ?Sized,
{
    let mut sum = Tally::new();
    for queue in queues {
        let mut pages = TicketPages::of(store, queue);
        while let Some(page) = pages.next_page().await? {
            for (ticket, timeline) in &page {
                add(&mut sum, &tally(config, zone, ticket, timeline), 1);
            }
        }
    }
    Ok(sum)
}
