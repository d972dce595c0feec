//! Reports against a brute-force recomputation from the timelines: random
//! ticket histories (openings, status moves with pauses, reopens, answers,
//! assignments) around the daylight-saving changes of Europe/Berlin, and
//! every figure of the `volume` report checked against counting the
//! timelines directly, in another way (chrono-tz days, the status at each
//! instant read off the entries), for days, weeks and months.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Europe::Berlin;
use helpdesk::calendar::TimeZone;
use helpdesk::config::Config;
use helpdesk::domain::ticket::entry_seq;
use helpdesk::domain::{Actor, Channel, QueueKey, Ticket, TicketKey, TimelineEntry, TimelineEvent};
use helpdesk::reports::metrics::{MetricEvent, metric_events};
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

/// One step of a history: after `minutes`, this happens.
#[derive(Debug, Clone)]
enum Step {
    Status(usize),
    Assign(Option<&'static str>),
    Answer,
    Line(Option<u8>),
}

fn step() -> impl Strategy<Value = (i64, Step)> {
    (
        // Whole hours often, so that changes fall on midnight exactly.
        prop_oneof![
            1_i64..4_000,
            (1_i64..72).prop_map(|h| h * 60),
            (1_i64..5).prop_map(|d| d * 24 * 60),
        ],
        prop_oneof![
            4 => (0..STATUSES.len()).prop_map(Step::Status),
            1 => prop::option::of(prop::sample::select(vec!["anna", "boris"])).prop_map(Step::Assign),
            1 => Just(Step::Answer),
            1 => prop::option::of(1_u8..=3).prop_map(Step::Line),
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
        prop::collection::vec(step(), 0..12),
    )
}

/// The window's start: midnight in Berlin, a month before the spring
/// change of 2026.
fn window_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 24, 23, 0, 0)
        .single()
        .unwrap()
}

/// The ticket and its timeline after `steps`.
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
    for (minutes, step) in steps {
        now += Duration::minutes(*minutes);
        ticket.version += 1;
        let event = match step {
            Step::Status(i) => {
                let old = std::mem::replace(&mut ticket.status, STATUSES[*i].to_owned());
                TimelineEvent::FieldChanged {
                    field: "status".into(),
                    old: old.into(),
                    new: ticket.status.clone().into(),
                }
            }
            Step::Assign(who) => {
                let old = std::mem::replace(&mut ticket.assignee, who.map(str::to_owned));
                TimelineEvent::FieldChanged {
                    field: "assignee".into(),
                    old: serde_json::json!(old),
                    new: serde_json::json!(ticket.assignee),
                }
            }
            Step::Line(line) => {
                let old = std::mem::replace(&mut ticket.line, *line);
                TimelineEvent::FieldChanged {
                    field: "line".into(),
                    old: serde_json::json!(old),
                    new: serde_json::json!(line),
                }
            }
            Step::Answer => TimelineEvent::Comment {
                public: true,
                body: "answer".into(),
                body_blob: None,
            },
        };
        let actor = Actor::Agent {
            login: "anna".into(),
            via: None,
        };
        timeline.push(TimelineEntry {
            ticket: key.clone(),
            seq: entry_seq(ticket.version, 0),
            at: now,
            actor,
            event,
        });
    }
    ticket.updated_at = now;
    (ticket, timeline)
}

/// The tickets of `histories` and their metric events.
fn built(
    config: &Config,
    histories: &[(i64, Vec<(i64, Step)>)],
) -> (Vec<(Ticket, Vec<TimelineEntry>)>, Vec<MetricEvent>) {
    let tickets: Vec<(Ticket, Vec<TimelineEntry>)> = histories
        .iter()
        .enumerate()
        .map(|(i, (opened, steps))| build(config, i as u64 + 1, *opened, steps))
        .collect();
    let events = tickets
        .iter()
        .flat_map(|(ticket, timeline)| metric_events(config, ticket, timeline))
        .collect();
    (tickets, events)
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
        let (tickets, events) = built(&config, &histories);
        let (range, zone) = berlin_range(from, length);
        prop_assert_eq!(
            volume(&events, range, period, zone),
            brute_force(&config, &tickets, range, period)
        );
    }
}

#[test]
fn a_reopened_ticket_counts_once_resolved_once_reopened_and_is_in_the_backlog_again() {
    let config = config();
    let steps = [
        (60, Step::Status(6)),      // Resolved after an hour
        (60 * 24, Step::Status(4)), // reopened a day later (In progress)
        (60, Step::Answer),
    ];
    let (ticket, timeline) = build(&config, 1, 60 * 24 * 31 + 9 * 60, &steps);
    let events = metric_events(&config, &ticket, &timeline);
    let day = berlin_day(ticket.created_at);
    let range = DateRange::new(day, day + Duration::days(1)).unwrap();
    let zone = TimeZone::parse("Europe/Berlin").unwrap();
    let rows = volume(&events, range, Period::Day, zone);
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
        (20, Step::Answer),
        (30, Step::Line(Some(2))),
        (40, Step::Answer),
        (50, Step::Status(7)), // Closed
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
        if ticket.created_at >= end {
            continue;
        }
        let status = shown(&field_at(ticket, timeline, "status", end, false));
        let assignee = shown(&field_at(ticket, timeline, "assignee", end, false));
        let open = !done(config, &status);
        let created = (range.from..=range.to).contains(&berlin_day(ticket.created_at));
        if open || created {
            let row = rows.entry((assignee, status)).or_default();
            row.0 += u64::from(open);
            row.1 += u64::from(created);
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
        let (tickets, events) = built(&config, &histories);
        let (range, zone) = berlin_range(from, length);
        prop_assert_eq!(
            breakdown(&events, range, zone, Field::parse(field).unwrap()),
            brute_breakdown(&config, &tickets, range, field)
        );
        prop_assert_eq!(
            assignee_status(&events, range, zone),
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
    let events = metric_events(&config, &ticket, &timeline);
    let zone = TimeZone::parse("Europe/Berlin").unwrap();
    let opened = berlin_day(ticket.created_at);

    // The range ending the day before: the ticket does not exist yet.
    let before = DateRange::new(opened - Duration::days(2), opened - Duration::days(1)).unwrap();
    assert!(breakdown(&events, before, zone, Field::Assignee).is_empty());
    assert!(assignee_status(&events, before, zone).is_empty());

    // The range ending on its first day: open, not yet assigned.
    let first = DateRange::new(opened, opened).unwrap();
    let rows = breakdown(&events, first, zone, Field::Assignee);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].value.as_str(), rows[0].created, rows[0].open),
        ("(none)", 1, 1)
    );
    let cells = assignee_status(&events, first, zone);
    assert_eq!(cells.len(), 1);
    assert_eq!(
        (cells[0].assignee.as_str(), cells[0].status.as_str()),
        ("(none)", "New")
    );

    // A day later: anna's.
    let second = DateRange::new(opened, opened + Duration::days(1)).unwrap();
    let rows = breakdown(&events, second, zone, Field::Assignee);
    let anna: Vec<_> = rows.iter().filter(|r| r.value == "anna").collect();
    assert_eq!(anna.len(), 1);
    assert_eq!(anna[0].open, 1);
}
