//! The timers as a fold over the timeline (pure): [`fold`] takes a ticket
//! as stored (with its [`SlaState`]) and the timeline entries written after
//! the version the state accounts for, and answers the new state and the
//! metric events, each at the exact instant it happened.
//!
//! 1. The ticket's fields as of the state's version are the ones the state
//!    kept; the first time (nothing kept yet) they are rebuilt from the
//!    stored ticket by undoing the `field_changed` entries that follow.
//! 2. Entries are taken one write (version) at a time, at the write's
//!    instant: first every warning or breach that fell due strictly before
//!    it is recorded at its own instant, then the write's fields are
//!    applied and its events (created, team answer, customer reply, status
//!    or assignee changes) start, pause, resume, retarget or stop timers.
//! 3. A field change that no entry records (a writer that kept none) is
//!    applied at the ticket's `updated_at`.
//! 4. Warnings and breaches due at or before `now` are recorded.
//!
//! Folding is deterministic: the same ticket, entries and `now` give the
//! same answer, so a fold that is not written can simply be done again, and
//! the tracker (on every change) and the checker (every minute) can both
//! fold without coordinating beyond the ticket's version.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::model::{Condition, SlaRule, Word};
use crate::calendar::{Calendar, TimeZone};
use crate::config::{Queue, StatusCategory};
use crate::domain::{
    Actor, SlaEventKind, SlaFields, SlaState, SlaTimer, Ticket, TimelineEntry, TimelineEvent,
    TimerState,
};
use crate::triggers::field::set_json;

/// What a fold needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The queue (its team and status categories).
    pub queue: &'a Queue,
    /// Its SLA rules, in order.
    pub rules: &'a [SlaRule],
    /// The built calendars by name.
    pub calendars: &'a BTreeMap<String, Calendar>,
}

/// One metric event a fold produced.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The timeline event (always [`TimelineEvent::Sla`]).
    pub event: TimelineEvent,
}

/// The result of a fold.
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    /// The new state; `seen_version` is the ticket's version.
    pub state: SlaState,
    /// Metric events in time order.
    pub events: Vec<MetricEvent>,
}

impl Folded {
    /// Whether the fold changed anything worth writing: a timer, or an
    /// event to record (reading further alone is not).
    pub fn changes(&self, stored: &SlaState) -> bool {
        !self.events.is_empty() || self.state.timers != stored.timers
    }
}

/// What happened in one write, as the conditions see it.
#[derive(Debug, Default)]
struct Happened {
    created: bool,
    team_answer: bool,
    customer_reply: bool,
}

/// Folds `entries` (every entry of versions after
/// `ticket.sla.seen_version`, in order) into the ticket's SLA state.
pub fn fold(
    rules: Rules<'_>,
    ticket: &Ticket,
    entries: &[TimelineEntry],
    now: DateTime<Utc>,
) -> Folded {
    let mut run = Run {
        rules,
        timers: ticket.sla.timers.clone(),
        events: Vec::new(),
    };
    let mut fields = fields_before(ticket, entries);
    let mut first_write = ticket.sla.seen_version == 0;
    let mut rest = entries;
    while let Some(first) = rest.first() {
        let version = first.seq / crate::domain::ticket::ENTRIES_PER_VERSION;
        let split = rest
            .iter()
            .position(|e| e.seq / crate::domain::ticket::ENTRIES_PER_VERSION != version)
            .unwrap_or(rest.len());
        let (write, later) = rest.split_at(split);
        rest = later;
        let write: Vec<&TimelineEntry> = write
            .iter()
            .filter(|e| !matches!(e.event, TimelineEvent::Sla { .. }))
            .collect();
        let Some(at) = write.first().map(|e| e.at) else {
            continue;
        };
        run.catch_up(at, false);
        let before = fields.clone();
        for entry in &write {
            if let TimelineEvent::FieldChanged { field, new, .. } = &entry.event {
                let _ = set_json(&mut fields, field, new);
            }
        }
        let happened = happened(rules.queue, &write);
        let was = if happened.created || first_write {
            None
        } else {
            Some(&before)
        };
        first_write = false;
        run.transition(was, &fields, &happened, at);
    }
    if !same_fields(&fields, ticket) {
        let before = fields.clone();
        run.transition(
            Some(&before),
            ticket,
            &Happened::default(),
            ticket.updated_at.max(run.last_instant()),
        );
    }
    run.catch_up(now, true);
    run.events.sort_by_key(|e| e.at);
    Folded {
        state: SlaState {
            timers: run.timers,
            seen_version: ticket.version,
            fields: Some(kept(ticket)),
        },
        events: run.events,
    }
}

/// Business time left on `timer` at `now` (negative when past the limit).
pub fn business_left(
    timer: &SlaTimer,
    calendars: &BTreeMap<String, Calendar>,
    now: DateTime<Utc>,
) -> Duration {
    let spent = spent_at(timer, &calendar_of(calendars, &timer.calendar), now);
    Duration::microseconds(timer.limit_us) - spent
}

/// Business time `timer` has spent at `now`.
fn spent_at(timer: &SlaTimer, calendar: &Calendar, now: DateTime<Utc>) -> Duration {
    let running = timer
        .running_since
        .filter(|_| timer.state == TimerState::Running)
        .map_or(Duration::zero(), |since| {
            calendar.elapsed(since, now.max(since))
        });
    Duration::microseconds(timer.spent_us) + running
}

/// The calendar called `name`, or around the clock in UTC when the
/// configuration no longer has it (a timer keeps counting rather than
/// freezing silently).
fn calendar_of(calendars: &BTreeMap<String, Calendar>, name: &str) -> Calendar {
    calendars
        .get(name)
        .cloned()
        .unwrap_or_else(|| Calendar::always_open(TimeZone::UTC))
}

/// The ticket's fields as of the state's version: those the state kept,
/// else the stored ticket with every later field change undone.
fn fields_before(ticket: &Ticket, entries: &[TimelineEntry]) -> Ticket {
    let mut fields = ticket.clone();
    fields.sla = SlaState::default();
    if let Some(kept) = &ticket.sla.fields {
        fields.status.clone_from(&kept.status);
        fields.priority.clone_from(&kept.priority);
        fields.line = kept.line;
        fields.components.clone_from(&kept.components);
        fields.assignee.clone_from(&kept.assignee);
        fields.custom_fields.clone_from(&kept.custom_fields);
        return fields;
    }
    for entry in entries.iter().rev() {
        if let TimelineEvent::FieldChanged { field, old, .. } = &entry.event {
            let _ = set_json(&mut fields, field, old);
        }
    }
    fields
}

/// The fields a state keeps.
fn kept(ticket: &Ticket) -> SlaFields {
    SlaFields {
        status: ticket.status.clone(),
        priority: ticket.priority.clone(),
        line: ticket.line,
        components: ticket.components.clone(),
        assignee: ticket.assignee.clone(),
        custom_fields: ticket.custom_fields.clone(),
    }
}

/// Whether the fields the rules look at are the same.
fn same_fields(a: &Ticket, b: &Ticket) -> bool {
    a.status == b.status
        && a.priority == b.priority
        && a.line == b.line
        && a.components == b.components
        && a.assignee == b.assignee
        && a.custom_fields == b.custom_fields
}

fn happened(queue: &Queue, write: &[&TimelineEntry]) -> Happened {
    let mut happened = Happened::default();
    let in_team =
        |login: &str| queue.team.is_empty() || queue.team.iter().any(|t| t.value == login);
    for entry in write {
        match (&entry.event, &entry.actor) {
            (TimelineEvent::Created { .. }, _) => happened.created = true,
            (TimelineEvent::Comment { public: true, .. }, Actor::Agent { login, .. })
                if in_team(login) =>
            {
                happened.team_answer = true;
            }
            (
                TimelineEvent::EmailOut {
                    automatic: false, ..
                },
                Actor::Agent { login, .. },
            ) if in_team(login) => {
                happened.team_answer = true;
            }
            (TimelineEvent::Comment { public: true, .. }, Actor::Customer { .. }) => {
                happened.customer_reply = true;
            }
            (TimelineEvent::EmailIn { automatic, .. }, Actor::Customer { .. })
                if automatic.is_empty() =>
            {
                happened.customer_reply = true;
            }
            _ => {}
        }
    }
    // The mail that opened the ticket is not a reply.
    if happened.created {
        happened.customer_reply = false;
    }
    happened
}

/// Whether a state condition holds for `ticket`.
fn holds(queue: &Queue, condition: &Condition, ticket: &Ticket) -> bool {
    let category = || {
        queue
            .statuses
            .iter()
            .find(|s| s.name == ticket.status)
            .map(|s| s.category)
    };
    match condition {
        Condition::Status { status } => status.iter().any(|s| s == &ticket.status),
        Condition::Word(Word::Resolved) => matches!(
            category(),
            Some(StatusCategory::Resolved | StatusCategory::Closed)
        ),
        Condition::Word(Word::Waiting) => category() == Some(StatusCategory::Waiting),
        Condition::Word(Word::Assigned) => ticket.assignee.is_some(),
        Condition::Word(Word::Created | Word::TeamAnswer | Word::CustomerReply) => false,
    }
}

/// Whether an event condition fired in a write that took the fields from
/// `before` (none: the ticket was created) to `after`.
fn fired(
    queue: &Queue,
    condition: &Condition,
    before: Option<&Ticket>,
    after: &Ticket,
    happened: &Happened,
) -> bool {
    match condition {
        Condition::Word(Word::Created) => happened.created,
        Condition::Word(Word::TeamAnswer) => happened.team_answer,
        Condition::Word(Word::CustomerReply) => happened.customer_reply,
        state => holds(queue, state, after) && !before.is_some_and(|b| holds(queue, state, b)),
    }
}

fn micros(d: Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

fn seconds(us: i64) -> i64 {
    us.div_euclid(1_000_000)
}

struct Run<'a> {
    rules: Rules<'a>,
    timers: Vec<SlaTimer>,
    events: Vec<MetricEvent>,
}

impl Run<'_> {
    fn last_instant(&self) -> DateTime<Utc> {
        self.events
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    fn record(&mut self, index: usize, kind: SlaEventKind, at: DateTime<Utc>, spent_us: i64) {
        let timer = &self.timers[index];
        self.events.push(MetricEvent {
            at,
            event: TimelineEvent::Sla {
                metric: timer.metric.clone(),
                rule: timer.rule.clone(),
                event: kind,
                cycle: timer.cycle,
                business_seconds: seconds(spent_us),
                deadline: timer.deadline,
            },
        });
    }

    /// Records every warning and breach of a running timer due before `at`
    /// (or at `at`, when `inclusive`).
    fn catch_up(&mut self, at: DateTime<Utc>, inclusive: bool) {
        let due = |t: DateTime<Utc>| t < at || (inclusive && t == at);
        for index in 0..self.timers.len() {
            let timer = &self.timers[index];
            if timer.state != TimerState::Running {
                continue;
            }
            let mut alerts = Vec::new();
            if let (false, Some(warn_at), Some(warning)) =
                (timer.warned, timer.warn_at, timer.warning_us)
                && due(warn_at)
            {
                alerts.push((warn_at, SlaEventKind::Warned, warning));
            }
            if let (false, Some(deadline)) = (timer.breached, timer.deadline)
                && due(deadline)
            {
                alerts.push((deadline, SlaEventKind::Breached, timer.limit_us));
            }
            for (when, kind, spent) in alerts {
                let timer = &mut self.timers[index];
                match kind {
                    SlaEventKind::Warned => {
                        timer.warned = true;
                        timer.warn_at = None;
                    }
                    _ => timer.breached = true,
                }
                self.record(index, kind, when, spent.max(0));
            }
        }
    }

    /// Applies one write to every metric's timer.
    fn transition(
        &mut self,
        before: Option<&Ticket>,
        after: &Ticket,
        happened: &Happened,
        at: DateTime<Utc>,
    ) {
        let rules = self.rules;
        let mut metrics: Vec<String> = Vec::new();
        for rule in rules.rules {
            let metric = rule.metric();
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
        }
        for metric in metrics {
            let rule = rules
                .rules
                .iter()
                .find(|r| r.metric() == metric && r.when.matches(after));
            let target = rule.and_then(|r| r.target_for(after).map(|t| (r, t)));
            let index = self.timers.iter().position(|t| t.metric == metric);
            let any = |conds: &[Condition]| {
                conds
                    .iter()
                    .any(|c| fired(rules.queue, c, before, after, happened))
            };
            let paused = |rule: &SlaRule| rule.pause.iter().any(|c| holds(rules.queue, c, after));
            match (index, target) {
                (None, Some((rule, target))) if any(&rule.start) => {
                    self.timers.push(new_timer(&metric, rule, target, 1, at));
                    let index = self.timers.len() - 1;
                    self.arm(index, at);
                    self.record(index, SlaEventKind::Started, at, 0);
                    if paused(rule) {
                        self.pause(index, at);
                    }
                }
                (None, _) => {}
                (Some(index), target) => {
                    let stopped = self.timers[index].state.is_stopped();
                    match target {
                        Some((rule, _)) if !stopped && any(&rule.stop) => self.stop(index, at),
                        Some((rule, target)) if !stopped => {
                            self.retarget(index, rule, target, at);
                            let running = self.timers[index].state == TimerState::Running;
                            if running && paused(rule) {
                                self.pause(index, at);
                            } else if !running && !paused(rule) {
                                self.resume(index, at);
                            }
                        }
                        None if !stopped && self.timers[index].state == TimerState::Running => {
                            // No rule covers the ticket now: the clock stops,
                            // keeping what was spent, until one does again.
                            self.pause(index, at);
                        }
                        _ => {}
                    }
                    if let Some((rule, target)) = target
                        && self.timers[index].state.is_stopped()
                        && self.timers[index].stopped_at != Some(at)
                        && any(&rule.start)
                    {
                        let cycle = self.timers[index].cycle + 1;
                        self.timers[index] = new_timer(&metric, rule, target, cycle, at);
                        self.arm(index, at);
                        self.record(index, SlaEventKind::Started, at, 0);
                        if paused(rule) {
                            self.pause(index, at);
                        }
                    }
                }
            }
        }
    }

    fn calendar(&self, index: usize) -> Calendar {
        calendar_of(self.rules.calendars, &self.timers[index].calendar)
    }

    /// Sets the deadline and warning instant of a running timer.
    fn arm(&mut self, index: usize, since: DateTime<Utc>) {
        let calendar = self.calendar(index);
        let timer = &mut self.timers[index];
        timer.state = TimerState::Running;
        timer.running_since = Some(since);
        timer.deadline = Some(calendar.add(
            since,
            Duration::microseconds(timer.limit_us - timer.spent_us),
        ));
        timer.warn_at = match (timer.warned, timer.warning_us) {
            (false, Some(warning)) => {
                Some(calendar.add(since, Duration::microseconds(warning - timer.spent_us)))
            }
            _ => None,
        };
    }

    /// Adds the time run so far to `spent_us` and stops the clock.
    fn settle(&mut self, index: usize, at: DateTime<Utc>) -> i64 {
        let calendar = self.calendar(index);
        let timer = &mut self.timers[index];
        timer.spent_us = micros(spent_at(timer, &calendar, at));
        timer.running_since = None;
        timer.deadline = None;
        timer.warn_at = None;
        timer.spent_us
    }

    fn pause(&mut self, index: usize, at: DateTime<Utc>) {
        let spent = self.settle(index, at);
        self.timers[index].state = TimerState::Paused;
        self.record(index, SlaEventKind::Paused, at, spent);
    }

    fn resume(&mut self, index: usize, at: DateTime<Utc>) {
        self.arm(index, at);
        let spent = self.timers[index].spent_us;
        self.record(index, SlaEventKind::Resumed, at, spent);
    }

    fn stop(&mut self, index: usize, at: DateTime<Utc>) {
        let spent = self.settle(index, at);
        let timer = &mut self.timers[index];
        timer.stopped_at = Some(at);
        let (state, kind) = if spent <= timer.limit_us && !timer.breached {
            (TimerState::Met, SlaEventKind::Met)
        } else {
            (TimerState::Breached, SlaEventKind::Stopped)
        };
        timer.state = state;
        self.record(index, kind, at, spent);
    }

    /// Moves a timer to another rule or target (priority changed, the
    /// ticket now matches another rule of the metric); time spent is kept.
    fn retarget(
        &mut self,
        index: usize,
        rule: &SlaRule,
        target: &super::model::Target,
        at: DateTime<Utc>,
    ) {
        let limit_us = micros(target.limit.chrono());
        let warning_us = target.warning.map(|w| micros(w.chrono()));
        let timer = &self.timers[index];
        if timer.rule == rule.name.value
            && timer.calendar == rule.calendar.value
            && timer.limit_us == limit_us
            && timer.warning_us == warning_us
        {
            return;
        }
        let running = timer.state == TimerState::Running;
        if running {
            self.settle(index, at);
        }
        let timer = &mut self.timers[index];
        timer.rule.clone_from(&rule.name.value);
        timer.calendar.clone_from(&rule.calendar.value);
        timer.limit_us = limit_us;
        timer.warning_us = warning_us;
        let spent = timer.spent_us;
        if running {
            self.arm(index, at);
        }
        self.record(index, SlaEventKind::Retargeted, at, spent);
    }
}

fn new_timer(
    metric: &str,
    rule: &SlaRule,
    target: &super::model::Target,
    cycle: u32,
    at: DateTime<Utc>,
) -> SlaTimer {
    SlaTimer {
        metric: metric.to_owned(),
        rule: rule.name.value.clone(),
        calendar: rule.calendar.value.clone(),
        state: TimerState::Running,
        cycle,
        started_at: at,
        running_since: Some(at),
        spent_us: 0,
        limit_us: micros(target.limit.chrono()),
        warning_us: target.warning.map(|w| micros(w.chrono())),
        deadline: None,
        warn_at: None,
        warned: false,
        breached: false,
        stopped_at: None,
    }
}
