//! Turning a stored ticket write (a stream record's images or a change-feed
//! row) into the [`Change`] triggers evaluate: the timeline entries written
//! with the new version are read back, the one that says what happened
//! (a comment, a mail) becomes the change's entry, and its actor the
//! change's actor; the depth is the one the write stored.

use crate::domain::{Actor, Ticket, TimelineEntry, TimelineEvent};
use crate::store::{StoreError, TimelineStore};
use crate::triggers::Change;

/// The change a write made, with its entries read from `store`.
pub async fn change_from_write(
    store: &dyn TimelineStore,
    before: Option<Ticket>,
    after: Ticket,
) -> Result<Change, StoreError> {
    let entries = store.entries_of_version(&after.key, after.version).await?;
    Ok(change_from_parts(before, after, entries))
}

/// The change a write made, given the entries written with it.
pub fn change_from_parts(
    before: Option<Ticket>,
    after: Ticket,
    entries: Vec<TimelineEntry>,
) -> Change {
    let depth = after.trigger_depth;
    let primary = entries
        .iter()
        .position(|e| {
            matches!(
                e.event,
                TimelineEvent::Comment { .. }
                    | TimelineEvent::EmailIn { .. }
                    | TimelineEvent::EmailOut { .. }
            )
        })
        .or(if entries.is_empty() { None } else { Some(0) });
    let mut entries = entries;
    let entry = primary.map(|i| entries.swap_remove(i));
    let actor = entry.as_ref().map_or(Actor::System, |e| e.actor.clone());
    Change {
        before,
        after,
        entry,
        actor,
        depth,
        sla: None,
    }
}
