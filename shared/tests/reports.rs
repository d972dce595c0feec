//! Reports against a brute-force recomputation from the timelines: random
//! ticket histories (openings, status moves by agents, customers and
//! triggers, reopens, answers, customer messages, assignments, line
//! changes, SLA timers) around the daylight-saving changes of
//! Europe/Berlin, and every figure of every report checked against
//! counting the timelines directly, in another way (chrono-tz days, each
//! field at each instant read off the entries).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Europe::Berlin;
use helpdesk::calendar::TimeZone;
use helpdesk::config::Config;
use helpdesk::domain::ticket::entry_seq;
use helpdesk::domain::{Actor, Channel, QueueKey, Ticket, TicketKey, TimelineEntry, TimelineEvent};
use helpdesk::domain::{Rating, Score, SlaEventKind};
use helpdesk::reports::metrics::metric_events;
use helpdesk::reports::tally::{Entry, Key, Tally, add, entries, tally};
use helpdesk::reports::volume::{VolumeRow, volume};
use helpdesk::reports::{DateRange, Period};
use helpdesk::tickets::{TicketDraft, build_ticket};
use proptest::prelude::*;

fn config() -> Config {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/helpdesk.yaml");
    helpdesk::config::load(std::path::Path::new(path)).unwrap()
}

const STATUSES: &[&str] = &[
    "New",
    "Open",
    "First line",
    "Second line",
    "In progress",
    "Need info",
    "Resolved",
    "Closed",
];

/// Who moves a status.
#[derive(Debug, Clone, Copy)]
enum By {
    Agent,
    Customer,
    Trigger,
}

/// One step of a history: after `minutes`, this happens.
#[derive(Debug, Clone)]
enum Step {
    Status(usize, By),
    Assign(Option<&'static str>),
    Answer(&'static str),
    Customer,
    Line(Option<u8>),
    Sla(&'static str, &'static str, SlaEventKind),
    Rate(Score),
    RateLine2(Score),
}

const AGENTS: [&str; 2] = ["anna", "boris"];

fn step() -> impl Strategy<Value = (i64, Step)> {
    (
        // Whole hours often, so that changes fall on midnight exactly;
        // no time at all for a change made in the same write as the last.
        prop_oneof![
            Just(0_i64),
            1_i64..4_000,
            (1_i64..72).prop_map(|h| h * 60),
            (1_i64..5).prop_map(|d| d * 24 * 60),
        ],
        prop_oneof![
            4 => (
                0..STATUSES.len(),
                prop::sample::select(vec![By::Agent, By::Agent, By::Customer, By::Trigger])
            )
                .prop_map(|(i, by)| Step::Status(i, by)),
            1 => prop::option::of(prop::sample::select(AGENTS.to_vec())).prop_map(Step::Assign),
            2 => prop::sample::select(AGENTS.to_vec()).prop_map(Step::Answer),
            1 => Just(Step::Customer),
            1 => prop::option::of(1_u8..=3).prop_map(Step::Line),
            1 => prop::sample::select(vec![Score::Good, Score::Bad, Score::Stars(2), Score::Stars(5)])
                .prop_map(Step::Rate),
            1 => prop::sample::select(vec![Score::Good, Score::Bad])
                .prop_map(Step::RateLine2),
            2 => (
                prop::sample::select(vec!["first_response", "resolution"]),
                prop::sample::select(vec!["Fast", "Slow"]),
                prop::sample::select(vec![
                    SlaEventKind::Started,
                    SlaEventKind::Met,
                    SlaEventKind::Breached,
                    SlaEventKind::Stopped,
                    SlaEventKind::Retargeted,
                    SlaEventKind::Warned,
                    SlaEventKind::Paused,
                ]),
            )
                .prop_map(|(metric, rule, event)| Step::Sla(metric, rule, event)),
        ],
    )
}

/// A ticket's history: when it opens (minutes after the window's start)
/// and its steps.
fn history() -> impl Strategy<Value = (i64, Vec<(i64, Step)>)> {
    (
        prop_oneof![
            0_i64..60 * 24 * 70,
            (0_i64..24 * 70).prop_map(|h| h * 60),
            (0_i64..70).prop_map(|d| d * 24 * 60),
        ],
        prop::collection::vec(step(), 0..16),
    )
}

/// The window's start: midnight in Berlin, a month before the spring
/// change of 2026.
fn window_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 24, 23, 0, 0)
        .single()
        .unwrap()
}

impl Step {
    /// What a step writes, for telling whether it can share a write with
    /// others (one change of each field, one answer, one SLA event; a
    /// customer's message is a write of its own).
    fn writes(&self) -> Option<&'static str> {
        match self {
            Step::Status(..) => Some("status"),
            Step::Assign(_) => Some("assignee"),
            Step::Line(_) => Some("line"),
            Step::Answer(_) => Some("answer"),
            Step::Sla(..) => Some("sla"),
            Step::Rate(_) => Some("rating"),
            Step::RateLine2(_) => Some("line2-rating"),
            Step::Customer => None,
        }
    }
}

/// The ticket and its timeline after `steps` (a step after no time joins
/// the write of the step before it, when it can).
fn build(
    config: &Config,
    number: u64,
    opened: i64,
    steps: &[(i64, Step)],
) -> (Ticket, Vec<TimelineEntry>) {
    let queue = QueueKey::parse("SUP").unwrap();
    let key = TicketKey::new(queue.clone(), number);
    let at = window_start() + Duration::minutes(opened);
    let draft = TicketDraft {
        queue,
        summary: format!("ticket {number}"),
        description: String::new(),
        priority: None,
        line: None,
        components: Vec::new(),
        tags: Vec::new(),
        assignee: None,
        requester_email: None,
        requester_name: Some("Someone".into()),
        requester_phone: None,
        channel: Channel::Email,
        custom_fields: Default::default(),
    };
    let mut ticket = build_ticket(config, key.clone(), draft, None, at).unwrap();
    let mut timeline = vec![TimelineEntry {
        ticket: key.clone(),
        seq: entry_seq(1, 0),
        at,
        actor: Actor::System,
        event: TimelineEvent::Created {
            channel: Channel::Email,
        },
    }];
    let mut now = at;
    let mut index = 0;
    // The latest line change (the escalation a line-2 rating names).
    let mut escalation = None;
    let mut written: Vec<&str> = Vec::new();
    for (minutes, step) in steps {
        let joins = *minutes == 0
            && ticket.version > 1
            && step.writes().is_some_and(|w| !written.contains(&w))
            && !written.is_empty();
        if joins {
            index += 1;
        } else {
            now += Duration::minutes((*minutes).max(1));
            ticket.version += 1;
            index = 0;
            written.clear();
        }
        written.extend(step.writes());
        let agent = |login: &str| Actor::Agent {
            login: login.into(),
            via: None,
        };
        let (actor, event) = match step {
            Step::Status(i, by) => {
                let old = std::mem::replace(&mut ticket.status, STATUSES[*i].to_owned());
                let actor = match by {
                    By::Agent => agent("anna"),
                    By::Customer => Actor::Customer {
                        email: "someone@example.com".parse().unwrap(),
                    },
                    By::Trigger => Actor::Trigger {
                        name: "a rule".into(),
                    },
                };
                let event = TimelineEvent::FieldChanged {
                    field: "status".into(),
                    old: old.into(),
                    new: ticket.status.clone().into(),
                };
                (actor, event)
            }
            Step::Assign(who) => {
                let old = std::mem::replace(&mut ticket.assignee, who.map(str::to_owned));
                let event = TimelineEvent::FieldChanged {
                    field: "assignee".into(),
                    old: serde_json::json!(old),
                    new: serde_json::json!(ticket.assignee),
                };
                (agent("anna"), event)
            }
            Step::Line(line) => {
                escalation = Some(entry_seq(ticket.version, index));
                let old = std::mem::replace(&mut ticket.line, *line);
                let event = TimelineEvent::FieldChanged {
                    field: "line".into(),
                    old: serde_json::json!(old),
                    new: serde_json::json!(line),
                };
                (agent("anna"), event)
            }
            Step::Answer(who) => {
                let event = TimelineEvent::Comment {
                    public: true,
                    body: "answer".into(),
                    body_blob: None,
                };
                (agent(who), event)
            }
            Step::Customer => {
                let actor = Actor::Customer {
                    email: "someone@example.com".parse().unwrap(),
                };
                let event = TimelineEvent::Comment {
                    public: true,
                    body: "more".into(),
                    body_blob: None,
                };
                (actor, event)
            }
            Step::Rate(score) => {
                let previous = ticket.satisfaction.rating.as_ref().map(|r| r.score);
                ticket.satisfaction.rating = Some(Rating {
                    score: *score,
                    comment: None,
                    at: now,
                });
                let actor = Actor::Customer {
                    email: "someone@example.com".parse().unwrap(),
                };
                let event = TimelineEvent::Rated {
                    score: *score,
                    comment: None,
                    previous,
                };
                (actor, event)
            }
            Step::RateLine2(score) => {
                let event = TimelineEvent::EscalationRated {
                    escalation: escalation.unwrap_or(0),
                    agent: ticket.assignee.clone().unwrap_or_else(|| "carla".into()),
                    score: *score,
                    comment: None,
                    previous: None,
                };
                (agent("anna"), event)
            }
            Step::Sla(metric, rule, kind) => {
                let event = TimelineEvent::Sla {
                    metric: (*metric).into(),
                    rule: (*rule).into(),
                    event: *kind,
                    cycle: 1,
                    business_seconds: 0,
                    deadline: None,
                };
                (Actor::System, event)
            }
        };
        timeline.push(TimelineEntry {
            ticket: key.clone(),
            seq: entry_seq(ticket.version, index),
            at: now,
            actor,
            event,
        });
    }
    ticket.updated_at = now;
    (ticket, timeline)
}

/// The tickets of `histories` and the sum of their tallies in Berlin days.
fn built(
    config: &Config,
    histories: &[(i64, Vec<(i64, Step)>)],
) -> (Vec<(Ticket, Vec<TimelineEntry>)>, Vec<Entry>) {
    let tickets: Vec<(Ticket, Vec<TimelineEntry>)> = histories
        .iter()
        .enumerate()
        .map(|(i, (opened, steps))| build(config, i as u64 + 1, *opened, steps))
        .collect();
    let mut sum = Tally::new();
    for (ticket, timeline) in &tickets {
        add(&mut sum, &tally(config, berlin(), ticket, timeline), 1);
    }
    (tickets, entries(sum))
}

fn berlin() -> TimeZone {
    TimeZone::parse("Europe/Berlin").unwrap()
}

/// The Berlin days from `from` days after the window's start, `length`
/// more.
fn berlin_range(from: i64, length: i64) -> (DateRange, TimeZone) {
    let first = berlin_day(window_start()) + Duration::days(from);
    let range = DateRange::new(first, first + Duration::days(length)).unwrap();
    (range, TimeZone::parse("Europe/Berlin").unwrap())
}

fn done(config: &Config, status: &str) -> bool {
    config.queues[&QueueKey::parse("SUP").unwrap()]
        .category_of(status)
        .unwrap()
        .is_done()
}

fn berlin_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Berlin).date_naive()
}

/// The instant a Berlin day begins (midnight exists on every day there).
fn berlin_midnight(day: NaiveDate) -> DateTime<Utc> {
    Berlin
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// The status of a ticket at `at` (just before it), read off its entries.
fn status_before(timeline: &[TimelineEntry], at: DateTime<Utc>) -> Option<String> {
    let opened = timeline.first()?.at;
    if opened >= at {
        return None;
    }
    let mut status = timeline.iter().find_map(|e| match &e.event {
        TimelineEvent::FieldChanged { field, old, .. } if field == "status" => {
            Some(old.as_str().unwrap().to_owned())
        }
        _ => None,
    });
    for entry in timeline.iter().filter(|e| e.at < at) {
        if let TimelineEvent::FieldChanged { field, new, .. } = &entry.event
            && field == "status"
        {
            status = Some(new.as_str().unwrap().to_owned());
        }
    }
    Some(status.unwrap_or_else(|| "New".to_owned()))
}

/// The report computed the slow, obvious way.
fn brute_force(
    config: &Config,
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
    period: Period,
) -> Vec<VolumeRow> {
    let mut rows = Vec::new();
    let mut start = period.start_of(range.from);
    while start <= range.to {
        let next = period.next(start);
        let (first, last) = (
            start.max(range.from),
            (next - Duration::days(1)).min(range.to),
        );
        let within = |at: DateTime<Utc>| (first..=last).contains(&berlin_day(at));
        let end = berlin_midnight(last + Duration::days(1));
        let mut row = VolumeRow {
            period: period.label(start),
            created: 0,
            resolved: 0,
            reopened: 0,
            backlog: 0,
        };
        for (ticket, timeline) in tickets {
            if within(ticket.created_at) {
                row.created += 1;
            }
            for entry in timeline {
                if let TimelineEvent::FieldChanged { field, old, new } = &entry.event
                    && field == "status"
                    && within(entry.at)
                {
                    match (
                        done(config, old.as_str().unwrap()),
                        done(config, new.as_str().unwrap()),
                    ) {
                        (false, true) => row.resolved += 1,
                        (true, false) => row.reopened += 1,
                        _ => {}
                    }
                }
            }
            if let Some(status) = status_before(timeline, end)
                && !done(config, &status)
            {
                row.backlog += 1;
            }
        }
        rows.push(row);
        start = next;
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_volume_report_matches_counting_the_timelines(
        histories in prop::collection::vec(history(), 1..12),
        from in 0_i64..80,
        length in 0_i64..70,
        period in prop::sample::select(vec![Period::Day, Period::Week, Period::Month]),
    ) {
        let config = config();
        let (tickets, tally) = built(&config, &histories);
        let (range, _) = berlin_range(from, length);
        // Every key reads back from the text the store keeps.
        for ((_, key), _) in &tally {
            prop_assert_eq!(Key::decode(&key.encode()), Some(key.clone()));
        }
        prop_assert_eq!(
            volume(&tally, range, period),
            brute_force(&config, &tickets, range, period)
        );
    }
}

#[test]
fn a_reopened_ticket_counts_once_resolved_once_reopened_and_is_in_the_backlog_again() {
    let config = config();
    let steps = [
        (60, Step::Status(6, By::Agent)),      // Resolved after an hour
        (60 * 24, Step::Status(4, By::Agent)), // reopened a day later (In progress)
        (60, Step::Answer("anna")),
    ];
    let (ticket, timeline) = build(&config, 1, 60 * 24 * 31 + 9 * 60, &steps);
    let tally = entries(tally(&config, berlin(), &ticket, &timeline));
    let day = berlin_day(ticket.created_at);
    let range = DateRange::new(day, day + Duration::days(1)).unwrap();
    let rows = volume(&tally, range, Period::Day);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[0].created,
            rows[0].resolved,
            rows[0].reopened,
            rows[0].backlog
        ),
        (1, 1, 0, 0)
    );
    assert_eq!(
        (
            rows[1].created,
            rows[1].resolved,
            rows[1].reopened,
            rows[1].backlog
        ),
        (0, 0, 1, 1)
    );
}

#[test]
fn metric_events_follow_the_timeline_with_the_dimensions_of_their_instant() {
    use helpdesk::reports::metrics::MetricKind as K;
    let config = config();
    let steps = [
        (10, Step::Assign(Some("anna"))),
        (20, Step::Answer("anna")),
        (30, Step::Line(Some(2))),
        (40, Step::Answer("anna")),
        (50, Step::Status(7, By::Agent)), // Closed
    ];
    let (ticket, timeline) = build(&config, 1, 0, &steps);
    let events = metric_events(&config, &ticket, &timeline);
    let kinds: Vec<&K> = events.iter().map(|e| &e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &K::Created,
            &K::StatusEntered {
                status: "New".into()
            },
            &K::Assigned {
                agent: "anna".into()
            },
            &K::Answered {
                agent: "anna".into(),
                first: true
            },
            &K::LineChanged {
                from: None,
                to: Some(2)
            },
            &K::Answered {
                agent: "anna".into(),
                first: false
            },
            &K::StatusLeft {
                status: "New".into(),
                seconds: 150 * 60
            },
            &K::StatusEntered {
                status: "Closed".into()
            },
            &K::Resolved,
            &K::Closed,
        ]
    );
    // Each event carries the ticket as it was then: unassigned at its
    // opening, line 2 from the line change on.
    assert_eq!(events[0].dims.assignee, None);
    assert_eq!(events[3].dims.assignee.as_deref(), Some("anna"));
    assert_eq!(events[3].dims.line, None);
    assert_eq!(events[5].dims.line, Some(2));
    assert_eq!(events[9].dims.status, "Closed");
}

#[test]
fn a_status_and_an_assignee_set_in_one_write_credit_the_new_assignee_with_the_resolution() {
    let config = config();
    // An agent takes a ticket and resolves it in one request: the status
    // change is recorded before the assignee change of the same write.
    let steps = [
        (60, Step::Status(6, By::Agent)), // Resolved
        (0, Step::Assign(Some("boris"))),
    ];
    let (ticket, timeline) = build(&config, 1, 0, &steps);
    assert_eq!(timeline[1].seq / 1000, timeline[2].seq / 1000, "one write");
    let (_, sum) = built(&config, &[(0, steps.to_vec())]);
    let day = berlin_day(timeline[1].at);
    let range = DateRange::new(day, day).unwrap();
    let rows = helpdesk::reports::agents::agents(&sum, range);
    let boris = rows.iter().find(|r| r.agent == "boris").unwrap();
    assert_eq!((boris.taken, boris.resolved), (1, 1));
    let events = metric_events(&config, &ticket, &timeline);
    assert!(
        events
            .iter()
            .filter(|e| e.entry >= timeline[1].seq)
            .all(|e| e.dims.assignee.as_deref() == Some("boris") && e.dims.status == "Resolved"),
        "every event of the write carries the ticket as the write left it: {events:#?}"
    );
}

/// The value of `field` of a ticket just after `at` (`inclusive`) or just
/// before it, read off its entries: the first change's old value before
/// any change, the ticket's own value when it never changed.
fn field_at(
    ticket: &Ticket,
    timeline: &[TimelineEntry],
    field: &str,
    at: DateTime<Utc>,
    inclusive: bool,
) -> serde_json::Value {
    let current = match field {
        "status" => serde_json::json!(ticket.status),
        "line" => serde_json::json!(ticket.line),
        "assignee" => serde_json::json!(ticket.assignee),
        _ => unreachable!(),
    };
    let changes: Vec<(&DateTime<Utc>, &serde_json::Value, &serde_json::Value)> = timeline
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::FieldChanged { field: f, old, new } if f == field => {
                Some((&e.at, old, new))
            }
            _ => None,
        })
        .collect();
    let mut value = changes
        .first()
        .map_or(current, |(_, old, _)| (*old).clone());
    for (when, _, new) in changes {
        if *when < at || (inclusive && *when == at) {
            value = new.clone();
        }
    }
    value
}

fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(none)".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn brute_breakdown(
    config: &Config,
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
    field: &str,
) -> Vec<helpdesk::reports::breakdown::BreakdownRow> {
    use std::collections::BTreeMap;
    let end = berlin_midnight(range.to + Duration::days(1));
    let within = |at: DateTime<Utc>| (range.from..=range.to).contains(&berlin_day(at));
    let mut counts: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for (ticket, timeline) in tickets {
        if within(ticket.created_at) {
            counts
                .entry(shown(&field_at(
                    ticket,
                    timeline,
                    field,
                    ticket.created_at,
                    false,
                )))
                .or_default()[0] += 1;
        }
        for entry in timeline {
            if let TimelineEvent::FieldChanged { field: f, old, new } = &entry.event
                && f == "status"
                && within(entry.at)
                && !done(config, old.as_str().unwrap())
                && done(config, new.as_str().unwrap())
            {
                counts
                    .entry(shown(&field_at(ticket, timeline, field, entry.at, true)))
                    .or_default()[1] += 1;
            }
        }
        if ticket.created_at < end
            && !done(
                config,
                field_at(ticket, timeline, "status", end, false)
                    .as_str()
                    .unwrap(),
            )
        {
            counts
                .entry(shown(&field_at(ticket, timeline, field, end, false)))
                .or_default()[2] += 1;
        }
    }
    counts
        .into_iter()
        .map(
            |(value, [created, resolved, open])| helpdesk::reports::breakdown::BreakdownRow {
                value,
                created,
                resolved,
                open,
            },
        )
        .collect()
}

fn brute_assignee_status(
    config: &Config,
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
) -> Vec<helpdesk::reports::breakdown::AssigneeStatusRow> {
    use std::collections::BTreeMap;
    let end = berlin_midnight(range.to + Duration::days(1));
    let mut rows: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for (ticket, timeline) in tickets {
        if ticket.created_at < end {
            let status = shown(&field_at(ticket, timeline, "status", end, false));
            let assignee = shown(&field_at(ticket, timeline, "assignee", end, false));
            if !done(config, &status) {
                rows.entry((assignee, status)).or_default().0 += 1;
            }
        }
        // Created in the range: counted as the ticket is now.
        if (range.from..=range.to).contains(&berlin_day(ticket.created_at)) {
            let assignee = ticket.assignee.clone().unwrap_or_else(|| "(none)".into());
            rows.entry((assignee, ticket.status.clone())).or_default().1 += 1;
        }
    }
    rows.into_iter()
        .map(|((assignee, status), (open, created))| {
            helpdesk::reports::breakdown::AssigneeStatusRow {
                assignee,
                status,
                open,
                created,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn breakdowns_and_the_assignee_status_table_match_the_timelines(
        histories in prop::collection::vec(history(), 1..12),
        from in 0_i64..80,
        length in 0_i64..70,
        field in prop::sample::select(vec!["line", "status", "assignee"]),
    ) {
        use helpdesk::reports::breakdown::{Field, assignee_status, breakdown};
        let config = config();
        let (tickets, tally) = built(&config, &histories);
        let (range, _) = berlin_range(from, length);
        prop_assert_eq!(
            breakdown(&tally, range, &Field::parse(field, &config).unwrap()),
            brute_breakdown(&config, &tickets, range, field)
        );
        prop_assert_eq!(
            assignee_status(&tally, range),
            brute_assignee_status(&config, &tickets, range)
        );
    }
}

#[test]
fn a_ticket_opened_or_changed_at_the_ranges_last_midnight_counts_from_the_next_day() {
    use helpdesk::reports::breakdown::{Field, assignee_status, breakdown};
    let config = config();
    // Opened at Berlin midnight on day 3 of the window, assigned a day
    // later at midnight again.
    let (ticket, timeline) = build(
        &config,
        1,
        3 * 24 * 60,
        &[(24 * 60, Step::Assign(Some("anna")))],
    );
    let tally = entries(tally(&config, berlin(), &ticket, &timeline));
    let opened = berlin_day(ticket.created_at);

    // The range ending the day before: the ticket does not exist yet.
    let before = DateRange::new(opened - Duration::days(2), opened - Duration::days(1)).unwrap();
    assert!(breakdown(&tally, before, &Field::Assignee).is_empty());
    assert!(assignee_status(&tally, before).is_empty());

    // The range ending on its first day: open, not yet assigned; created
    // in the range and anna's now.
    let first = DateRange::new(opened, opened).unwrap();
    let rows = breakdown(&tally, first, &Field::Assignee);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].value.as_str(), rows[0].created, rows[0].open),
        ("(none)", 1, 1)
    );
    let cells: Vec<(&str, &str, u64, u64)> = assignee_status(&tally, first)
        .iter()
        .map(|c| (c.assignee.as_str(), c.status.as_str(), c.open, c.created))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(a, s, o, c)| (leak(a), leak(s), o, c))
        .collect();
    assert_eq!(cells, vec![("(none)", "New", 1, 0), ("anna", "New", 0, 1)]);

    // A day later: anna's.
    let second = DateRange::new(opened, opened + Duration::days(1)).unwrap();
    let rows = breakdown(&tally, second, &Field::Assignee);
    let anna: Vec<_> = rows.iter().filter(|r| r.value == "anna").collect();
    assert_eq!(anna.len(), 1);
    assert_eq!(anna[0].open, 1);
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

// ---- response times, SLA, reopens, time in status, agents ----

/// Nearest-rank percentile `p` (of 100) of sorted `values`.
fn rank(values: &[i64], p: usize) -> i64 {
    let n = values.len();
    values[(p * n).div_ceil(100) - 1]
}

/// Mean rounded halves up.
fn mean(values: &[i64]) -> i64 {
    let sum: i64 = values.iter().sum();
    (sum as f64 / values.len() as f64).round() as i64
}

fn office(config: &Config) -> helpdesk::calendar::Calendar {
    config.calendar("office").unwrap().clone()
}

/// Every public answer of an agent: (instant, agent).
fn answers(timeline: &[TimelineEntry]) -> Vec<(DateTime<Utc>, String)> {
    timeline
        .iter()
        .filter_map(|e| match (&e.actor, &e.event) {
            (Actor::Agent { login, .. }, TimelineEvent::Comment { public: true, .. }) => {
                Some((e.at, login.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Each response sample: (metric, the day it counts on, business,
/// calendar, agent, assignee then, channel).
type Sample = (&'static str, NaiveDate, i64, i64, Option<String>, String);

fn brute_samples(config: &Config, ticket: &Ticket, timeline: &[TimelineEntry]) -> Vec<Sample> {
    let calendar = office(config);
    let mut out = Vec::new();
    let sample = |metric, from: DateTime<Utc>, to: DateTime<Utc>, agent: Option<String>| {
        let assignee = shown(&field_at(ticket, timeline, "assignee", to, true));
        (
            metric,
            berlin_day(to),
            calendar.elapsed(from, to).num_seconds(),
            (to - from).num_seconds(),
            agent,
            assignee,
        )
    };
    let answers = answers(timeline);
    if let Some((at, agent)) = answers.first() {
        out.push(sample(
            "first_response",
            ticket.created_at,
            *at,
            Some(agent.clone()),
        ));
    }
    // Each later answer: from the earliest customer message since the
    // answer before it, if any.
    for pair in answers.windows(2) {
        let (previous, (at, agent)) = (pair[0].0, &pair[1]);
        let asked = timeline.iter().find(|e| {
            matches!(e.actor, Actor::Customer { .. })
                && matches!(e.event, TimelineEvent::Comment { .. })
                && e.at > previous
                && e.at < *at
        });
        if let Some(asked) = asked {
            out.push(sample("next_response", asked.at, *at, Some(agent.clone())));
        }
    }
    // Resolved now: from the opening to the last entry into a done status.
    if done(config, &ticket.status) {
        let resolved = timeline.iter().rev().find_map(|e| match &e.event {
            TimelineEvent::FieldChanged { field, old, new }
                if field == "status"
                    && !done(config, old.as_str().unwrap())
                    && done(config, new.as_str().unwrap()) =>
            {
                Some(e.at)
            }
            _ => None,
        });
        if let Some(at) = resolved {
            out.push(sample("resolution", ticket.created_at, at, None));
        }
    }
    out
}

fn brute_response_times(
    config: &Config,
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
    by: &str,
) -> Vec<helpdesk::reports::response::ResponseRow> {
    use std::collections::BTreeMap;
    let order = |m: &str| {
        ["first_response", "next_response", "resolution"]
            .iter()
            .position(|x| *x == m)
            .unwrap()
    };
    type Durations = (Vec<i64>, Vec<i64>);
    let mut groups: BTreeMap<(String, usize, &'static str), Durations> = BTreeMap::new();
    for (ticket, timeline) in tickets {
        for (metric, day, business, calendar, _, assignee) in
            brute_samples(config, ticket, timeline)
        {
            if !range.contains(day) {
                continue;
            }
            let group = match by {
                "month" => day.format("%Y-%m").to_string(),
                "assignee" => assignee,
                _ => "email".to_owned(),
            };
            let entry = groups.entry((group, order(metric), metric)).or_default();
            entry.0.push(business);
            entry.1.push(calendar);
        }
    }
    groups
        .into_iter()
        .map(|((group, _, metric), (mut b, mut c))| {
            b.sort_unstable();
            c.sort_unstable();
            helpdesk::reports::response::ResponseRow {
                group,
                metric,
                count: b.len() as u64,
                median_business: rank(&b, 50),
                p90_business: rank(&b, 90),
                mean_business: mean(&b),
                median_calendar: rank(&c, 50),
                p90_calendar: rank(&c, 90),
                mean_calendar: mean(&c),
            }
        })
        .collect()
}

/// The SLA report the obvious way: met and breached events in the range;
/// a metric's timer runs at an instant when its last start, retarget, met
/// or stop before it was a start or retarget.
fn brute_sla(
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
) -> Vec<helpdesk::reports::sla::SlaRow> {
    use std::collections::BTreeMap;
    let end = berlin_midnight(range.to + Duration::days(1));
    let mut rows: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
    for (_, timeline) in tickets {
        let mut last: BTreeMap<&str, (&str, SlaEventKind)> = BTreeMap::new();
        for entry in timeline {
            if let TimelineEvent::Sla {
                metric,
                rule,
                event,
                ..
            } = &entry.event
            {
                let row = rows.entry((metric.clone(), rule.clone())).or_default();
                if range.contains(berlin_day(entry.at)) {
                    match event {
                        SlaEventKind::Met => row.0 += 1,
                        SlaEventKind::Breached => row.1 += 1,
                        _ => {}
                    }
                }
                if entry.at < end
                    && matches!(
                        event,
                        SlaEventKind::Started
                            | SlaEventKind::Retargeted
                            | SlaEventKind::Met
                            | SlaEventKind::Stopped
                    )
                {
                    last.insert(metric, (rule, *event));
                }
            }
        }
        for (metric, (rule, event)) in last {
            if matches!(event, SlaEventKind::Started | SlaEventKind::Retargeted) {
                rows.entry((metric.to_owned(), rule.to_owned()))
                    .or_default()
                    .2 += 1;
            }
        }
    }
    rows.into_iter()
        .filter(|(_, (m, b, r))| m + b + r > 0)
        .map(
            |((metric, rule), (met, breached, running))| helpdesk::reports::sla::SlaRow {
                group: "(all)".into(),
                metric,
                rule,
                met,
                breached,
                running: Some(running),
                compliance: (met + breached > 0)
                    .then(|| (met as f64 * 1000.0 / (met + breached) as f64).round() / 10.0),
            },
        )
        .collect()
}

/// Reopens by assignee the obvious way.
fn brute_reopens(
    config: &Config,
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
) -> Vec<helpdesk::reports::reopens::ReopenRow> {
    use std::collections::BTreeMap;
    // resolved, customer, agent, automation
    let mut counts: BTreeMap<Option<String>, [u64; 4]> = BTreeMap::new();
    counts.entry(None).or_default();
    for (ticket, timeline) in tickets {
        for entry in timeline {
            let TimelineEvent::FieldChanged { field, old, new } = &entry.event else {
                continue;
            };
            if field != "status" || !range.contains(berlin_day(entry.at)) {
                continue;
            }
            let slot = match (
                done(config, old.as_str().unwrap()),
                done(config, new.as_str().unwrap()),
            ) {
                (false, true) => 0,
                (true, false) => match entry.actor {
                    Actor::Customer { .. } => 1,
                    Actor::Agent { .. } => 2,
                    _ => 3,
                },
                _ => continue,
            };
            let assignee = shown(&field_at(ticket, timeline, "assignee", entry.at, true));
            counts.entry(None).or_default()[slot] += 1;
            counts.entry(Some(assignee)).or_default()[slot] += 1;
        }
    }
    counts
        .into_iter()
        .map(|(value, [resolved, customer, agent, automation])| {
            let reopened = customer + agent + automation;
            helpdesk::reports::reopens::ReopenRow {
                value: value.unwrap_or_else(|| "(all)".into()),
                resolved,
                reopened,
                by_customer: customer,
                by_agent: agent,
                by_automation: automation,
                rate: (resolved > 0)
                    .then(|| (reopened as f64 * 1000.0 / resolved as f64).round() / 1000.0),
            }
        })
        .collect()
}

/// Time in status by line the obvious way: each status change ends a
/// stay that began at the change before it (or the opening).
fn brute_stays(
    config: &Config,
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
) -> Vec<helpdesk::reports::stays::StayRow> {
    use std::collections::BTreeMap;
    let calendar = office(config);
    let mut sums: BTreeMap<(String, String), [i64; 3]> = BTreeMap::new();
    for (ticket, timeline) in tickets {
        let mut since = ticket.created_at;
        for entry in timeline {
            if let TimelineEvent::FieldChanged { field, old, new } = &entry.event
                && field == "status"
                && old != new
            {
                if range.contains(berlin_day(entry.at)) {
                    let line = shown(&field_at(ticket, timeline, "line", entry.at, true));
                    let sum = sums
                        .entry((old.as_str().unwrap().to_owned(), line))
                        .or_default();
                    sum[0] += 1;
                    sum[1] += calendar.elapsed(since, entry.at).num_seconds();
                    sum[2] += (entry.at - since).num_seconds();
                }
                since = entry.at;
            }
        }
    }
    sums.into_iter()
        .map(
            |((status, value), [stays, business, wall])| helpdesk::reports::stays::StayRow {
                status,
                value,
                stays: stays as u64,
                business_seconds: business,
                mean_business: (business as f64 / stays as f64).round() as i64,
                calendar_seconds: wall,
                mean_calendar: (wall as f64 / stays as f64).round() as i64,
            },
        )
        .collect()
}

/// The agents' table the obvious way.
fn brute_agents(
    config: &Config,
    tickets: &[(Ticket, Vec<TimelineEntry>)],
    range: DateRange,
) -> Vec<helpdesk::reports::agents::AgentRow> {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct A {
        taken: u64,
        answers: u64,
        resolved: u64,
        reopened: u64,
        first: Vec<i64>,
        ratings: u64,
        satisfied: u64,
        line2_ratings: u64,
        line2_satisfied: u64,
    }
    let mut agents: BTreeMap<String, A> = BTreeMap::new();
    for (ticket, timeline) in tickets {
        for entry in timeline.iter().filter(|e| range.contains(berlin_day(e.at))) {
            match (&entry.actor, &entry.event) {
                (Actor::Agent { login, .. }, TimelineEvent::Comment { public: true, .. }) => {
                    agents.entry(login.clone()).or_default().answers += 1;
                }
                (_, TimelineEvent::FieldChanged { field, old, new })
                    if field == "assignee" && old != new =>
                {
                    if let Some(agent) = new.as_str() {
                        agents.entry(agent.to_owned()).or_default().taken += 1;
                    }
                }
                (_, TimelineEvent::FieldChanged { field, old, new }) if field == "status" => {
                    let holder = field_at(ticket, timeline, "assignee", entry.at, true);
                    let Some(holder) = holder.as_str() else {
                        continue;
                    };
                    match (
                        done(config, old.as_str().unwrap()),
                        done(config, new.as_str().unwrap()),
                    ) {
                        (false, true) => agents.entry(holder.to_owned()).or_default().resolved += 1,
                        (true, false) => agents.entry(holder.to_owned()).or_default().reopened += 1,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // A ticket's rating counts as it stands, on the day last given,
        // for whoever held the ticket then.
        let last_rating = timeline.iter().rev().find_map(|e| match &e.event {
            TimelineEvent::Rated { score, .. } => Some((e.at, *score)),
            _ => None,
        });
        if let Some((at, score)) = last_rating
            && range.contains(berlin_day(at))
            && let Some(holder) = field_at(ticket, timeline, "assignee", at, true).as_str()
        {
            let a = agents.entry(holder.to_owned()).or_default();
            a.ratings += 1;
            a.satisfied += u64::from(score.satisfied());
        }
        // Each escalation's internal rating counts as it stands, for the
        // agent it names, on the day last given.
        let mut line2: BTreeMap<u64, (DateTime<Utc>, String, Score)> = BTreeMap::new();
        for entry in timeline {
            if let TimelineEvent::EscalationRated {
                escalation,
                agent,
                score,
                ..
            } = &entry.event
            {
                line2.insert(*escalation, (entry.at, agent.clone(), *score));
            }
        }
        for (at, agent, score) in line2.into_values() {
            if range.contains(berlin_day(at)) {
                let a = agents.entry(agent).or_default();
                a.line2_ratings += 1;
                a.line2_satisfied += u64::from(score.satisfied());
            }
        }
        for (metric, day, business, _, agent, _) in brute_samples(config, ticket, timeline) {
            if metric == "first_response" && range.contains(day) {
                agents
                    .entry(agent.unwrap())
                    .or_default()
                    .first
                    .push(business);
            }
        }
    }
    agents
        .into_iter()
        .map(|(agent, mut a)| {
            a.first.sort_unstable();
            helpdesk::reports::agents::AgentRow {
                agent,
                taken: a.taken,
                answers: a.answers,
                resolved: a.resolved,
                reopened: a.reopened,
                reopen_rate: (a.resolved > 0)
                    .then(|| (a.reopened as f64 * 1000.0 / a.resolved as f64).round() / 1000.0),
                first_responses: a.first.len() as u64,
                median_first_response: (!a.first.is_empty()).then(|| rank(&a.first, 50)),
                ratings: a.ratings,
                satisfied: a.satisfied,
                csat: (a.ratings > 0)
                    .then(|| (a.satisfied as f64 * 1000.0 / a.ratings as f64).round() / 1000.0),
                line2_ratings: a.line2_ratings,
                line2_satisfied: a.line2_satisfied,
                line2_csat: (a.line2_ratings > 0).then(|| {
                    (a.line2_satisfied as f64 * 1000.0 / a.line2_ratings as f64).round() / 1000.0
                }),
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn response_times_sla_reopens_time_in_status_and_agents_match_the_timelines(
        histories in prop::collection::vec(history(), 1..12),
        from in 0_i64..80,
        length in 0_i64..70,
        by in prop::sample::select(vec!["month", "assignee", "channel"]),
    ) {
        use helpdesk::reports::breakdown::Field;
        use helpdesk::reports::response::{ResponseBy, response_times};
        let config = config();
        let (tickets, tally) = built(&config, &histories);
        let (range, _) = berlin_range(from, length);
        prop_assert_eq!(
            response_times(&tally, range, ResponseBy::parse(by).unwrap()),
            brute_response_times(&config, &tickets, range, by)
        );
        prop_assert_eq!(
            helpdesk::reports::sla::sla(&tally, range, helpdesk::reports::sla::SlaBy::Rule),
            brute_sla(&tickets, range)
        );
        prop_assert_eq!(
            helpdesk::reports::reopens::reopens(&tally, range, &Field::Assignee),
            brute_reopens(&config, &tickets, range)
        );
        prop_assert_eq!(
            helpdesk::reports::stays::time_in_status(&tally, range, Some(&Field::Line)),
            brute_stays(&config, &tickets, range)
        );
        prop_assert_eq!(
            helpdesk::reports::agents::agents(&tally, range),
            brute_agents(&config, &tickets, range)
        );
    }
}

#[test]
fn keys_of_every_kind_read_back_from_their_text_and_a_separator_in_a_value_becomes_a_space() {
    use helpdesk::reports::breakdown::Field;
    use helpdesk::reports::tally::{Group, Outcome, Response};
    let keys = [
        Key::Created(Group::Value(
            Field::Custom("topic".into()),
            "billing".into(),
        )),
        Key::Open(Group::Value(Field::Tag, "=~*".into())),
        Key::OpenAs {
            assignee: Some(String::new()),
            status: "New".into(),
        },
        Key::CreatedNowAs {
            assignee: None,
            status: "In progress".into(),
        },
        Key::Response {
            metric: Response::Next,
            business: -5,
            calendar: 7,
            agent: None,
            assignee: Some("anna".into()),
            channel: Channel::Phone,
        },
        Key::Sla {
            metric: "resolution".into(),
            rule: "Resolution".into(),
            outcome: Outcome::Breached,
            assignee: None,
        },
        Key::EscalationRated {
            agent: "dmitri".into(),
            score: Score::Good,
        },
        Key::Rated {
            score: Score::Stars(4),
            assignee: Some("anna".into()),
        },
        Key::Rated {
            score: Score::Bad,
            assignee: None,
        },
        Key::StayWallSeconds {
            status: "Need info".into(),
            group: Group::All,
        },
    ];
    for key in keys {
        assert_eq!(Key::decode(&key.encode()), Some(key));
    }
    let odd = Key::Taken("a\u{1f}b".into());
    assert_eq!(Key::decode(&odd.encode()), Some(Key::Taken("a b".into())));
    assert_eq!(Key::decode("nonsense"), None);
}
