//! `agents`: per agent, tickets taken, public answers, tickets resolved
//! and reopened while they held them, and their median first response (in
//! business time, over the first answers they wrote), and the ratings of
//! the tickets they held when the requester rated them: how many, how
//! many satisfied (good, 4 or 5), and their share (CSAT); likewise the
//! internal ratings of their help on line 2 (escalations rated by other
//! agents). A changed rating counts once, as it stands, on the day it was
//! last given.

use std::collections::BTreeMap;

use serde::Serialize;

use super::DateRange;
use super::breakdown::{Field, count};
use super::reopens::rate;
use super::response::spread;
use super::tally::{Entry, Group, Key, Response};

/// One agent's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    /// The agent's login.
    pub agent: String,
    /// Times they began to hold a ticket.
    pub taken: u64,
    /// Their public answers.
    pub answers: u64,
    /// Tickets resolved while they held them.
    pub resolved: u64,
    /// Tickets reopened while they held them.
    pub reopened: u64,
    /// Reopened / resolved, to three decimals.
    pub reopen_rate: Option<f64>,
    /// First answers they wrote.
    pub first_responses: u64,
    /// The median of those, in business seconds.
    pub median_first_response: Option<i64>,
    /// Ratings of tickets they held when rated.
    pub ratings: u64,
    /// Those that were satisfied.
    pub satisfied: u64,
    /// Satisfied / ratings, to three decimals.
    pub csat: Option<f64>,
    /// Internal ratings of their help on line 2.
    pub line2_ratings: u64,
    /// Those that were satisfied.
    pub line2_satisfied: u64,
    /// Satisfied / internal ratings, to three decimals.
    pub line2_csat: Option<f64>,
}

/// What is summed per agent.
#[derive(Default)]
struct Sums {
    taken: i64,
    answers: i64,
    resolved: i64,
    reopened: i64,
    first: Vec<(i64, i64)>,
    ratings: i64,
    satisfied: i64,
    line2_ratings: i64,
    line2_satisfied: i64,
}

/// The `agents` report over the days of `range`, sorted by login.
pub fn agents(tally: &[Entry], range: DateRange) -> Vec<AgentRow> {
    let mut sums: BTreeMap<&str, Sums> = BTreeMap::new();
    for ((day, key), n) in tally {
        if !range.contains(*day) {
            continue;
        }
        match key {
            Key::Taken(agent) => sums.entry(agent).or_default().taken += n,
            Key::Answered(agent) => sums.entry(agent).or_default().answers += n,
            Key::Resolved(Group::Value(Field::Assignee, agent)) if agent != "(none)" => {
                sums.entry(agent).or_default().resolved += n;
            }
            Key::Reopened(Group::Value(Field::Assignee, agent), _) if agent != "(none)" => {
                sums.entry(agent).or_default().reopened += n;
            }
            Key::Response {
                metric: Response::First,
                business,
                agent: Some(agent),
                ..
            } => sums.entry(agent).or_default().first.push((*business, *n)),
            Key::Rated {
                score,
                assignee: Some(agent),
            } => {
                let sums = sums.entry(agent).or_default();
                sums.ratings += n;
                if score.satisfied() {
                    sums.satisfied += n;
                }
            }
            Key::EscalationRated { agent, score } => {
                let sums = sums.entry(agent).or_default();
                sums.line2_ratings += n;
                if score.satisfied() {
                    sums.line2_satisfied += n;
                }
            }
            _ => {}
        }
    }
    sums.into_iter()
        .map(|(agent, mut s)| {
            let (resolved, reopened) = (count(s.resolved), count(s.reopened));
            let (ratings, satisfied) = (count(s.ratings), count(s.satisfied));
            let (line2_ratings, line2_satisfied) =
                (count(s.line2_ratings), count(s.line2_satisfied));
            AgentRow {
                agent: agent.to_owned(),
                taken: count(s.taken),
                answers: count(s.answers),
                resolved,
                reopened,
                reopen_rate: rate(reopened, resolved),
                first_responses: count(s.first.iter().map(|(_, n)| n).sum()),
                median_first_response: spread(&mut s.first).map(|s| s.median),
                ratings,
                satisfied,
                csat: rate(satisfied, ratings),
                line2_ratings,
                line2_satisfied,
                line2_csat: rate(line2_satisfied, line2_ratings),
            }
        })
        .collect()
}
