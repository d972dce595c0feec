//! Metric events: what happened to a ticket that the team measures, each
//! at its instant with the ticket's dimensions at that instant (queue,
//! channel, status, line, priority, components, assignee, organization).
//!
//! They are derived from the timeline alone (and the ticket as it is now,
//! for where the timeline starts), so they can always be recomputed: the
//! ticket's state at creation is its current state with every recorded
//! field change undone, newest first; then the timeline is replayed
//! forward one write (one version) at a time: every field change of the
//! write is applied first, so each event of a write carries the ticket as
//! the write left it (an assignee and a status set together credit the new
//! assignee with the resolution).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, CustomFieldType, StatusCategory};
use crate::domain::ticket::ENTRIES_PER_VERSION;
use crate::domain::{
    Actor, Channel, QueueKey, Score, SlaEventKind, Ticket, TicketKey, TimelineEntry, TimelineEvent,
};

/// What the ticket looked like at an instant, as reports group it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dimensions {
    /// Its queue.
    pub queue: QueueKey,
    /// How it came in.
    pub channel: Channel,
    /// Its status.
    pub status: String,
    /// Its support line.
    pub line: Option<u8>,
    /// Its priority.
    pub priority: String,
    /// Its components.
    pub components: Vec<String>,
    /// Who held it.
    pub assignee: Option<String>,
    /// The requester's organization.
    pub organization: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its custom fields of type `select` that have a value, as text.
    pub custom: BTreeMap<String, String>,
}

/// Who made a change, as reports tell them apart.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// The requester or another customer (a reply by mail).
    Customer,
    /// A team member.
    Agent,
    /// Triggers, SLA timers, the desk itself.
    Automation,
}

impl Who {
    /// Who `actor` is.
    pub fn of(actor: &Actor) -> Self {
        match actor {
            Actor::Customer { .. } => Self::Customer,
            Actor::Agent { .. } => Self::Agent,
            Actor::System | Actor::Trigger { .. } => Self::Automation,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricKind {
    /// The ticket was opened.
    Created,
    /// An agent answered the customer publicly (`first`: the ticket's
    /// first such answer).
    Answered {
        /// The agent.
        agent: String,
        /// Whether it was the first public answer.
        first: bool,
    },
    /// The ticket entered a status.
    StatusEntered {
        /// The status.
        status: String,
    },
    /// The ticket left a status after `seconds` in it.
    StatusLeft {
        /// The status.
        status: String,
        /// Wall-clock seconds spent in it.
        seconds: i64,
    },
    /// It entered a resolved or closed status from one that is neither.
    Resolved,
    /// It left a resolved or closed status for one that is neither.
    Reopened {
        /// Who reopened it.
        by: Who,
    },
    /// The customer wrote (a mail or a comment of a person, after the
    /// ticket was opened).
    CustomerWrote,
    /// It entered a closed status.
    Closed,
    /// Someone began to hold it.
    Assigned {
        /// Who.
        agent: String,
    },
    /// Someone stopped holding it.
    Unassigned {
        /// Who.
        agent: String,
    },
    /// Its line changed.
    LineChanged {
        /// The line before.
        from: Option<u8>,
        /// The line after.
        to: Option<u8>,
    },
    /// A component was added.
    ComponentAdded {
        /// Which.
        component: String,
    },
    /// A component was removed.
    ComponentRemoved {
        /// Which.
        component: String,
    },
    /// Another field reports group by changed (priority, tags, a
    /// `select` custom field).
    Regrouped,
    /// An SLA timer started, was met, warned, breached, stopped or
    /// retargeted.
    Sla {
        /// The metric (`first_response`, ...).
        metric: String,
        /// The rule in force.
        rule: String,
        /// What happened to it.
        event: SlaEventKind,
    },
    /// The requester rated the help (`rating_received`); a later rating
    /// replaces it.
    Rated {
        /// Their score.
        score: Score,
    },
    /// An agent rated line 2's help on an escalation; a later rating of
    /// the same escalation replaces it.
    EscalationRated {
        /// The escalation (its line change's entry).
        escalation: u64,
        /// The line-2 agent rated.
        agent: String,
        /// The score.
        score: Score,
    },
}

/// One metric event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Which ticket.
    pub ticket: TicketKey,
    /// The timeline entry it comes from (its `seq`).
    pub entry: u64,
    /// What.
    #[serde(flatten)]
    pub kind: MetricKind,
    /// The ticket's dimensions just after.
    pub dims: Dimensions,
}

/// The fields the timeline records changes of.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    status: String,
    line: Option<u8>,
    priority: String,
    components: Vec<String>,
    assignee: Option<String>,
    tags: Vec<String>,
    /// Each `select` custom field of the queue, with its value.
    custom: BTreeMap<String, Option<String>>,
}

/// A custom field's value as report text (`None`: no value).
fn custom_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A JSON array of strings (anything else: empty).
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl State {
    fn of(ticket: &Ticket, selects: &BTreeSet<&str>) -> Self {
        Self {
            status: ticket.status.clone(),
            line: ticket.line,
            priority: ticket.priority.clone(),
            components: ticket.components.clone(),
            assignee: ticket.assignee.clone(),
            tags: ticket.tags.clone(),
            custom: selects
                .iter()
                .map(|id| {
                    let value = ticket.custom_fields.get(*id).and_then(custom_text);
                    ((*id).to_owned(), value)
                })
                .collect(),
        }
    }

    /// Sets `field` to `value` (a field reports do not follow: nothing).
    fn set(&mut self, field: &str, value: &Value) {
        match field {
            "status" => self.status = value.as_str().unwrap_or_default().to_owned(),
            "line" => self.line = value.as_u64().and_then(|l| u8::try_from(l).ok()),
            "priority" => self.priority = value.as_str().unwrap_or_default().to_owned(),
            "components" => self.components = strings(value),
            "tags" => self.tags = strings(value),
            "assignee" => self.assignee = value.as_str().map(str::to_owned),
            other => {
                if let Some(id) = other.strip_prefix("custom_fields.")
                    && let Some(slot) = self.custom.get_mut(id)
                {
                    *slot = custom_text(value);
                }
            }
        }
    }
}

impl State {
    /// Whether `after` groups the ticket otherwise than `self` by a field
    /// that has no event of its own (priority, tags, `select` fields).
    fn regroups(&self, after: &State) -> bool {
        self.priority != after.priority || self.tags != after.tags || self.custom != after.custom
    }
}

/// The ticket's state when it was opened: now, with every recorded change
/// undone, newest first.
fn initial_state(ticket: &Ticket, selects: &BTreeSet<&str>, timeline: &[TimelineEntry]) -> State {
    let mut state = State::of(ticket, selects);
    for entry in timeline.iter().rev() {
        if let TimelineEvent::FieldChanged { field, old, .. } = &entry.event {
            state.set(field, old);
        }
    }
    state
}

/// The category of `status` in the ticket's queue (`Open` when the
/// configuration no longer has it: counted as not done).
fn category(config: &Config, queue: &QueueKey, status: &str) -> StatusCategory {
    config
        .queues
        .get(queue)
        .and_then(|q| q.category_of(status))
        .unwrap_or(StatusCategory::Open)
}

/// The ids of the `select` custom fields of `queue`: the custom fields
/// reports group by (a free-text field would make a group per ticket).
pub fn select_fields<'a>(config: &'a Config, queue: &QueueKey) -> BTreeSet<&'a str> {
    config
        .queues
        .get(queue)
        .map(|q| {
            q.custom_fields
                .iter()
                .filter(|(_, f)| f.field_type == CustomFieldType::Select)
                .map(|(id, _)| id.as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The metric events of `ticket` (as it is now) and its whole `timeline`,
/// in timeline order.
pub fn metric_events(
    config: &Config,
    ticket: &Ticket,
    timeline: &[TimelineEntry],
) -> Vec<MetricEvent> {
    let selects = select_fields(config, &ticket.queue);
    let mut replay = Replay {
        config,
        ticket,
        state: initial_state(ticket, &selects, timeline),
        entered: ticket.created_at,
        answered: false,
        seq: 0,
        out: Vec::new(),
    };
    let version = |entry: &TimelineEntry| entry.seq / ENTRIES_PER_VERSION;
    for write in timeline.chunk_by(|a, b| version(a) == version(b)) {
        replay.write(write);
    }
    replay.out
}

/// The forward replay of one ticket's timeline.
struct Replay<'a> {
    config: &'a Config,
    ticket: &'a Ticket,
    state: State,
    /// When the current status was entered.
    entered: DateTime<Utc>,
    /// Whether an agent has answered publicly yet.
    answered: bool,
    /// The entry being replayed.
    seq: u64,
    out: Vec<MetricEvent>,
}

/// Whether `entry` is a person outside the team writing to the ticket.
fn customer_wrote(entry: &TimelineEntry) -> bool {
    match (&entry.actor, &entry.event) {
        (Actor::Customer { .. }, TimelineEvent::Comment { public: true, .. }) => true,
        (Actor::Customer { .. }, TimelineEvent::EmailIn { automatic, .. }) => automatic.is_empty(),
        _ => false,
    }
}

/// The fields whose change a write tells once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Told {
    Status,
    Assignee,
    Line,
    Components,
    /// Any other field (told once, as a regrouping, when one it changed
    /// is a field reports group by).
    Other,
}

impl Told {
    fn of(field: &str) -> Self {
        match field {
            "status" => Self::Status,
            "assignee" => Self::Assignee,
            "line" => Self::Line,
            "components" => Self::Components,
            _ => Self::Other,
        }
    }
}

impl Replay<'_> {
    fn emit(&mut self, at: DateTime<Utc>, kind: MetricKind) {
        let state = &self.state;
        let dims = Dimensions {
            queue: self.ticket.queue.clone(),
            channel: self.ticket.channel,
            status: state.status.clone(),
            line: state.line,
            priority: state.priority.clone(),
            components: state.components.clone(),
            assignee: state.assignee.clone(),
            organization: self.ticket.requester.organization.clone(),
            tags: state.tags.clone(),
            custom: state
                .custom
                .iter()
                .filter_map(|(id, v)| Some((id.clone(), v.clone()?)))
                .collect(),
        };
        self.out.push(MetricEvent {
            at,
            ticket: self.ticket.key.clone(),
            entry: self.seq,
            kind,
            dims,
        });
    }

    fn category(&self, status: &str) -> StatusCategory {
        category(self.config, &self.ticket.queue, status)
    }

    /// Replays the entries of one write: its field changes first, then
    /// each entry's events in order, with the state the write left.
    fn write(&mut self, entries: &[TimelineEntry]) {
        let before = self.state.clone();
        for entry in entries {
            if let TimelineEvent::FieldChanged { field, new, .. } = &entry.event {
                self.state.set(field, new);
            }
        }
        let mut told = BTreeSet::new();
        for entry in entries {
            self.seq = entry.seq;
            match &entry.event {
                TimelineEvent::FieldChanged { field, .. } => {
                    let field = Told::of(field);
                    if told.insert(field) {
                        self.changed(entry.at, field, &before, Who::of(&entry.actor));
                    }
                }
                _ => self.entry(entry),
            }
        }
    }

    fn entry(&mut self, entry: &TimelineEntry) {
        let at = entry.at;
        match &entry.event {
            TimelineEvent::Created { .. } => self.created(at),
            TimelineEvent::Comment { public: true, .. }
                if matches!(entry.actor, Actor::Agent { .. }) =>
            {
                if let Actor::Agent { login, .. } = &entry.actor {
                    let first = !self.answered;
                    self.answered = true;
                    let agent = login.clone();
                    self.emit(at, MetricKind::Answered { agent, first });
                }
            }
            TimelineEvent::Sla {
                metric,
                rule,
                event,
                ..
            } if !matches!(event, SlaEventKind::Paused | SlaEventKind::Resumed) => {
                let kind = MetricKind::Sla {
                    metric: metric.clone(),
                    rule: rule.clone(),
                    event: *event,
                };
                self.emit(at, kind);
            }
            TimelineEvent::Rated { score, .. } => {
                self.emit(at, MetricKind::Rated { score: *score });
            }
            TimelineEvent::EscalationRated {
                escalation,
                agent,
                score,
                ..
            } => {
                let kind = MetricKind::EscalationRated {
                    escalation: *escalation,
                    agent: agent.clone(),
                    score: *score,
                };
                self.emit(at, kind);
            }
            _ if customer_wrote(entry) && at > self.ticket.created_at => {
                self.emit(at, MetricKind::CustomerWrote);
            }
            _ => {}
        }
    }

    fn created(&mut self, at: DateTime<Utc>) {
        self.entered = at;
        self.emit(at, MetricKind::Created);
        let status = self.state.status.clone();
        self.emit(
            at,
            MetricKind::StatusEntered {
                status: status.clone(),
            },
        );
        let category = self.category(&status);
        if category.is_done() {
            self.emit(at, MetricKind::Resolved);
        }
        if category == StatusCategory::Closed {
            self.emit(at, MetricKind::Closed);
        }
        if let Some(agent) = self.state.assignee.clone() {
            self.emit(at, MetricKind::Assigned { agent });
        }
        for component in self.state.components.clone() {
            self.emit(at, MetricKind::ComponentAdded { component });
        }
    }

    /// `field` changed in a write (from what it was `before` the write to
    /// what the write left).
    fn changed(&mut self, at: DateTime<Utc>, field: Told, before: &State, by: Who) {
        match field {
            Told::Status if before.status != self.state.status => {
                self.status_moved(at, &before.status, by);
            }
            Told::Assignee if before.assignee != self.state.assignee => {
                if let Some(agent) = before.assignee.clone() {
                    self.emit(at, MetricKind::Unassigned { agent });
                }
                if let Some(agent) = self.state.assignee.clone() {
                    self.emit(at, MetricKind::Assigned { agent });
                }
            }
            Told::Line if before.line != self.state.line => {
                let (from, to) = (before.line, self.state.line);
                self.emit(at, MetricKind::LineChanged { from, to });
            }
            Told::Components => {
                let was: BTreeSet<&String> = before.components.iter().collect();
                let is: BTreeSet<&String> = self.state.components.iter().collect();
                let added: Vec<String> = is.difference(&was).map(|c| (*c).clone()).collect();
                let removed: Vec<String> = was.difference(&is).map(|c| (*c).clone()).collect();
                for component in added {
                    self.emit(at, MetricKind::ComponentAdded { component });
                }
                for component in removed {
                    self.emit(at, MetricKind::ComponentRemoved { component });
                }
            }
            Told::Other if before.regroups(&self.state) => self.emit(at, MetricKind::Regrouped),
            _ => {}
        }
    }

    fn status_moved(&mut self, at: DateTime<Utc>, old: &str, by: Who) {
        let seconds = (at - self.entered).num_seconds();
        self.entered = at;
        self.emit(
            at,
            MetricKind::StatusLeft {
                status: old.to_owned(),
                seconds,
            },
        );
        let new = self.state.status.clone();
        self.emit(
            at,
            MetricKind::StatusEntered {
                status: new.clone(),
            },
        );
        let (was, is) = (self.category(old), self.category(&new));
        match (was.is_done(), is.is_done()) {
            (false, true) => self.emit(at, MetricKind::Resolved),
            (true, false) => self.emit(at, MetricKind::Reopened { by }),
            _ => {}
        }
        if is == StatusCategory::Closed && was != StatusCategory::Closed {
            self.emit(at, MetricKind::Closed);
        }
    }
}
