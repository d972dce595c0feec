//! `reopens`: tickets resolved and reopened in the range by a field's
//! value (the assignee by default), who reopened them (the customer by
//! mail, an agent, automation), and the reopen rate: reopened / resolved.

use std::collections::BTreeMap;

use serde::Serialize;

use super::DateRange;
use super::breakdown::{Field, count};
use super::metrics::Who;
use super::tally::{Entry, Group, Key};

/// One value's reopens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReopenRow {
    /// The value (`(all)`: every ticket).
    pub value: String,
    /// Tickets resolved in the range with this value then.
    pub resolved: u64,
    /// Tickets reopened in the range with this value then.
    pub reopened: u64,
    /// Of those, by the customer (a reply by mail).
    pub by_customer: u64,
    /// Of those, by an agent.
    pub by_agent: u64,
    /// Of those, by triggers or the desk.
    pub by_automation: u64,
    /// Reopened / resolved, to three decimals (none when nothing was
    /// resolved).
    pub rate: Option<f64>,
}

/// `reopened` / `resolved`, to three decimals.
pub(crate) fn rate(reopened: u64, resolved: u64) -> Option<f64> {
    (resolved > 0).then(|| (reopened as f64 * 1000.0 / resolved as f64).round() / 1000.0)
}

/// The `reopens` report by `field`: every ticket first (`(all)`), then
/// each value, sorted.
pub fn reopens(tally: &[Entry], range: DateRange, field: &Field) -> Vec<ReopenRow> {
    // Per value: resolved, by customer, by agent, by automation.
    let mut counts: BTreeMap<Option<&str>, [i64; 4]> = BTreeMap::new();
    for ((day, key), n) in tally {
        if !range.contains(*day) {
            continue;
        }
        let (group, slot) = match key {
            Key::Resolved(group) => (group, 0),
            Key::Reopened(group, Who::Customer) => (group, 1),
            Key::Reopened(group, Who::Agent) => (group, 2),
            Key::Reopened(group, Who::Automation) => (group, 3),
            _ => continue,
        };
        let value = match group {
            Group::All => None,
            Group::Value(f, value) if f == field => Some(value.as_str()),
            Group::Value(..) => continue,
        };
        counts.entry(value).or_default()[slot] += n;
    }
    counts.entry(None).or_default();
    counts
        .into_iter()
        .map(|(value, [resolved, customer, agent, automation])| {
            let (resolved, customer, agent, automation) = (
                count(resolved),
                count(customer),
                count(agent),
                count(automation),
            );
            let reopened = customer + agent + automation;
            ReopenRow {
                value: value.unwrap_or("(all)").to_owned(),
                resolved,
                reopened,
                by_customer: customer,
                by_agent: agent,
                by_automation: automation,
                rate: rate(reopened, resolved),
            }
        })
        .collect()
}
