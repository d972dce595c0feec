//! The metric events of a queue, gathered from the store: every ticket of
//! the queue, page by page, and each one's timeline. The effectful edge of
//! the reports, and for now their only source: it reads every ticket, so
//! it is for local desks and for recomputing; the rollups that serve
//! reports at scale come next.

use super::metrics::{MetricEvent, metric_events};
use crate::config::Config;
use crate::domain::QueueKey;
use crate::store::{ListPosition, StoreError, TicketQuery, TicketStore, TimelineStore};

/// Tickets read per page.
const PAGE: usize = 500;

/// The metric events of every ticket of `queues`.
pub async fn gather<S>(
    config: &Config,
    store: &S,
    queues: &[QueueKey],
) -> Result<Vec<MetricEvent>, StoreError>
where
    S: TicketStore + TimelineStore + ?Sized,
{
    let mut events = Vec::new();
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
                events.extend(metric_events(config, ticket, &timeline));
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(ListPosition::of(last)),
                _ => break,
            }
        }
    }
    Ok(events)
}
