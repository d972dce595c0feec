//! SLA timers end to end with an injected clock, over SQLite (the change
//! feed `helpdesk serve` runs) and over DynamoDB on moto (the due index
//! queried as the `sla-check` function does): a breach after a weekend,
//! a pause that moves the deadline by exactly the paused business time,
//! duplicate and late ticks, a run cut short by its budget, first response
//! met by the team's answer, a next-response timer re-armed by the
//! customer, a priority change that keeps the time spent.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use helpdesk::auth::{Principal, Via};
use helpdesk::automation::feed;
use helpdesk::calendar::CalendarConfig;
use helpdesk::domain::{QueueKey, SlaEventKind, TicketKey, TimelineEvent, TimerState};
use helpdesk::sla::{self, SlaRule};
use helpdesk::store::Store;
use helpdesk::store::sqlite::SqliteStore;
use helpdesk::tickets::agent::{self, AgentUpdate};
use helpdesk::triggers::Trigger;
use helpdesk_tests::app::{TestApp, spawn_app_with};
use serde_json::json;

/// A 9-18 Monday-to-Friday calendar in Berlin, without breaks.
const NINE_TO_SIX: &str = r#"
time_zone: Europe/Berlin
week:
  mon: ["09:00-18:00"]
  tue: ["09:00-18:00"]
  wed: ["09:00-18:00"]
  thu: ["09:00-18:00"]
  fri: ["09:00-18:00"]
"#;

/// The rules the tests use (the example's are replaced by these).
const RULES: &str = r#"
- name: First response
  metric: first_response
  calendar: nine_to_six
  targets:
    - { when: { priority: [critical] }, limit: 30m, warning: 20m }
    - { limit: 2h, warning: 1h 30m }
  start: [created]
  stop: [team_answer]
  notify: { to: [assignee, anna, lead@example.com], template: sla-alert }
- name: Next response
  metric: next_response
  calendar: nine_to_six
  targets: [{ limit: 4h }]
  start: [customer_reply]
  stop: [team_answer]
- name: Resolution
  metric: resolution
  calendar: nine_to_six
  targets: [{ limit: 8h, warning: 6h }]
  start: [created]
  pause: [{ status: [Need info] }]
  stop: [{ status: [Resolved, Closed] }]
"#;

/// A trigger that reacts to breaches (the trigger event of the issue).
const ON_BREACH: &str = r#"
- name: Escalate breaches
  on: [sla_breach]
  do:
    - set: { tags: { add: [sla-breached] } }
    - comment: { template: "SLA breach of {{ change.sla.metric }}" }
"#;

fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn sup() -> QueueKey {
    QueueKey::parse("SUP").unwrap()
}

/// A helpdesk over `store` with the test rules, calendar and trigger.
fn app_over(store: Arc<dyn Store>) -> TestApp {
    let dir = std::env::temp_dir().join(format!("helpdesk-sla-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let blob_dir = dir.join("blobs");
    let blobs = Arc::new(helpdesk::blobs::LocalBlobs::new(&blob_dir));
    let mut app = spawn_app_with(store, blobs, dir, blob_dir);
    let mut config = (*app.services.config).clone();
    let calendar: CalendarConfig = serde_saphyr::from_str(NINE_TO_SIX).unwrap();
    config.built_calendars.insert(
        "nine_to_six".into(),
        calendar.build(std::path::Path::new(".")).unwrap(),
    );
    config.calendars.insert("nine_to_six".into(), calendar);
    let queue = config.queues.get_mut(&sup()).unwrap();
    queue.sla = serde_saphyr::from_str::<Vec<SlaRule>>(RULES).unwrap();
    queue
        .triggers
        .extend(serde_saphyr::from_str::<Vec<Trigger>>(ON_BREACH).unwrap());
    let findings = helpdesk::config::validate::validate(&config);
    assert!(findings.is_empty(), "test config is valid: {findings:?}");
    app.services.config = Arc::new(config);
    app
}

fn sqlite_app() -> TestApp {
    let path =
        std::env::temp_dir().join(format!("helpdesk-sla-{}.db", uuid::Uuid::new_v4().simple()));
    app_over(Arc::new(SqliteStore::open(path).unwrap()))
}

/// Runs the change feed until it is drained (triggers, notifications,
/// timers).
async fn drain(app: &TestApp) {
    let feed = app.store.change_feed().expect("SQLite has a change feed");
    let pass = feed::drain(&app.services, feed).await.unwrap();
    assert!(pass.retry.is_none(), "nothing to retry: {:?}", pass.retry);
    assert_eq!(pass.dead_lettered, 0);
}

/// One checker run at `at` with a generous budget, then the change feed.
async fn tick(app: &TestApp, at: DateTime<Utc>) -> sla::CheckReport {
    app.clock.set(at);
    let report = sla::check(&app.services, StdDuration::from_secs(30))
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    drain(app).await;
    report
}

async fn new_ticket(app: &TestApp, at: DateTime<Utc>, topic: &str) -> TicketKey {
    app.clock.set(at);
    let answer = app
        .post_json(
            "support",
            json!({
                "name": "Jane Doe",
                "email": "jane.doe@customer.org",
                "subject": "Cannot export invoices",
                "message": "The export button does nothing.",
                "topic": topic,
            }),
        )
        .await;
    assert_eq!(answer.status, 201, "{:?}", answer.json);
    let key = answer.ticket();
    drain(app).await;
    key
}

/// The SLA events of a ticket's timeline: (metric, event, at).
async fn sla_events(app: &TestApp, key: &TicketKey) -> Vec<(String, SlaEventKind, DateTime<Utc>)> {
    app.timeline(key)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::Sla { metric, event, .. } => Some((metric, event, e.at)),
            _ => None,
        })
        .collect()
}

fn count(
    events: &[(String, SlaEventKind, DateTime<Utc>)],
    metric: &str,
    kind: SlaEventKind,
) -> usize {
    events
        .iter()
        .filter(|(m, k, _)| m == metric && *k == kind)
        .count()
}

async fn agent_does(app: &TestApp, key: &TicketKey, at: DateTime<Utc>, update: AgentUpdate) {
    app.clock.set(at);
    let boris = Principal::of(&app.services.config, "boris", Via::Cli).unwrap();
    agent::update(&app.services, key, &boris, update)
        .await
        .unwrap();
    drain(app).await;
}

/// The timer of `metric` on the stored ticket, which must have one.
async fn stored_timer(app: &TestApp, key: &TicketKey, metric: &str) -> helpdesk::domain::SlaTimer {
    app.ticket(key)
        .await
        .sla
        .timer(metric)
        .unwrap_or_else(|| panic!("{key} has a {metric} timer"))
        .clone()
}

fn comment(public: bool, text: &str) -> AgentUpdate {
    AgentUpdate {
        comment: Some((public, text.into())),
        ..AgentUpdate::default()
    }
}

fn status(name: &str) -> AgentUpdate {
    AgentUpdate {
        status: Some(name.into()),
        ..AgentUpdate::default()
    }
}

fn sla_mails(app: &TestApp) -> Vec<String> {
    app.sent()
        .into_iter()
        .map(|(_, text)| text)
        .filter(|text| text.contains("SLA breach") || text.contains("SLA warning"))
        .collect()
}

fn bus_events(app: &TestApp, detail_type: &str) -> usize {
    app.events
        .read_all()
        .unwrap_or_default()
        .iter()
        .filter(|e| e["detail_type"] == detail_type)
        .count()
}

#[tokio::test]
async fn a_ticket_created_friday_1750_with_a_2h_limit_breaches_monday_1050_and_is_told_once() {
    let app = sqlite_app();
    let key = new_ticket(&app, berlin(2026, 12, 4, 17, 50), "billing").await;

    let ticket = app.ticket(&key).await;
    let timer = ticket
        .sla
        .timer("first_response")
        .expect("first response timer");
    assert_eq!(timer.state, TimerState::Running);
    assert_eq!(timer.deadline, Some(berlin(2026, 12, 7, 10, 50)));
    assert_eq!(timer.warn_at, Some(berlin(2026, 12, 7, 10, 20)));

    // Over the weekend nothing is due.
    let report = tick(&app, berlin(2026, 12, 6, 12, 0)).await;
    assert_eq!((report.due_read, report.written), (0, 0));

    // Monday 10:49: the warning (due 10:20, the checker was down since) is
    // recorded at 10:20; no breach yet.
    let report = tick(&app, berlin(2026, 12, 7, 10, 49)).await;
    assert_eq!((report.warnings, report.breaches), (1, 0));
    let events = sla_events(&app, &key).await;
    assert!(events.contains(&(
        "first_response".into(),
        SlaEventKind::Warned,
        berlin(2026, 12, 7, 10, 20)
    )));
    assert_eq!(count(&events, "first_response", SlaEventKind::Breached), 0);

    // 10:50 sharp: the breach.
    let report = tick(&app, berlin(2026, 12, 7, 10, 50)).await;
    assert_eq!((report.warnings, report.breaches), (0, 1));
    let events = sla_events(&app, &key).await;
    assert!(events.contains(&(
        "first_response".into(),
        SlaEventKind::Breached,
        berlin(2026, 12, 7, 10, 50)
    )));

    // The schedule fires twice, and late: nothing more is recorded or sent.
    let mails = sla_mails(&app);
    let (first, second) = tokio::join!(
        sla::check(&app.services, StdDuration::from_secs(30)),
        sla::check(&app.services, StdDuration::from_secs(30)),
    );
    assert_eq!(first.unwrap().breaches + second.unwrap().breaches, 0);
    tick(&app, berlin(2026, 12, 7, 11, 30)).await;
    drain(&app).await;
    let events = sla_events(&app, &key).await;
    assert_eq!(count(&events, "first_response", SlaEventKind::Warned), 1);
    assert_eq!(count(&events, "first_response", SlaEventKind::Breached), 1);
    assert_eq!(sla_mails(&app).len(), mails.len());

    // Told once each: mail to anna and the lead (billing's assignee is anna,
    // named twice, mailed once), one bus event, the trigger once.
    let mails = sla_mails(&app);
    let to_lead = mails
        .iter()
        .filter(|m| m.contains("lead@example.com"))
        .count();
    let to_anna = mails
        .iter()
        .filter(|m| m.contains("anna@example.com"))
        .count();
    assert_eq!(
        (to_lead, to_anna),
        (2, 2),
        "a warning and a breach each: {mails:#?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("SLA breach") && m.contains(&key.to_string()))
    );
    assert_eq!(bus_events(&app, "SlaWarning"), 1);
    assert_eq!(bus_events(&app, "SlaBreach"), 1);
    let ticket = app.ticket(&key).await;
    assert!(
        ticket.tags.contains(&"sla-breached".to_owned()),
        "{:?}",
        ticket.tags
    );
    let trigger_comments = app
        .timeline(&key)
        .await
        .into_iter()
        .filter(|e| matches!(&e.event, TimelineEvent::Comment { body, .. } if body == "SLA breach of first_response"))
        .count();
    assert_eq!(trigger_comments, 1);
    assert!(ticket.sla.timer("first_response").unwrap().breached);
    assert_eq!(
        ticket.sla.next_due(),
        Some(berlin(2026, 12, 7, 14, 50)),
        "resolution warns at 6h"
    );
}

#[tokio::test]
async fn a_pause_in_need_info_moves_the_deadline_by_exactly_the_paused_business_time() {
    let app = sqlite_app();
    let key = new_ticket(&app, berlin(2026, 12, 7, 9, 0), "other").await;
    let calendar = app.services.config.calendar("nine_to_six").unwrap().clone();
    let original = stored_timer(&app, &key, "resolution")
        .await
        .deadline
        .unwrap();
    assert_eq!(original, berlin(2026, 12, 7, 17, 0));

    let paused_at = berlin(2026, 12, 7, 10, 0);
    let resumed_at = berlin(2026, 12, 8, 11, 30);
    agent_does(&app, &key, paused_at, status("Need info")).await;
    let timer = stored_timer(&app, &key, "resolution").await;
    assert_eq!(timer.state, TimerState::Paused);
    assert_eq!(timer.deadline, None);
    assert_eq!(timer.spent_us, 3_600_000_000);

    // The paused evening does not breach resolution (first response, which
    // no answer stopped, does).
    tick(&app, berlin(2026, 12, 7, 17, 30)).await;
    let events = sla_events(&app, &key).await;
    assert_eq!(count(&events, "resolution", SlaEventKind::Breached), 0);
    assert_eq!(count(&events, "first_response", SlaEventKind::Breached), 1);

    agent_does(&app, &key, resumed_at, status("Open")).await;
    let timer = stored_timer(&app, &key, "resolution").await;
    assert_eq!(timer.state, TimerState::Running);
    let paused = calendar.elapsed(paused_at, resumed_at);
    assert_eq!(paused, Duration::minutes(10 * 60 + 30));
    assert_eq!(timer.deadline, Some(calendar.add(original, paused)));
    assert_eq!(timer.deadline, Some(berlin(2026, 12, 9, 9, 30)));

    let events = sla_events(&app, &key).await;
    assert!(events.contains(&("resolution".into(), SlaEventKind::Paused, paused_at)));
    assert!(events.contains(&("resolution".into(), SlaEventKind::Resumed, resumed_at)));

    // Resolved in time: met, and out of the due index.
    agent_does(&app, &key, berlin(2026, 12, 9, 9, 0), status("Resolved")).await;
    let ticket = app.ticket(&key).await;
    assert_eq!(
        ticket.sla.timer("resolution").unwrap().state,
        TimerState::Met
    );
}

#[tokio::test]
async fn the_teams_first_public_answer_meets_first_response_and_a_customer_reply_rearms_next_response()
 {
    let app = sqlite_app();
    let key = new_ticket(&app, berlin(2026, 12, 7, 9, 0), "login").await;
    // An internal note is not an answer.
    agent_does(
        &app,
        &key,
        berlin(2026, 12, 7, 9, 10),
        comment(false, "Looking into it"),
    )
    .await;
    assert_eq!(
        stored_timer(&app, &key, "first_response").await.state,
        TimerState::Running
    );
    agent_does(
        &app,
        &key,
        berlin(2026, 12, 7, 9, 40),
        comment(true, "Please try again now."),
    )
    .await;
    let ticket = app.ticket(&key).await;
    let first = ticket.sla.timer("first_response").unwrap();
    assert_eq!(first.state, TimerState::Met);
    assert_eq!(first.spent_us, 40 * 60 * 1_000_000);
    assert!(
        ticket.sla.timer("next_response").is_none(),
        "no customer reply yet"
    );

    // The customer answers by mail: next response starts (cycle 1), the
    // team answers, then the customer again: cycle 2.
    let reply = |n: u32| {
        format!(
            "From: Jane Doe <jane.doe@customer.org>\r\nTo: support@example.com\r\nSubject: Re: [{key}] Cannot export invoices\r\nMessage-ID: <reply-{n}@customer.org>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0100\r\n\r\nStill broken ({n}).\r\n"
        )
    };
    app.clock.set(berlin(2026, 12, 7, 10, 0));
    app.deliver(reply(1)).await.unwrap();
    drain(&app).await;
    let next = stored_timer(&app, &key, "next_response").await;
    assert_eq!((next.state, next.cycle), (TimerState::Running, 1));
    assert_eq!(next.deadline, Some(berlin(2026, 12, 7, 14, 0)));
    agent_does(
        &app,
        &key,
        berlin(2026, 12, 7, 11, 0),
        comment(true, "Fixed, sorry."),
    )
    .await;
    assert_eq!(
        stored_timer(&app, &key, "next_response").await.state,
        TimerState::Met
    );
    app.clock.set(berlin(2026, 12, 7, 16, 0));
    app.deliver(reply(2)).await.unwrap();
    drain(&app).await;
    let next = stored_timer(&app, &key, "next_response").await;
    assert_eq!(
        (next.state, next.cycle, next.spent_us),
        (TimerState::Running, 2, 0)
    );
    assert_eq!(next.deadline, Some(berlin(2026, 12, 8, 11, 0)));
    // Redelivering every change changes nothing.
    let before = app.timeline(&key).await.len();
    let feed = app.store.change_feed().unwrap();
    for change in feed.changes_after(0, 1000).await.unwrap_or_default() {
        helpdesk::automation::process(&app.services, change.before, change.after)
            .await
            .unwrap();
    }
    assert_eq!(app.timeline(&key).await.len(), before);
}

#[tokio::test]
async fn a_priority_change_keeps_the_time_spent_and_takes_the_new_target() {
    let app = sqlite_app();
    let key = new_ticket(&app, berlin(2026, 12, 7, 9, 0), "other").await;
    let deadline = stored_timer(&app, &key, "first_response").await.deadline;
    assert_eq!(deadline, Some(berlin(2026, 12, 7, 11, 0)));
    // After 10 minutes the ticket becomes critical: 30 minutes in all.
    agent_does(
        &app,
        &key,
        berlin(2026, 12, 7, 9, 10),
        AgentUpdate {
            priority: Some("critical".into()),
            ..AgentUpdate::default()
        },
    )
    .await;
    let timer = stored_timer(&app, &key, "first_response").await;
    assert_eq!(timer.spent_us, 10 * 60 * 1_000_000);
    assert_eq!(timer.limit_us, 30 * 60 * 1_000_000);
    assert_eq!(timer.deadline, Some(berlin(2026, 12, 7, 9, 30)));
    assert_eq!(timer.warn_at, Some(berlin(2026, 12, 7, 9, 20)));
}

#[tokio::test]
async fn a_run_out_of_budget_leaves_the_rest_for_the_next_run_and_loses_none() {
    let app = sqlite_app();
    let mut keys = Vec::new();
    for minute in 0..5 {
        keys.push(new_ticket(&app, berlin(2026, 12, 7, 9, minute), "other").await);
    }
    app.clock.set(berlin(2026, 12, 7, 12, 0));
    let cut = sla::check(&app.services, StdDuration::ZERO).await.unwrap();
    assert!(!cut.finished);
    assert_eq!(cut.tickets, 0);
    let rest = sla::check(&app.services, StdDuration::from_secs(30))
        .await
        .unwrap();
    assert!(rest.finished);
    assert_eq!((rest.tickets, rest.breaches), (5, 5));
    for key in &keys {
        assert!(
            app.ticket(key)
                .await
                .sla
                .timer("first_response")
                .unwrap()
                .breached
        );
    }
}

/// Hands stream batches to the `ticket-triggers` handler code until the
/// stream is quiet; every record must succeed.
async fn run_stream(app: &TestApp, stream: &mut helpdesk_tests::stream::StreamReader) {
    for _ in 0..30 {
        let batch = stream.next_batch().await;
        if batch["Records"].as_array().unwrap().is_empty() {
            return;
        }
        let (response, reports) =
            helpdesk::automation::stream::handle_batch(&app.services, &batch).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "no record fails: {reports:?}"
        );
    }
    panic!("the stream does not go quiet");
}

#[tokio::test]
async fn over_dynamodb_the_checker_queries_only_the_due_index_and_the_breach_is_told_once_through_the_stream()
 {
    let Some(store) = helpdesk_tests::conformance::dynamodb_store().await else {
        return;
    };
    let endpoint = helpdesk_tests::moto::endpoint().expect("moto is up when the store is");
    let table = store.table().to_owned();
    let counting = store.clone();
    let app = app_over(Arc::new(store));
    let mut stream = helpdesk_tests::stream::StreamReader::open(&endpoint, &table).await;

    app.clock.set(berlin(2026, 12, 4, 17, 50));
    let key = app
        .post_json(
            "support",
            json!({"email": "jane.doe@customer.org", "subject": "Export", "message": "Broken", "topic": "billing"}),
        )
        .await
        .ticket();
    run_stream(&app, &mut stream).await;
    let timer = stored_timer(&app, &key, "first_response").await;
    assert_eq!(timer.deadline, Some(berlin(2026, 12, 7, 10, 50)));

    // Monday 11:00, the checker was down all morning: warning and breach
    // are recorded at their own instants, with reads of the due index,
    // the ticket and its pending entries only.
    app.clock.set(berlin(2026, 12, 7, 11, 0));
    let before = counting.request_counts();
    let report = sla::check(&app.services, StdDuration::from_secs(30))
        .await
        .unwrap();
    let after = counting.request_counts();
    assert_eq!((report.warnings, report.breaches), (1, 1));
    assert_eq!(
        after.get_item - before.get_item,
        2,
        "one consistent read of the due ticket by the checker, one by the store's \
         update (the listing index entries the stored ticket leaves)"
    );
    assert_eq!(
        after.transact_write_items - before.transact_write_items,
        1,
        "one conditional write"
    );
    // One Query per due index shard (a short page lists everything due),
    // plus one Query of the ticket's pending timeline entries.
    assert_eq!(after.query - before.query, 8 + 1);
    let events = sla_events(&app, &key).await;
    assert!(events.contains(&(
        "first_response".into(),
        SlaEventKind::Warned,
        berlin(2026, 12, 7, 10, 20)
    )));
    assert!(events.contains(&(
        "first_response".into(),
        SlaEventKind::Breached,
        berlin(2026, 12, 7, 10, 50)
    )));

    run_stream(&app, &mut stream).await;
    let again = sla::check(&app.services, StdDuration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(again.written, 0);
    run_stream(&app, &mut stream).await;
    assert_eq!(bus_events(&app, "SlaBreach"), 1);
    assert_eq!(bus_events(&app, "SlaWarning"), 1);
    let breach_mails = sla_mails(&app)
        .iter()
        .filter(|m| m.contains("SLA breach"))
        .count();
    assert_eq!(breach_mails, 2, "anna and the lead, once each");
    assert!(
        app.ticket(&key)
            .await
            .tags
            .contains(&"sla-breached".to_owned())
    );
}

#[tokio::test]
async fn one_run_pages_through_more_due_tickets_than_one_read_takes() {
    let app = sqlite_app();
    let count = sla::check::PAGE + 30;
    for n in 0..count {
        let second = u32::try_from(n % 60).unwrap();
        let minute = u32::try_from(n / 60).unwrap();
        app.clock
            .set(berlin(2026, 12, 7, 9, minute) + Duration::seconds(i64::from(second)));
        app.post_json(
            "support",
            json!({"email": format!("c{n}@customer.org"), "subject": "Help", "message": "Please", "topic": "other"}),
        )
        .await;
    }
    drain(&app).await;
    let report = tick(&app, berlin(2026, 12, 7, 12, 0)).await;
    assert!(report.finished);
    assert_eq!((report.tickets, report.breaches), (count, count));
    assert_eq!(
        report.due_read, count,
        "each due ticket is read from the index once"
    );
}
