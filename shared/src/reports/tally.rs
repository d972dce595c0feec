//! Tallies: what one ticket adds to each day's figures, as counters keyed
//! by day and [`Key`]. A report is a sum of tallies read back by key and
//! day, so the same figures come from tallies computed now from the
//! timelines or kept as rollups while tickets change.
//!
//! A ticket's tally is a function of its whole history (its metric
//! events): keeping a rollup is replacing the ticket's previous tally with
//! its new one, which makes a redelivered change a no-op. Counters that
//! describe a state (open tickets, running SLA timers) are kept as
//! changes: +1 on the day a ticket enters a group, -1 on the day it leaves,
//! so the state at the end of a day is the sum up to it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::breakdown::Field;
use super::day_of;
use super::metrics::{Dimensions, MetricEvent, MetricKind, Who, metric_events};
use crate::calendar::{Calendar, TimeZone};
use crate::config::Config;
use crate::domain::{Channel, SlaEventKind, Ticket, TimelineEntry};

/// What a counter is grouped by: everything, or one value of a field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Every ticket.
    All,
    /// Tickets with this value of the field.
    Value(Field, String),
}

/// Which response time a sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// From the opening to the first public answer of an agent.
    First,
    /// From a customer's message (after an answer) to the next answer.
    Next,
    /// From the opening to the resolution the ticket is in now.
    Resolution,
}

impl Response {
    /// Every kind, in report order.
    pub const ALL: [Self; 3] = [Self::First, Self::Next, Self::Resolution];

    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "first_response",
            Self::Next => "next_response",
            Self::Resolution => "resolution",
        }
    }
}

/// How an SLA timer ended, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stopped within its target.
    Met,
    /// Reached its target while running.
    Breached,
}

/// A counter of a day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// Tickets opened.
    Created(Group),
    /// Tickets resolved (entered a resolved or closed status from one
    /// that is neither).
    Resolved(Group),
    /// Tickets reopened, by whom.
    Reopened(Group, Who),
    /// Change of the number of open tickets.
    Open(Group),
    /// Change of the number of open tickets by assignee x status.
    OpenAs {
        /// The assignee.
        assignee: Option<String>,
        /// The status.
        status: String,
    },
    /// Tickets opened this day, by their assignee and status now.
    CreatedNowAs {
        /// The assignee now.
        assignee: Option<String>,
        /// The status now.
        status: String,
    },
    /// Times an agent began to hold a ticket.
    Taken(String),
    /// Public answers of an agent.
    Answered(String),
    /// One response time (the count of tickets with exactly these
    /// figures).
    Response {
        /// Which.
        metric: Response,
        /// In business seconds of the queue's calendar.
        business: i64,
        /// In seconds.
        calendar: i64,
        /// The agent who answered (none for a resolution).
        agent: Option<String>,
        /// The ticket's assignee then.
        assignee: Option<String>,
        /// How the ticket came in.
        channel: Channel,
    },
    /// SLA timers that ended so, by rule and the ticket's assignee.
    Sla {
        /// The metric (`first_response`, ...).
        metric: String,
        /// The rule.
        rule: String,
        /// Met or breached.
        outcome: Outcome,
        /// The ticket's assignee then.
        assignee: Option<String>,
    },
    /// Change of the number of running SLA timers of a rule.
    SlaRunning {
        /// The metric.
        metric: String,
        /// The rule.
        rule: String,
    },
    /// Stays in a status that ended this day.
    Stays {
        /// The status.
        status: String,
        /// The group of the ticket then.
        group: Group,
    },
    /// Business seconds of the stays in a status that ended this day.
    StaySeconds {
        /// The status.
        status: String,
        /// The group of the ticket then.
        group: Group,
    },
    /// Seconds of the stays in a status that ended this day.
    StayWallSeconds {
        /// The status.
        status: String,
        /// The group of the ticket then.
        group: Group,
    },
}

/// Counters by day and key.
pub type Tally = BTreeMap<(NaiveDate, Key), i64>;

/// Adds `other` to `into`, dropping counters that come to zero.
pub fn add(into: &mut Tally, other: &Tally, sign: i64) {
    for (key, n) in other {
        let slot = into.entry(key.clone()).or_insert(0);
        *slot += sign * n;
        if *slot == 0 {
            into.remove(key);
        }
    }
}

/// The groups a ticket with `dims` is in: every ticket, and each value
/// of each field (a `select` custom field only when its queue has it).
pub fn groups(dims: &Dimensions) -> Vec<Group> {
    let mut out = vec![Group::All];
    for field in Field::BUILT_IN {
        for value in field.values(dims) {
            out.push(Group::Value(field.clone(), value));
        }
    }
    for (id, value) in &dims.custom {
        out.push(Group::Value(Field::Custom(id.clone()), value.clone()));
    }
    out
}

/// The tally of `ticket` and its whole `timeline`, in days of `zone`.
pub fn tally(
    config: &Config,
    zone: TimeZone,
    ticket: &Ticket,
    timeline: &[TimelineEntry],
) -> Tally {
    let events = metric_events(config, ticket, timeline);
    let calendar = config
        .queues
        .get(&ticket.queue)
        .and_then(|q| q.calendar.as_ref())
        .and_then(|name| config.calendar(&name.value))
        .cloned()
        .unwrap_or_else(|| Calendar::always_open(zone));
    let mut tallier = Tallier {
        zone,
        calendar,
        opened: ticket.created_at,
        answered: false,
        open: false,
        states: BTreeSet::new(),
        timers: BTreeMap::new(),
        waiting: None,
        resolution: None,
        out: Tally::new(),
    };
    for event in &events {
        tallier.event(event);
    }
    tallier.finish(events.last())
}

/// The walk through one ticket's metric events.
struct Tallier {
    zone: TimeZone,
    calendar: Calendar,
    opened: DateTime<Utc>,
    /// Whether an agent has answered publicly.
    answered: bool,
    /// Whether the ticket is open now (in the walk).
    open: bool,
    /// The state counters the ticket is in now: open by group, by
    /// assignee x status, running SLA timers.
    states: BTreeSet<Key>,
    /// The rule of each running SLA timer, by metric.
    timers: BTreeMap<String, String>,
    /// The first customer message not answered yet (after a first answer).
    waiting: Option<DateTime<Utc>>,
    /// The resolution the ticket is in (when and as it stood).
    resolution: Option<(DateTime<Utc>, Dimensions)>,
    out: Tally,
}

impl Tallier {
    fn count(&mut self, at: DateTime<Utc>, key: Key, n: i64) {
        let day = day_of(self.zone, at);
        let slot = self.out.entry((day, key.clone())).or_insert(0);
        *slot += n;
        if *slot == 0 {
            self.out.remove(&(day, key));
        }
    }

    fn sample(
        &mut self,
        metric: Response,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        agent: Option<String>,
        dims: &Dimensions,
    ) {
        let key = Key::Response {
            metric,
            business: self.calendar.elapsed(from, to).num_seconds(),
            calendar: (to - from).num_seconds(),
            agent,
            assignee: dims.assignee.clone(),
            channel: dims.channel,
        };
        self.count(to, key, 1);
    }

    fn event(&mut self, event: &MetricEvent) {
        let (at, dims) = (event.at, &event.dims);
        match &event.kind {
            MetricKind::Created => {
                self.open = true;
                for group in groups(dims) {
                    self.count(at, Key::Created(group), 1);
                }
            }
            MetricKind::Resolved => {
                self.open = false;
                self.resolution = Some((at, dims.clone()));
                for group in groups(dims) {
                    self.count(at, Key::Resolved(group), 1);
                }
            }
            MetricKind::Reopened { by } => {
                self.open = true;
                self.resolution = None;
                for group in groups(dims) {
                    self.count(at, Key::Reopened(group, *by), 1);
                }
            }
            MetricKind::Assigned { agent } => self.count(at, Key::Taken(agent.clone()), 1),
            MetricKind::Answered { agent, first } => {
                self.count(at, Key::Answered(agent.clone()), 1);
                let since = if *first {
                    Some(self.opened)
                } else {
                    self.waiting
                };
                let metric = if *first {
                    Response::First
                } else {
                    Response::Next
                };
                if let Some(since) = since {
                    self.sample(metric, since, at, Some(agent.clone()), dims);
                }
                self.waiting = None;
                self.answered = true;
            }
            MetricKind::CustomerWrote if self.answered && self.waiting.is_none() => {
                self.waiting = Some(at);
            }
            MetricKind::StatusLeft { status, seconds } => {
                let entered = at - chrono::Duration::seconds(*seconds);
                let business = self.calendar.elapsed(entered, at).num_seconds();
                for group in groups(dims) {
                    let status = status.clone();
                    let stays = Key::Stays {
                        status: status.clone(),
                        group: group.clone(),
                    };
                    let wall = Key::StayWallSeconds {
                        status: status.clone(),
                        group: group.clone(),
                    };
                    self.count(at, stays, 1);
                    self.count(at, Key::StaySeconds { status, group }, business);
                    self.count(at, wall, *seconds);
                }
            }
            MetricKind::Sla {
                metric,
                rule,
                event: kind,
            } => {
                let outcome = match kind {
                    SlaEventKind::Met => Some(Outcome::Met),
                    SlaEventKind::Breached => Some(Outcome::Breached),
                    _ => None,
                };
                if let Some(outcome) = outcome {
                    let key = Key::Sla {
                        metric: metric.clone(),
                        rule: rule.clone(),
                        outcome,
                        assignee: dims.assignee.clone(),
                    };
                    self.count(at, key, 1);
                }
                match kind {
                    SlaEventKind::Started | SlaEventKind::Retargeted => {
                        self.timers.insert(metric.clone(), rule.clone());
                    }
                    SlaEventKind::Met | SlaEventKind::Stopped => {
                        self.timers.remove(metric);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        self.restate(at, dims);
    }

    /// Moves the state counters to what the ticket is after an event.
    fn restate(&mut self, at: DateTime<Utc>, dims: &Dimensions) {
        let mut now = BTreeSet::new();
        if self.open {
            now.extend(groups(dims).into_iter().map(Key::Open));
            now.insert(Key::OpenAs {
                assignee: dims.assignee.clone(),
                status: dims.status.clone(),
            });
        }
        now.extend(self.timers.iter().map(|(metric, rule)| Key::SlaRunning {
            metric: metric.clone(),
            rule: rule.clone(),
        }));
        let left: Vec<Key> = self.states.difference(&now).cloned().collect();
        let entered: Vec<Key> = now.difference(&self.states).cloned().collect();
        for key in left {
            self.count(at, key, -1);
        }
        for key in entered {
            self.count(at, key, 1);
        }
        self.states = now;
    }

    /// The counters that depend on the ticket as it is now.
    fn finish(mut self, last: Option<&MetricEvent>) -> Tally {
        if let Some((at, dims)) = self.resolution.take() {
            self.sample(Response::Resolution, self.opened, at, None, &dims);
        }
        if let Some(last) = last {
            let key = Key::CreatedNowAs {
                assignee: last.dims.assignee.clone(),
                status: last.dims.status.clone(),
            };
            let opened = self.opened;
            self.count(opened, key, 1);
        }
        self.out
    }
}
