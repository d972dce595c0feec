//! The SLA fold, pure: timers moved by timeline entries at their own
//! instants, with fixed cases for the edges a user notices (a stop exactly
//! at the deadline, a ticket moving between two rules of one metric, no rule
//! applying for a while, a field change no entry recorded) and the
//! properties that make it safe to run from two places (folding again
//! changes nothing).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use helpdesk::config::{Config, Queue};
use helpdesk::domain::ticket::entry_seq;
use helpdesk::domain::{
    Actor, Channel, QueueKey, SlaEventKind, Ticket, TicketKey, TimelineEntry, TimelineEvent,
    TimerState,
};
use helpdesk::sla::SlaRule;
use helpdesk::sla::fold::{Folded, Rules, fold};
use helpdesk::tickets::{TicketDraft, build_ticket};

const RULES: &str = r#"
- name: First response (premium)
  metric: first_response
  calendar: office
  when: { custom: { customer_tier: [premium] } }
  targets: [{ limit: 30m, warning: 20m }]
  start: [created]
  stop: [team_answer]
- name: First response
  metric: first_response
  calendar: office
  when: { priority: [critical, high, normal] }
  targets: [{ limit: 2h, warning: 1h }]
  start: [created]
  stop: [team_answer]
"#;

fn berlin(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(2026, 12, d, h, m, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn config() -> Config {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/helpdesk.yaml");
    let mut config = helpdesk::config::load(std::path::Path::new(path)).unwrap();
    let queue = config.queues.get_mut(&sup()).unwrap();
    queue.sla = serde_saphyr::from_str::<Vec<SlaRule>>(RULES).unwrap();
    queue.custom_fields.insert(
        "customer_tier".into(),
        serde_saphyr::from_str("{ label: Tier }").unwrap(),
    );
    let findings = helpdesk::config::validate::validate(&config);
    assert!(findings.is_empty(), "{findings:?}");
    config
}

fn sup() -> QueueKey {
    QueueKey::parse("SUP").unwrap()
}

fn queue(config: &Config) -> &Queue {
    &config.queues[&sup()]
}

fn rules(config: &Config) -> Rules<'_> {
    Rules {
        queue: queue(config),
        rules: &queue(config).sla,
        calendars: &config.built_calendars,
    }
}

/// A new ticket at `at` (created during Monday office hours) with its
/// creation entry.
fn created(config: &Config, at: DateTime<Utc>) -> (Ticket, Vec<TimelineEntry>) {
    let draft = TicketDraft {
        queue: sup(),
        summary: "Export broken".into(),
        description: String::new(),
        priority: None,
        line: None,
        components: vec![],
        tags: vec![],
        assignee: None,
        requester_email: None,
        requester_name: None,
        requester_phone: None,
        channel: Channel::Form,
        custom_fields: Default::default(),
    };
    let ticket = build_ticket(config, TicketKey::new(sup(), 1), draft, None, at).unwrap();
    let entries = helpdesk::tickets::first_entries(&ticket, &Actor::System, vec![]);
    (ticket, entries)
}

/// The ticket after a write at `at` that `edit` makes, with `events`.
fn write(
    ticket: &mut Ticket,
    entries: &mut Vec<TimelineEntry>,
    at: DateTime<Utc>,
    actor: Actor,
    edit: impl FnOnce(&mut Ticket),
    events: Vec<TimelineEvent>,
) {
    let before = ticket.clone();
    edit(ticket);
    ticket.version += 1;
    ticket.updated_at = at;
    let mut all = helpdesk::tickets::field_changes(&before, ticket);
    all.extend(events);
    for (i, event) in all.into_iter().enumerate() {
        entries.push(TimelineEntry {
            ticket: ticket.key.clone(),
            seq: entry_seq(ticket.version, i),
            at,
            actor: actor.clone(),
            event,
        });
    }
}

fn answer() -> TimelineEvent {
    TimelineEvent::Comment {
        public: true,
        body: "Done".into(),
        body_blob: None,
    }
}

fn anna() -> Actor {
    Actor::Agent {
        login: "anna".into(),
        via: None,
    }
}

fn kinds(folded: &Folded) -> Vec<(SlaEventKind, DateTime<Utc>)> {
    folded
        .events
        .iter()
        .map(|e| match &e.event {
            TimelineEvent::Sla { event, .. } => (*event, e.at),
            other => panic!("not an SLA event: {other:?}"),
        })
        .collect()
}

/// Stores a fold's result on the ticket, as the tracker's write does.
fn store(ticket: &mut Ticket, folded: Folded) {
    ticket.sla = folded.state;
}

#[test]
fn an_answer_exactly_at_the_deadline_is_met_and_a_moment_later_is_breached() {
    let config = config();
    let start = berlin(7, 9, 0);
    for (late, expected) in [
        (Duration::zero(), TimerState::Met),
        (Duration::microseconds(1), TimerState::Breached),
    ] {
        let (mut ticket, mut entries) = created(&config, start);
        let deadline = berlin(7, 11, 0);
        write(
            &mut ticket,
            &mut entries,
            deadline + late,
            anna(),
            |_| {},
            vec![answer()],
        );
        let folded = fold(
            rules(&config),
            &ticket,
            &entries,
            deadline + Duration::hours(1),
        );
        let timer = folded.state.timer("first_response").unwrap();
        assert_eq!(timer.state, expected, "answered {late} after the deadline");
        let breached = kinds(&folded)
            .iter()
            .filter(|(k, _)| *k == SlaEventKind::Breached)
            .count();
        assert_eq!(breached, usize::from(expected == TimerState::Breached));
    }
}

#[test]
fn moving_to_the_other_rule_of_a_metric_keeps_the_time_spent() {
    let config = config();
    let (mut ticket, mut entries) = created(&config, berlin(7, 9, 0));
    let folded = fold(rules(&config), &ticket, &entries, berlin(7, 9, 0));
    assert_eq!(
        folded.state.timer("first_response").unwrap().rule,
        "First response"
    );
    store(&mut ticket, folded);
    ticket.sla.seen_version = ticket.version;

    // 15 minutes later the customer turns out to be premium: 30 minutes in
    // all, 15 of them spent.
    write(
        &mut ticket,
        &mut entries,
        berlin(7, 9, 15),
        anna(),
        |t| {
            t.custom_fields
                .insert("customer_tier".into(), "premium".into());
        },
        vec![TimelineEvent::FieldChanged {
            field: "custom.customer_tier".into(),
            old: serde_json::Value::Null,
            new: "premium".into(),
        }],
    );
    let pending: Vec<TimelineEntry> = entries
        .iter()
        .filter(|e| e.seq >= entry_seq(ticket.sla.seen_version + 1, 0))
        .cloned()
        .collect();
    let folded = fold(rules(&config), &ticket, &pending, berlin(7, 9, 15));
    let timer = folded.state.timer("first_response").unwrap();
    assert_eq!(timer.rule, "First response (premium)");
    assert_eq!(
        timer.spent_us,
        Duration::minutes(15).num_microseconds().unwrap()
    );
    assert_eq!(timer.deadline, Some(berlin(7, 9, 30)));
    assert_eq!(timer.warn_at, Some(berlin(7, 9, 20)));
    assert_eq!(
        kinds(&folded),
        [(SlaEventKind::Retargeted, berlin(7, 9, 15))]
    );
}

#[test]
fn while_no_rule_covers_the_ticket_its_timer_is_paused_with_the_time_kept() {
    let config = config();
    let (mut ticket, mut entries) = created(&config, berlin(7, 9, 0));
    // Low priority is in no rule's filter from 9:30 to 10:30.
    write(
        &mut ticket,
        &mut entries,
        berlin(7, 9, 30),
        anna(),
        |t| t.priority = "low".into(),
        vec![],
    );
    write(
        &mut ticket,
        &mut entries,
        berlin(7, 10, 30),
        anna(),
        |t| t.priority = "normal".into(),
        vec![],
    );
    let folded = fold(rules(&config), &ticket, &entries, berlin(7, 10, 30));
    let timer = folded.state.timer("first_response").unwrap();
    assert_eq!(timer.state, TimerState::Running);
    assert_eq!(
        timer.spent_us,
        Duration::minutes(30).num_microseconds().unwrap()
    );
    assert_eq!(timer.deadline, Some(berlin(7, 12, 0)));
    assert_eq!(
        kinds(&folded),
        [
            (SlaEventKind::Started, berlin(7, 9, 0)),
            (SlaEventKind::Paused, berlin(7, 9, 30)),
            (SlaEventKind::Resumed, berlin(7, 10, 30)),
        ]
    );
}

#[test]
fn a_field_change_without_an_entry_counts_from_the_tickets_last_update() {
    let config = config();
    let (mut ticket, entries) = created(&config, berlin(7, 9, 0));
    let folded = fold(rules(&config), &ticket, &entries, berlin(7, 9, 0));
    store(&mut ticket, folded);
    // A writer changed the priority at 9:45 without recording it.
    ticket.priority = "low".into();
    ticket.version = 2;
    ticket.updated_at = berlin(7, 9, 45);
    let folded = fold(rules(&config), &ticket, &[], berlin(7, 10, 0));
    let timer = folded.state.timer("first_response").unwrap();
    assert_eq!(timer.state, TimerState::Paused);
    assert_eq!(
        timer.spent_us,
        Duration::minutes(45).num_microseconds().unwrap()
    );
}

#[test]
fn folding_what_was_written_again_changes_nothing_and_a_late_fold_records_at_the_true_instants() {
    let config = config();
    let (mut ticket, entries) = created(&config, berlin(4, 17, 50));
    // First folded on Monday at 12:00 (everything was down): warning at
    // 10:20 and breach at 10:50 come out at their own instants.
    let folded = fold(rules(&config), &ticket, &entries, berlin(7, 12, 0));
    assert_eq!(
        kinds(&folded),
        [
            (SlaEventKind::Started, berlin(4, 17, 50)),
            (SlaEventKind::Warned, berlin(7, 9, 50)),
            (SlaEventKind::Breached, berlin(7, 10, 50)),
        ]
    );
    store(&mut ticket, folded.clone());
    let again = fold(rules(&config), &ticket, &[], berlin(7, 12, 1));
    assert!(!again.changes(&ticket.sla), "{:?}", again.events);
    assert_eq!(again.state.timers, folded.state.timers);
}
