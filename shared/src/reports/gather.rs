//! The tally of a queue, gathered from the store: every ticket of the
//! queue, page by page, and each one's timeline. The effectful edge of the
//! reports that reads every ticket: for local desks, and for recomputing
//! kept rollups.

use super::tally::{Tally, add, tally};
use crate::calendar::TimeZone;
use crate::config::Config;
use crate::domain::QueueKey;
use crate::store::{ListPosition, StoreError, TicketQuery, TicketStore, TimelineStore};

/// Tickets read per page.
const PAGE: usize = 500;

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
        let mut after = None;
        loop {
            let query = TicketQuery {
                after,
                ..TicketQuery::newest(queue.clone(), PAGE)
            };
            let page = store.list_tickets(&query).await?;
            for ticket in &page {
                let timeline = store.timeline(&ticket.key).await?;
                add(&mut sum, &tally(config, zone, ticket, &timeline), 1);
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(ListPosition::of(last)),
                _ => break,
            }
        }
    }
    Ok(sum)
}
