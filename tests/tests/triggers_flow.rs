//! The trigger engine end to end: the support-lines scenario of the example
//! config over SQLite (the change feed `helpdesk serve` runs) and over
//! DynamoDB (real stream records read from moto, handled as the
//! `ticket-triggers` function handles them); the depth limit; redelivery;
//! a crash between two side effects; group assignment with a cap.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use helpdesk::app::Services;
use helpdesk::automation::engine::{EffectStatus, Outcome, react};
use helpdesk::automation::source::change_from_write;
use helpdesk::automation::{DeliveryError, WebhookSender, feed, stream};
use helpdesk::domain::{Actor, QueueKey, Ticket, TicketKey, TimelineEvent, TriggerNoteKind};
use helpdesk::store::sqlite::SqliteStore;
use helpdesk::store::{FeedChange, Store};
use helpdesk::tickets;
use helpdesk::triggers::Trigger;
use helpdesk_tests::app::{TestApp, spawn_app_with_secrets};
use helpdesk_tests::conformance::dynamodb_store;
use helpdesk_tests::moto;
use helpdesk_tests::stream::StreamReader;
use helpdesk_tests::webhook::WebhookReceiver;
use serde_json::json;

const CHAT_ID: &str = "-1001234567";

fn billing_request() -> serde_json::Value {
    json!({
        "name": "Jane Doe",
        "email": "jane.doe@customer.org",
        "subject": "Charged twice for March",
        "message": "My card was charged twice. Please refund one.",
        "topic": "billing",
        "customer_id": "C-1042"
    })
}

/// A helpdesk over `store` whose Telegram trigger posts to `receiver`.
fn app_over(store: Arc<dyn Store>, receiver: &WebhookReceiver, extra: &str) -> TestApp {
    let dir = std::env::temp_dir().join(format!(
        "helpdesk-triggers-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let blob_dir = dir.join("blobs");
    let blobs = Arc::new(helpdesk::blobs::LocalBlobs::new(&blob_dir));
    let secrets = BTreeMap::from([
        (
            "HELPDESK_TELEGRAM_URL".to_owned(),
            receiver.url("/bot-test-token/sendMessage"),
        ),
        ("HELPDESK_TELEGRAM_CHAT_ID".to_owned(), CHAT_ID.to_owned()),
        ("TEST_HOOK_ONE".to_owned(), receiver.url("/one")),
        ("TEST_HOOK_TWO".to_owned(), receiver.url("/two")),
    ]);
    let mut app = spawn_app_with_secrets(store, blobs, dir, blob_dir, secrets);
    if !extra.is_empty() {
        let added: Vec<Trigger> = serde_saphyr::from_str(extra).expect("test triggers parse");
        let mut config = (*app.services.config).clone();
        let sup = config.queues.get_mut(&sup()).unwrap();
        sup.triggers.extend(added);
        let findings = helpdesk::config::validate::validate(&config);
        assert!(findings.is_empty(), "test triggers are valid: {findings:?}");
        app.services.config = Arc::new(config);
    }
    app
}

fn sup() -> QueueKey {
    QueueKey::parse("SUP").unwrap()
}

fn sqlite_app(receiver: &WebhookReceiver, extra: &str) -> TestApp {
    let path = std::env::temp_dir().join(format!(
        "helpdesk-triggers-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    app_over(Arc::new(SqliteStore::open(path).unwrap()), receiver, extra)
}

/// Runs the SQLite change feed until it is drained.
async fn drain(app: &TestApp) -> feed::Pass {
    let feed = app.store.change_feed().expect("SQLite has a change feed");
    let pass = feed::drain(&app.services, feed).await.unwrap();
    assert!(pass.retry.is_none(), "nothing to retry: {:?}", pass.retry);
    pass
}

/// Drains the change feed like [`drain`], keeping every change as it was
/// delivered, for redelivery.
async fn drain_capturing(app: &TestApp) -> Vec<FeedChange> {
    let feed = app.store.change_feed().unwrap();
    let mut seen = Vec::new();
    loop {
        let cursor = feed.cursor(feed::CURSOR).await.unwrap();
        let batch = feed.changes_after(cursor, 100).await.unwrap();
        if batch.is_empty() {
            return seen;
        }
        seen.extend(batch);
        feed::run_once(&app.services, feed, 100).await.unwrap();
    }
}

/// Delivers `changes` to the engine again, as a redelivered stream batch or
/// a feed replayed after a crash would.
async fn redeliver(app: &TestApp, changes: Vec<FeedChange>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for change in changes {
        let change = change_from_write(app.store.as_ref(), change.before, change.after)
            .await
            .unwrap();
        outcomes.push(react(&app.services, &change).await.unwrap());
    }
    outcomes
}

async fn ticket(app: &TestApp, key: &TicketKey) -> Ticket {
    app.store.get_ticket(key).await.unwrap().unwrap()
}

/// An agent changes a ticket, as the agent UI or API would.
async fn agent_changes(app: &TestApp, key: &TicketKey, edit: impl Fn(&mut Ticket) + Send + Sync) {
    app.clock.advance(chrono::Duration::minutes(5));
    tickets::apply(
        app.store.as_ref(),
        &app.services.config,
        key,
        &Actor::Agent {
            login: "boris".into(),
            via: None,
        },
        helpdesk::clock::Clock::now(app.clock.as_ref()),
        &[],
        |t| {
            let before = t.clone();
            edit(t);
            tickets::field_changes(&before, t)
        },
    )
    .await
    .unwrap();
}

fn telegram_calls(receiver: &WebhookReceiver) -> Vec<serde_json::Value> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.path.ends_with("/sendMessage"))
        .map(|r| r.body)
        .collect()
}

fn notes(timeline: &[helpdesk::domain::TimelineEntry]) -> Vec<(TriggerNoteKind, String)> {
    timeline
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::TriggerNote { kind, message, .. } => Some((*kind, message.clone())),
            _ => None,
        })
        .collect()
}

/// Checks the first two steps of the scenario on a fresh billing ticket.
async fn assert_first_line_billing(app: &TestApp, key: &TicketKey, receiver: &WebhookReceiver) {
    let t = ticket(app, key).await;
    assert_eq!(t.line, Some(1));
    assert_eq!(t.components, vec!["Billing".to_owned()]);
    assert_eq!(t.status, "First line", "line 1 sets the first-line status");
    assert_eq!(t.assignee.as_deref(), Some("anna"), "Billing's owner");
    let timeline = app.store.timeline(key).await.unwrap();
    let by_triggers: Vec<(String, String)> = timeline
        .iter()
        .filter_map(|e| match (&e.actor, &e.event) {
            (Actor::Trigger { name }, TimelineEvent::FieldChanged { field, .. }) => {
                Some((field.clone(), name.clone()))
            }
            _ => None,
        })
        .collect();
    assert!(
        by_triggers.iter().any(|(f, _)| f == "status")
            && by_triggers.iter().any(|(f, _)| f == "assignee"),
        "the timeline says which trigger changed what: {by_triggers:?}"
    );
    let calls = telegram_calls(receiver);
    assert_eq!(
        calls.len(),
        1,
        "New -> First line is one status change: {calls:?}"
    );
    assert_eq!(
        calls[0]["chat_id"],
        json!(-1_001_234_567_i64),
        "numeric chat ids go as numbers"
    );
    let text = calls[0]["text"].as_str().unwrap();
    assert!(
        text.contains(&key.to_string()) && text.contains("First line"),
        "{text}"
    );
}

#[tokio::test]
async fn support_lines_scenario_over_the_sqlite_change_feed() {
    let receiver = WebhookReceiver::start().await;
    let app = sqlite_app(&receiver, "");
    let key = app.post_json("support", billing_request()).await.ticket();
    drain(&app).await;
    assert_first_line_billing(&app, &key, &receiver).await;

    // An agent escalates to the second line.
    agent_changes(&app, &key, |t| t.line = Some(2)).await;
    drain(&app).await;
    let t = ticket(&app, &key).await;
    assert_eq!(t.status, "Second line");
    assert_eq!(t.assignee.as_deref(), Some("anna"), "the assignee stays");
    let calls = telegram_calls(&receiver);
    assert_eq!(calls.len(), 2, "one more status change, one more message");
    assert!(calls[1]["text"].as_str().unwrap().contains("Second line"));

    // Nothing else is pending, and running again does nothing.
    let again = drain(&app).await;
    assert_eq!(again.processed, 0);
    assert_eq!(telegram_calls(&receiver).len(), 2);
    assert!(notes(&app.store.timeline(&key).await.unwrap()).is_empty());
}

#[tokio::test]
async fn support_lines_scenario_over_dynamodb_stream_records() {
    let Some(store) = dynamodb_store().await else {
        return;
    };
    let endpoint = moto::endpoint().expect("moto is up when the store is");
    let table = store.table().to_owned();
    let receiver = WebhookReceiver::start().await;
    let app = app_over(Arc::new(store), &receiver, "");
    let mut stream = StreamReader::open(&endpoint, &table).await;

    let key = app.post_json("support", billing_request()).await.ticket();
    let batches = run_stream(&app.services, &mut stream).await;
    assert!(
        batches >= 2,
        "the trigger write comes back through the stream"
    );
    assert_first_line_billing(&app, &key, &receiver).await;

    agent_changes(&app, &key, |t| t.line = Some(2)).await;
    run_stream(&app.services, &mut stream).await;
    assert_eq!(ticket(&app, &key).await.status, "Second line");
    assert_eq!(telegram_calls(&receiver).len(), 2);
}

/// Hands stream batches to the function's handler until the stream is
/// quiet; every batch must succeed. Answers how many batches had records.
async fn run_stream(services: &Services, stream: &mut StreamReader) -> usize {
    for batches in 0..20 {
        let batch = stream.next_batch().await;
        if batch["Records"].as_array().unwrap().is_empty() {
            return batches;
        }
        let (response, reports) = stream::handle_batch(services, &batch).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "no record fails: {reports:?}"
        );
    }
    panic!("the stream never went quiet: a trigger loop?");
}

const PING_PONG: &str = r#"
- name: Ping
  on: [fields_changed]
  when: { field: tags, became: ping }
  do:
    - set: { tags: { remove: [ping], add: [pong] } }
- name: Pong
  on: [fields_changed]
  when: { field: tags, became: pong }
  do:
    - set: { tags: { remove: [pong], add: [ping] } }
"#;

#[tokio::test]
async fn a_trigger_loop_stops_at_the_depth_limit_with_the_reason_recorded() {
    let receiver = WebhookReceiver::start().await;
    let app = sqlite_app(&receiver, PING_PONG);
    let key = app.post_json("support", billing_request()).await.ticket();
    drain(&app).await;
    let version_before = ticket(&app, &key).await.version;

    agent_changes(&app, &key, |t| t.tags.push("ping".into())).await;
    drain(&app).await;

    let t = ticket(&app, &key).await;
    // Depths 1..=5 are trigger writes; the change at depth 5 is stopped
    // and the stop is recorded in one more write.
    assert_eq!(
        t.version,
        version_before + 1 + 5 + 1,
        "bounded: {}",
        t.version
    );
    let timeline = app.store.timeline(&key).await.unwrap();
    let notes = notes(&timeline);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, TriggerNoteKind::Stopped);
    assert!(
        notes[0].1.contains("depth limit 5") && notes[0].1.contains("Pong"),
        "{}",
        notes[0].1
    );
    assert_eq!(drain(&app).await.processed, 0, "and then it is quiet");
}

#[tokio::test]
async fn redelivered_changes_write_and_send_nothing_twice() {
    let receiver = WebhookReceiver::start().await;
    let app = sqlite_app(&receiver, "");
    let key = app.post_json("support", billing_request()).await.ticket();
    agent_changes(&app, &key, |t| t.line = Some(2)).await;
    let seen = drain_capturing(&app).await;
    let timeline = app.store.timeline(&key).await.unwrap().len();
    let version = ticket(&app, &key).await.version;
    let calls = receiver.received().len();
    let mails = app.outbox.list().unwrap().len();
    assert!(calls >= 1);

    for outcome in redeliver(&app, seen).await {
        assert!(
            outcome
                .effects
                .iter()
                .all(|e| e.status == EffectStatus::AlreadyDone),
            "{:?}",
            outcome.effects
        );
    }
    assert_eq!(app.store.timeline(&key).await.unwrap().len(), timeline);
    assert_eq!(ticket(&app, &key).await.version, version);
    assert_eq!(receiver.received().len(), calls);
    assert_eq!(app.outbox.list().unwrap().len(), mails);
}

const TWO_HOOKS: &str = r#"
- name: Tell two systems
  on: [created]
  do:
    - webhook: { url_env: TEST_HOOK_ONE, text: "one {{ ticket.key }}" }
    - webhook: { url_env: TEST_HOOK_TWO, text: "two {{ ticket.key }}" }
"#;

/// Forwards the first call and then hangs on every later one, as a process
/// does when it dies in the middle of its work.
struct DiesOnSecondCall {
    inner: Arc<dyn WebhookSender>,
    calls: Mutex<usize>,
    hung: tokio::sync::Notify,
}

#[async_trait]
impl WebhookSender for DiesOnSecondCall {
    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        id: &str,
    ) -> Result<(), DeliveryError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        if n == 1 {
            return self.inner.post(url, body, id).await;
        }
        self.hung.notify_one();
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_crash_between_two_side_effects_sends_each_exactly_once() {
    let receiver = WebhookReceiver::start().await;
    let mut app = sqlite_app(&receiver, TWO_HOOKS);
    let key = app.post_json("support", billing_request()).await.ticket();
    let feed = app.store.change_feed().unwrap();
    let created = feed.changes_after(0, 1).await.unwrap().remove(0);
    let change = change_from_write(app.store.as_ref(), created.before, created.after)
        .await
        .unwrap();

    let real = app.services.webhooks.clone();
    let dying = Arc::new(DiesOnSecondCall {
        inner: real.clone(),
        calls: Mutex::new(0),
        hung: tokio::sync::Notify::new(),
    });
    let mut crashing = app.services.clone();
    crashing.webhooks = dying.clone();
    let attempt = {
        let change = change.clone();
        tokio::spawn(async move { react(&crashing, &change).await })
    };
    dying.hung.notified().await;
    attempt.abort();
    let hooks = |r: &WebhookReceiver| {
        r.received()
            .into_iter()
            .filter(|c| c.path == "/one" || c.path == "/two")
            .map(|c| c.path)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        hooks(&receiver),
        vec!["/one"],
        "died before the second call"
    );

    // Redelivered at once: the interrupted delivery may still be running
    // elsewhere, so it is left for later, and the first is not repeated.
    app.services.webhooks = real;
    let early = react(&app.services, &change).await;
    assert!(early.is_err_and(|e| e.is_temporary()));
    assert_eq!(hooks(&receiver), vec!["/one"]);

    // Redelivered later: the second goes out, the first still not again.
    app.clock.advance(chrono::Duration::minutes(2));
    let outcome = react(&app.services, &change).await.unwrap();
    let statuses: Vec<_> = outcome.effects.iter().map(|e| e.status.clone()).collect();
    assert_eq!(
        statuses,
        vec![EffectStatus::AlreadyDone, EffectStatus::Done]
    );
    assert_eq!(hooks(&receiver), vec!["/one", "/two"]);
    let keys: Vec<_> = receiver
        .received()
        .into_iter()
        .filter_map(|c| c.idempotency_key)
        .collect();
    assert!(
        keys.iter().all(|k| k.starts_with(&key.to_string())),
        "{keys:?}"
    );
}

const FAILING_HOOK: &str = r#"
- name: Tell a broken system
  on: [created]
  do:
    - webhook: { url_env: TEST_HOOK_ONE, text: "hello" }
"#;

#[tokio::test]
async fn webhook_failures_retry_when_temporary_and_are_recorded_when_permanent() {
    let receiver = WebhookReceiver::start().await;
    let app = sqlite_app(&receiver, FAILING_HOOK);
    let key = app.post_json("support", billing_request()).await.ticket();
    let feed = app.store.change_feed().unwrap();

    receiver.answer_with(503);
    let pass = feed::run_once(&app.services, feed, 100).await.unwrap();
    assert!(pass.retry.is_some(), "a 503 is retried");
    assert_eq!(
        feed.cursor(feed::CURSOR).await.unwrap(),
        0,
        "the cursor waits"
    );

    receiver.answer_with(200);
    drain(&app).await;
    let ones = |r: &WebhookReceiver| r.received().iter().filter(|c| c.path == "/one").count();
    assert_eq!(ones(&receiver), 2, "the failed call and its retry");

    // A receiver that stays down is given up on after three attempts, with
    // the reason on the ticket, so later changes are not held up.
    let receiver3 = WebhookReceiver::start().await;
    let app3 = sqlite_app(&receiver3, FAILING_HOOK);
    receiver3.answer_with(503);
    let key3 = app3.post_json("support", billing_request()).await.ticket();
    let feed3 = app3.store.change_feed().unwrap();
    // (The Telegram notice of the status change hits the same dead
    // receiver and is given up on the same way.)
    let mut passes = 0;
    while feed::run_once(&app3.services, feed3, 100)
        .await
        .unwrap()
        .retry
        .is_some()
    {
        passes += 1;
        assert!(passes < 10, "retries are bounded");
    }
    assert_eq!(ones(&receiver3), 3);
    let gave_up = notes(&app3.store.timeline(&key3).await.unwrap());
    assert!(
        gave_up
            .iter()
            .any(|(k, m)| *k == TriggerNoteKind::Failed && m.contains("gave up after 3 attempts")),
        "{gave_up:?}"
    );
    drain(&app3).await;
    assert_eq!(ones(&receiver3), 3, "and not tried again");

    // A permanent failure is recorded on the ticket and not retried.
    let receiver2 = WebhookReceiver::start().await;
    let app2 = sqlite_app(&receiver2, FAILING_HOOK);
    receiver2.answer_with(404);
    let key2 = app2.post_json("support", billing_request()).await.ticket();
    drain(&app2).await;
    drain(&app2).await;
    assert_eq!(ones(&receiver2), 1);
    let notes = notes(&app2.store.timeline(&key2).await.unwrap());
    assert!(
        notes
            .iter()
            .any(|(k, m)| *k == TriggerNoteKind::Failed && m.contains("404")),
        "{notes:?}"
    );
    assert!(
        notes.iter().all(|(_, m)| !m.contains("/one")),
        "URLs stay secret"
    );
    let _ = key;
}

const ROUND_ROBIN: &str = r#"
- name: Share out other questions
  on: [created]
  when: { field: assignee, empty: true }
  do:
    - assign: { round_robin: [carla, dmitri], cap: 2 }
"#;

fn other_request(n: usize) -> serde_json::Value {
    json!({
        "email": format!("customer{n}@example.org"),
        "subject": format!("Question {n}"),
        "message": "How do I export my data?",
        "topic": "other"
    })
}

#[tokio::test]
async fn round_robin_takes_turns_up_to_the_cap_and_leaves_the_rest_in_the_queue() {
    let receiver = WebhookReceiver::start().await;
    let app = sqlite_app(&receiver, ROUND_ROBIN);
    let mut keys = Vec::new();
    for n in 0..5 {
        keys.push(app.post_json("support", other_request(n)).await.ticket());
        drain(&app).await;
    }
    let mut assignees = Vec::new();
    for key in &keys {
        assignees.push(ticket(&app, key).await.assignee);
    }
    let named: Vec<Option<&str>> = assignees.iter().map(|a| a.as_deref()).collect();
    assert_eq!(
        named,
        vec![
            Some("carla"),
            Some("dmitri"),
            Some("carla"),
            Some("dmitri"),
            None
        ],
        "turns, then everyone at the cap of 2"
    );
    let last = notes(&app.store.timeline(&keys[4]).await.unwrap());
    assert!(
        last.iter().any(|(k, _)| *k == TriggerNoteKind::Unassigned),
        "{last:?}"
    );

    // A ticket waiting for the customer does not count as work.
    agent_changes(&app, &keys[0], |t| t.status = "Need info".into()).await;
    drain(&app).await;
    let sixth = app.post_json("support", other_request(6)).await.ticket();
    drain(&app).await;
    assert_eq!(
        ticket(&app, &sixth).await.assignee.as_deref(),
        Some("carla")
    );
}

const MAIL_THE_REQUESTER: &str = r#"
- name: Tell the requester who has it
  on: [fields_changed]
  when: { field: assignee, became: anna }
  do:
    - email:
        to: requester
        subject: "Your request {{ ticket.key }} is with {{ ticket.assignee }}"
        template: "Hello, {{ ticket.assignee }} is looking at {{ ticket.key }}."
"#;

#[tokio::test]
async fn a_trigger_mail_goes_out_once_and_is_on_the_timeline() {
    let receiver = WebhookReceiver::start().await;
    let app = sqlite_app(&receiver, MAIL_THE_REQUESTER);
    let key = app.post_json("support", billing_request()).await.ticket();
    let seen = drain_capturing(&app).await;
    let mails = app.outbox.list().unwrap();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let raw = std::fs::read_to_string(&mails[0]).unwrap();
    assert!(raw.contains("To: <jane.doe@customer.org>") || raw.contains("jane.doe@customer.org"));
    assert!(raw.contains("is with anna"), "{raw}");
    assert!(
        raw.contains("Auto-Submitted: auto-replied"),
        "automatic mail is marked"
    );
    let sent: Vec<_> = app
        .store
        .timeline(&key)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event, TimelineEvent::EmailOut { .. }))
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(
        matches!(&sent[0].actor, Actor::Trigger { name } if name == "Tell the requester who has it")
    );

    // Every change delivered again: still one mail.
    redeliver(&app, seen).await;
    assert_eq!(app.outbox.list().unwrap().len(), 1);
}

const ANSWER_PUBLICLY: &str = r#"
- name: Tell the requester billing has it
  on: [fields_changed]
  when: { field: assignee, became: anna }
  do:
    - comment: { public: true, template: "Billing has your request {{ ticket.key }} now." }
    - comment: { template: "Told the requester." }
"#;

#[tokio::test]
async fn a_triggers_public_comment_is_mailed_to_the_requester_once_and_an_internal_one_is_not() {
    let receiver = WebhookReceiver::start().await;
    let app = sqlite_app(&receiver, ANSWER_PUBLICLY);
    let key = app.post_json("support", billing_request()).await.ticket();
    let seen = drain_capturing(&app).await;
    let mails = app.sent();
    assert_eq!(mails.len(), 1, "the public comment only: {mails:?}");
    let raw = &mails[0].1;
    assert!(raw.contains("To: <jane.doe@customer.org>"), "{raw}");
    assert!(
        raw.contains(&format!("Billing has your request {key} now.")),
        "{raw}"
    );
    assert!(!raw.contains("Told the requester"), "{raw}");
    let timeline = app.store.timeline(&key).await.unwrap();
    let comments = timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::Comment { public: true, .. }))
        .count();
    let sent: Vec<_> = timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::EmailOut { .. }))
        .collect();
    assert_eq!((comments, sent.len()), (1, 1));
    assert!(
        matches!(&sent[0].actor, Actor::Trigger { name } if name == "Tell the requester billing has it")
    );

    // Every change delivered again: still one mail.
    redeliver(&app, seen).await;
    drain(&app).await;
    assert_eq!(app.outbox.list().unwrap().len(), 1);
}
