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
use crate::domain::{Channel, Score, SlaEventKind, Ticket, TimelineEntry};

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
    /// Escalations whose internal rating as it stands was given this
    /// day, by the line-2 agent rated and score.
    EscalationRated {
        /// The line-2 agent.
        agent: String,
        /// The score.
        score: Score,
    },
    /// Tickets whose rating as it stands was given this day, by score
    /// and the ticket's assignee then.
    Rated {
        /// The score.
        score: Score,
        /// The ticket's assignee when it was rated.
        assignee: Option<String>,
    },
}

/// Counters by day and key.
pub type Tally = BTreeMap<(NaiveDate, Key), i64>;

/// One counter as reports read it: a key may come more than once (from
/// several queues, say), and reports add them up.
pub type Entry = ((NaiveDate, Key), i64);

/// A tally's counters as entries.
pub fn entries(tally: Tally) -> Vec<Entry> {
    tally.into_iter().collect()
}

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
        rating: None,
        escalation_ratings: BTreeMap::new(),
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
    /// The rating as it stands (when, and its counter).
    rating: Option<(DateTime<Utc>, Key)>,
    /// Each escalation's internal rating as it stands.
    escalation_ratings: BTreeMap<u64, (DateTime<Utc>, Key)>,
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
            MetricKind::Rated { score } => {
                let key = Key::Rated {
                    score: *score,
                    assignee: dims.assignee.clone(),
                };
                self.rating = Some((at, key));
            }
            MetricKind::EscalationRated {
                escalation,
                agent,
                score,
            } => {
                let key = Key::EscalationRated {
                    agent: agent.clone(),
                    score: *score,
                };
                self.escalation_ratings.insert(*escalation, (at, key));
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
        if let Some((at, key)) = self.rating.take() {
            self.count(at, key, 1);
        }
        for (at, key) in std::mem::take(&mut self.escalation_ratings).into_values() {
            self.count(at, key, 1);
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

/// The separator of a key's fields in its text.
const SEP: char = '\u{1f}';

/// Every channel, for reading one back by name.
const CHANNELS: [Channel; 7] = [
    Channel::Form,
    Channel::Email,
    Channel::Api,
    Channel::Chat,
    Channel::Phone,
    Channel::Import,
    Channel::Automation,
];

/// A key's text, written field by field.
struct Writer(String);

impl Writer {
    fn field(&mut self, text: &str) {
        if !self.0.is_empty() {
            self.0.push(SEP);
        }
        // The separator cannot be part of a value (a tag, a status), nor
        // can a line break or a tab (a store keeps a day's keys as lines).
        self.0.extend(text.chars().map(|c| {
            if matches!(c, SEP | '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        }));
    }

    fn maybe(&mut self, text: Option<&str>) {
        match text {
            None => self.field("~"),
            Some(text) => self.field(&format!("={text}")),
        }
    }

    fn group(&mut self, group: &Group) {
        match group {
            Group::All => self.field("*"),
            Group::Value(Field::Custom(id), value) => {
                self.field(&format!("custom:{id}"));
                self.field(value);
            }
            Group::Value(field, value) => {
                let name = serde_json::to_value(field)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                self.field(&name);
                self.field(value);
            }
        }
    }
}

/// A key's text, read field by field.
struct Reader<'a>(std::str::Split<'a, char>);

impl<'a> Reader<'a> {
    fn field(&mut self) -> Option<&'a str> {
        self.0.next()
    }

    fn text(&mut self) -> Option<String> {
        self.field().map(str::to_owned)
    }

    fn number(&mut self) -> Option<i64> {
        self.field()?.parse().ok()
    }

    fn maybe(&mut self) -> Option<Option<String>> {
        match self.field()? {
            "~" => Some(None),
            text => text.strip_prefix('=').map(|t| Some(t.to_owned())),
        }
    }

    fn group(&mut self) -> Option<Group> {
        let name = self.field()?;
        if name == "*" {
            return Some(Group::All);
        }
        let field = match name.strip_prefix("custom:") {
            Some(id) => Field::Custom(id.to_owned()),
            None => serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()?,
        };
        Some(Group::Value(field, self.text()?))
    }
}

impl Key {
    /// The key as text: a tag and its fields, separated by U+001F, on one
    /// line without tabs (such characters in a value become spaces). What
    /// the store keeps; [`Key::decode`] reads it back.
    pub fn encode(&self) -> String {
        let mut w = Writer(String::new());
        match self {
            Self::Created(g) | Self::Resolved(g) | Self::Open(g) => {
                w.field(match self {
                    Self::Created(_) => "c",
                    Self::Resolved(_) => "r",
                    _ => "O",
                });
                w.group(g);
            }
            Self::Reopened(g, who) => {
                w.field("o");
                w.field(match who {
                    Who::Customer => "c",
                    Who::Agent => "a",
                    Who::Automation => "x",
                });
                w.group(g);
            }
            Self::OpenAs { assignee, status } | Self::CreatedNowAs { assignee, status } => {
                w.field(if matches!(self, Self::OpenAs { .. }) {
                    "A"
                } else {
                    "N"
                });
                w.maybe(assignee.as_deref());
                w.field(status);
            }
            Self::Taken(agent) | Self::Answered(agent) => {
                w.field(if matches!(self, Self::Taken(_)) {
                    "t"
                } else {
                    "a"
                });
                w.field(agent);
            }
            Self::Response {
                metric,
                business,
                calendar,
                agent,
                assignee,
                channel,
            } => {
                w.field("R");
                w.field(match metric {
                    Response::First => "f",
                    Response::Next => "n",
                    Response::Resolution => "r",
                });
                w.field(&business.to_string());
                w.field(&calendar.to_string());
                w.maybe(agent.as_deref());
                w.maybe(assignee.as_deref());
                w.field(channel.as_str());
            }
            Self::Sla {
                metric,
                rule,
                outcome,
                assignee,
            } => {
                w.field("S");
                w.field(metric);
                w.field(rule);
                w.field(match outcome {
                    Outcome::Met => "m",
                    Outcome::Breached => "b",
                });
                w.maybe(assignee.as_deref());
            }
            Self::SlaRunning { metric, rule } => {
                w.field("s");
                w.field(metric);
                w.field(rule);
            }
            Self::Stays { status, group }
            | Self::StaySeconds { status, group }
            | Self::StayWallSeconds { status, group } => {
                w.field(match self {
                    Self::Stays { .. } => "y",
                    Self::StaySeconds { .. } => "Y",
                    _ => "W",
                });
                w.field(status);
                w.group(group);
            }
            Self::EscalationRated { agent, score } => {
                w.field("e");
                w.field(&score.to_string());
                w.field(agent);
            }
            Self::Rated { score, assignee } => {
                w.field("g");
                w.field(&score.to_string());
                w.maybe(assignee.as_deref());
            }
        }
        w.0
    }

    /// The key of text written by [`Key::encode`] (`None`: not such text).
    pub fn decode(text: &str) -> Option<Self> {
        let mut r = Reader(text.split(SEP));
        let key = match r.field()? {
            "c" => Self::Created(r.group()?),
            "r" => Self::Resolved(r.group()?),
            "O" => Self::Open(r.group()?),
            "o" => {
                let who = match r.field()? {
                    "c" => Who::Customer,
                    "a" => Who::Agent,
                    "x" => Who::Automation,
                    _ => return None,
                };
                Self::Reopened(r.group()?, who)
            }
            tag @ ("A" | "N") => {
                let (assignee, status) = (r.maybe()?, r.text()?);
                if tag == "A" {
                    Self::OpenAs { assignee, status }
                } else {
                    Self::CreatedNowAs { assignee, status }
                }
            }
            "t" => Self::Taken(r.text()?),
            "a" => Self::Answered(r.text()?),
            "R" => {
                let metric = match r.field()? {
                    "f" => Response::First,
                    "n" => Response::Next,
                    "r" => Response::Resolution,
                    _ => return None,
                };
                let (business, calendar) = (r.number()?, r.number()?);
                let (agent, assignee) = (r.maybe()?, r.maybe()?);
                let channel = r.field()?;
                let channel = CHANNELS.into_iter().find(|c| c.as_str() == channel)?;
                Self::Response {
                    metric,
                    business,
                    calendar,
                    agent,
                    assignee,
                    channel,
                }
            }
            "S" => {
                let (metric, rule) = (r.text()?, r.text()?);
                let outcome = match r.field()? {
                    "m" => Outcome::Met,
                    "b" => Outcome::Breached,
                    _ => return None,
                };
                Self::Sla {
                    metric,
                    rule,
                    outcome,
                    assignee: r.maybe()?,
                }
            }
            "s" => Self::SlaRunning {
                metric: r.text()?,
                rule: r.text()?,
            },
            tag @ ("y" | "Y" | "W") => {
                let (status, group) = (r.text()?, r.group()?);
                match tag {
                    "y" => Self::Stays { status, group },
                    "Y" => Self::StaySeconds { status, group },
                    _ => Self::StayWallSeconds { status, group },
                }
            }
            "e" => Self::EscalationRated {
                score: Score::parse(r.field()?)?,
                agent: r.text()?,
            },
            "g" => Self::Rated {
                score: Score::parse(r.field()?)?,
                assignee: r.maybe()?,
            },
            _ => return None,
        };
        r.field().is_none().then_some(key)
    }
}
