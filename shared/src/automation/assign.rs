//! Choosing one member of a group for a trigger's `assign` action: round
//! robin or the least loaded, skipping members at their cap of tickets in
//! work. "In work" is every status whose category is new or open: tickets
//! waiting for the customer, resolved or closed do not count.

use chrono::{DateTime, Utc};

use crate::config::StatusCategory;
use crate::domain::QueueKey;
use crate::keys;
use crate::services::Services;
use crate::store::StoreError;
use crate::triggers::{AssignStrategy, GroupAssignment};

/// The member to assign, or `None` when every member is at the cap.
pub async fn choose_assignee(
    services: &Services,
    queue: &QueueKey,
    group: &GroupAssignment,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    if group.members.is_empty() {
        return Ok(None);
    }
    let in_work: Vec<String> = services
        .config
        .queues
        .get(queue)
        .map(|q| {
            q.statuses
                .iter()
                .filter(|s| matches!(s.category, StatusCategory::New | StatusCategory::Open))
                .map(|s| s.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut loads = Vec::with_capacity(group.members.len());
    for member in &group.members {
        let load = services
            .store
            .count_assigned(queue, member, &in_work)
            .await?;
        loads.push(load);
    }
    let under_cap = |i: usize| group.cap.is_none_or(|cap| loads[i] < u64::from(cap));
    let n = group.members.len();
    let chosen = match group.strategy {
        AssignStrategy::LeastLoaded => (0..n).filter(|&i| under_cap(i)).min_by_key(|&i| loads[i]),
        AssignStrategy::RoundRobin => {
            let turn = services
                .store
                .increment_counter(
                    &keys::counter::round_robin(queue, &group.trigger),
                    now + chrono::Duration::days(3650),
                )
                .await?;
            let start = usize::try_from(turn.saturating_sub(1) % n as u64).unwrap_or(0);
            (0..n).map(|k| (start + k) % n).find(|&i| under_cap(i))
        }
    };
    Ok(chosen.map(|i| group.members[i].clone()))
}
