//! Customer satisfaction end to end, over SQLite (the change feed) and
//! DynamoDB on moto (the stream and the checker as the functions run
//! them): a ticket resolved by an agent asks its requester once, by mail,
//! with signed links to the rating page that `helpdesk serve` serves; the
//! page records the rating (a second answer changes it), a bad rating
//! reopens the ticket through the example's trigger, the agents report
//! counts the rating as it stands; forged, moved and expired links are
//! refused; a delayed survey goes out from the checker, and not at all
//! when the ticket was reopened first; automatic mail is never asked.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use helpdesk::auth::{Principal, Via};
use helpdesk::automation::feed;
use helpdesk::domain::{QueueKey, Score, TicketKey, TimelineEvent};
use helpdesk::store::Store;
use helpdesk::store::sqlite::SqliteStore;
use helpdesk::tickets::agent::{self, AgentUpdate};
use helpdesk_tests::app::{TestApp, spawn_app_with};
use helpdesk_tests::stream::StreamReader;
use serde_json::json;

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, day, hour, minute, 0)
        .single()
        .unwrap()
}

/// The example desk over `store`, its survey delayed by `delay` when
/// given.
fn app_over(store: Arc<dyn Store>, delay: Option<&str>) -> TestApp {
    let dir = std::env::temp_dir().join(format!("helpdesk-csat-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let blob_dir = dir.join("blobs");
    let blobs = Arc::new(helpdesk::blobs::LocalBlobs::new(&blob_dir));
    let mut app = spawn_app_with(store, blobs, dir, blob_dir);
    if let Some(delay) = delay {
        let mut config = (*app.services.config).clone();
        let queue = config
            .queues
            .get_mut(&QueueKey::parse("SUP").unwrap())
            .unwrap();
        let csat = queue.csat.as_mut().expect("the example asks for ratings");
        csat.delay = Some(serde_saphyr::from_str(&format!("\"{delay}\"")).unwrap());
        app.services.config = Arc::new(config);
    }
    app
}

fn sqlite_app(delay: Option<&str>) -> TestApp {
    let path = std::env::temp_dir().join(format!(
        "helpdesk-csat-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    app_over(Arc::new(SqliteStore::open(path).unwrap()), delay)
}

/// What processes the changes: the SQLite feed or the DynamoDB stream.
enum Changes {
    Feed,
    Stream(Box<StreamReader>),
}

impl Changes {
    /// Processes every change made so far.
    async fn settle(&mut self, app: &TestApp) {
        match self {
            Self::Feed => {
                let feed = app.store.change_feed().expect("SQLite has a change feed");
                let pass = feed::drain(&app.services, feed).await.unwrap();
                assert!(pass.retry.is_none(), "nothing to retry: {:?}", pass.retry);
            }
            Self::Stream(stream) => {
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
        }
    }
}

async fn new_ticket(app: &TestApp, changes: &mut Changes, email: &str) -> TicketKey {
    let key = app
        .post_json(
            "support",
            json!({"name": "Jane Doe", "email": email, "subject": "Export broken", "message": "Please help", "topic": "other"}),
        )
        .await
        .ticket();
    changes.settle(app).await;
    key
}

async fn boris_does(app: &TestApp, changes: &mut Changes, key: &TicketKey, update: AgentUpdate) {
    let boris = Principal::of(&app.services.config, "boris", Via::Cli).unwrap();
    agent::update(&app.services, key, &boris, update)
        .await
        .unwrap();
    changes.settle(app).await;
}

fn take_and_resolve() -> AgentUpdate {
    AgentUpdate {
        assignee: Some(Some("boris".into())),
        status: Some("Resolved".into()),
        ..AgentUpdate::default()
    }
}

fn status(name: &str) -> AgentUpdate {
    AgentUpdate {
        status: Some(name.into()),
        ..AgentUpdate::default()
    }
}

/// The survey mails in the outbox for `key`, as text with quoted-printable
/// soft breaks and `=3D` undone.
fn surveys(app: &TestApp, key: &TicketKey) -> Vec<String> {
    app.sent()
        .into_iter()
        .map(|(_, text)| {
            text.replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=")
        })
        .filter(|text| text.contains(&format!("Subject: [{key}] How did we do?")))
        .collect()
}

/// The link for `score` in a survey mail, moved onto `base` (the served
/// router; the mail points at the example's public URL).
fn link(mail: &str, score: &str, base: &str) -> String {
    let url = mail
        .lines()
        .filter_map(|line| line.split_once(": http"))
        .map(|(_, rest)| format!("http{}", rest.trim()))
        .find(|url| url.ends_with(&format!("?score={score}")))
        .unwrap_or_else(|| panic!("a link for {score} in {mail}"));
    url.replacen("http://127.0.0.1:8080", base, 1)
}

fn client() -> reqwest::Client {
    helpdesk::automation::webhook::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts the page's form to `url` (without its query).
async fn answer(url: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let target = url.split('?').next().unwrap();
    let response = client()
        .post(target)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn open(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = client().get(url).send().await.unwrap();
    let headers = response.headers().clone();
    (
        response.status().as_u16(),
        response.text().await.unwrap(),
        headers,
    )
}

fn ratings(timeline: &[helpdesk::domain::TimelineEntry]) -> Vec<(Score, Option<Score>)> {
    timeline
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::Rated {
                score, previous, ..
            } => Some((*score, *previous)),
            _ => None,
        })
        .collect()
}

/// `agent`'s row of the agents report of the last 30 days.
async fn agents_row(app: &TestApp, agent: &str) -> serde_json::Value {
    let agents = helpdesk::reports::run::from_store(
        &app.services.config,
        app.store.as_ref(),
        helpdesk::reports::run::Name::Agents,
        vec![QueueKey::parse("SUP").unwrap()],
        &helpdesk::reports::Asked::default(),
        app.services.clock.now(),
    )
    .await
    .unwrap();
    agents
        .rows
        .into_iter()
        .find(|r| r["agent"] == agent)
        .unwrap_or_else(|| panic!("{agent} has a row"))
}

/// The whole story on one store.
async fn a_resolved_ticket_is_rated_from_the_mail_and_a_second_answer_changes_the_rating(
    app: &TestApp,
    mut changes: Changes,
) {
    app.clock.set(at(7, 10, 0));
    let key = new_ticket(app, &mut changes, "jane.doe@customer.org").await;
    let other = new_ticket(app, &mut changes, "lee@customer.org").await;
    assert!(
        surveys(app, &key).is_empty(),
        "not asked before it is resolved"
    );

    app.clock.set(at(7, 11, 0));
    boris_does(app, &mut changes, &key, take_and_resolve()).await;
    let mails = surveys(app, &key);
    assert_eq!(mails.len(), 1, "one survey mail");
    assert!(
        mails[0].contains("To: <jane.doe@customer.org>"),
        "{}",
        mails[0]
    );

    // Reopened and resolved again: still asked once.
    boris_does(app, &mut changes, &key, status("Open")).await;
    boris_does(app, &mut changes, &key, status("Resolved")).await;
    assert_eq!(surveys(app, &key).len(), 1, "a ticket is asked once");

    let base = app.serve().await;
    let bad = link(&mails[0], "bad", &base);
    let (code, page, headers) = open(&bad).await;
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains(r#"value="bad" checked"#),
        "the link's choice is made: {page}"
    );
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        surveys(app, &key).len() == 1 && ratings(&app.timeline(&key).await).is_empty(),
        "opening the page records nothing"
    );

    // A bad rating, with a comment that is not HTML.
    let (code, page) = answer(&bad, &[("score", "bad"), ("comment", "Took <b>ages</b>")]).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Thank you"), "{page}");
    changes.settle(app).await;
    let ticket = app.ticket(&key).await;
    let rating = ticket.satisfaction.rating.clone().unwrap();
    assert_eq!(rating.score, Score::Bad);
    assert_eq!(rating.comment.as_deref(), Some("Took <b>ages</b>"));
    assert_eq!(
        ticket.status, "Open",
        "the example's trigger reopens a badly rated ticket"
    );
    let (_, page, _) = open(&bad).await;
    assert!(
        page.contains("Took &lt;b&gt;ages&lt;&#x2f;b&gt;</textarea>"),
        "the comment is shown as text: {page}"
    );

    // The second click changes the rating; the same answer again adds nothing.
    let good = link(&mails[0], "good", &base);
    assert_eq!(answer(&good, &[("score", "good")]).await.0, 200);
    assert_eq!(answer(&good, &[("score", "good")]).await.0, 200);
    changes.settle(app).await;
    let ticket = app.ticket(&key).await;
    assert_eq!(
        ticket.satisfaction.rating.as_ref().map(|r| r.score),
        Some(Score::Good)
    );
    assert_eq!(
        ratings(&app.timeline(&key).await),
        vec![(Score::Bad, None), (Score::Good, Some(Score::Bad))]
    );

    // The agents report counts the rating as it stands, for its holder.
    let boris = agents_row(app, "boris").await;
    assert_eq!(
        (boris["ratings"].as_u64(), boris["satisfied"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(boris["csat"].as_f64(), Some(1.0));

    // Refused: a score the scale does not offer, the token moved to another
    // ticket, a made-up token; then every link once expired.
    let (code, _) = answer(&good, &[("score", "5")]).await;
    assert_eq!(code, 422);
    let moved = good.replacen(&format!("/csat/{key}."), &format!("/csat/{other}."), 1);
    assert_ne!(moved, good);
    assert_eq!(open(&moved).await.0, 404);
    assert_eq!(answer(&moved, &[("score", "bad")]).await.0, 404);
    assert_eq!(
        open(&format!(
            "{base}/csat/{key}.9999999999.AAAAAAAAAAAAAAAAAAAAAA"
        ))
        .await
        .0,
        404
    );
    assert!(app.ticket(&other).await.satisfaction.rating.is_none());
    app.clock.set(at(7, 11, 0) + Duration::days(31));
    assert_eq!(open(&good).await.0, 410);
    assert_eq!(answer(&good, &[("score", "bad")]).await.0, 410);
    assert_eq!(
        app.ticket(&key).await.satisfaction.rating.map(|r| r.score),
        Some(Score::Good),
        "an expired link changes nothing"
    );
}

#[tokio::test]
async fn on_sqlite_a_resolved_ticket_is_rated_from_the_mail_and_a_second_answer_changes_the_rating()
{
    let app = sqlite_app(None);
    a_resolved_ticket_is_rated_from_the_mail_and_a_second_answer_changes_the_rating(
        &app,
        Changes::Feed,
    )
    .await;
}

#[tokio::test]
async fn on_dynamodb_a_resolved_ticket_is_rated_from_the_mail_and_a_second_answer_changes_the_rating()
 {
    let Some(store) = helpdesk_tests::conformance::dynamodb_store().await else {
        return;
    };
    let endpoint = helpdesk_tests::moto::endpoint().expect("moto is up when the store is");
    let stream = StreamReader::open(&endpoint, store.table()).await;
    let app = app_over(Arc::new(store), None);
    a_resolved_ticket_is_rated_from_the_mail_and_a_second_answer_changes_the_rating(
        &app,
        Changes::Stream(Box::new(stream)),
    )
    .await;
}

/// A survey delayed by an hour goes out from the checker once the hour has
/// passed, and not at all for a ticket reopened meanwhile.
async fn a_delayed_survey_waits_for_the_checker_and_is_dropped_when_the_ticket_moved_on(
    app: &TestApp,
    mut changes: Changes,
) {
    app.clock.set(at(7, 10, 0));
    let kept = new_ticket(app, &mut changes, "jane.doe@customer.org").await;
    let reopened = new_ticket(app, &mut changes, "lee@customer.org").await;
    app.clock.set(at(7, 11, 0));
    boris_does(app, &mut changes, &kept, take_and_resolve()).await;
    boris_does(app, &mut changes, &reopened, take_and_resolve()).await;
    assert!(surveys(app, &kept).is_empty(), "not before the delay");
    assert_eq!(
        app.ticket(&kept).await.satisfaction.ask_at,
        Some(at(7, 12, 0))
    );
    app.clock.set(at(7, 11, 20));
    boris_does(app, &mut changes, &reopened, status("In progress")).await;

    let check = |at: DateTime<Utc>| async move {
        app.clock.set(at);
        let report = helpdesk::sla::check(&app.services, StdDuration::from_secs(30))
            .await
            .unwrap();
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        report
    };
    check(at(7, 11, 59)).await;
    assert!(surveys(app, &kept).is_empty(), "still not due");
    let report = check(at(7, 12, 1)).await;
    changes.settle(app).await;
    assert_eq!(report.surveys, 2, "one asked, one dropped: {report:?}");
    assert_eq!(surveys(app, &kept).len(), 1);
    assert!(
        surveys(app, &reopened).is_empty(),
        "reopened before the delay: not asked"
    );
    for key in [&kept, &reopened] {
        assert_eq!(
            app.ticket(key).await.satisfaction.ask_at,
            None,
            "{key} left the due index"
        );
    }
    let again = check(at(7, 12, 5)).await;
    assert_eq!(again.surveys, 0);
    assert_eq!(surveys(app, &kept).len(), 1, "asked once");
}

#[tokio::test]
async fn on_sqlite_a_delayed_survey_waits_for_the_checker_and_is_dropped_when_the_ticket_moved_on()
{
    let app = sqlite_app(Some("1h"));
    a_delayed_survey_waits_for_the_checker_and_is_dropped_when_the_ticket_moved_on(
        &app,
        Changes::Feed,
    )
    .await;
}

#[tokio::test]
async fn on_dynamodb_a_delayed_survey_waits_for_the_checker_and_is_dropped_when_the_ticket_moved_on()
 {
    let Some(store) = helpdesk_tests::conformance::dynamodb_store().await else {
        return;
    };
    let endpoint = helpdesk_tests::moto::endpoint().expect("moto is up when the store is");
    let stream = StreamReader::open(&endpoint, store.table()).await;
    let app = app_over(Arc::new(store), Some("1h"));
    a_delayed_survey_waits_for_the_checker_and_is_dropped_when_the_ticket_moved_on(
        &app,
        Changes::Stream(Box::new(stream)),
    )
    .await;
}

#[tokio::test]
async fn a_ticket_opened_by_automatic_mail_is_never_asked_for_a_rating() {
    let app = sqlite_app(None);
    let mut changes = Changes::Feed;
    app.clock.set(at(7, 10, 0));
    let raw = "From: Monitoring <alerts@customer.org>\r\n\
               To: support@example.com\r\n\
               Subject: Disk almost full\r\n\
               Message-ID: <alert-1@customer.org>\r\n\
               Auto-Submitted: auto-generated\r\n\
               Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\n\
               Disk 91% full.\r\n";
    let ingested = app.deliver(raw.as_bytes().to_vec()).await.unwrap();
    let key = match ingested {
        helpdesk::mail::ingest::Ingested::NewTicket { ticket, .. } => ticket,
        other => panic!("automatic mail makes a ticket all the same: {other:?}"),
    };
    changes.settle(&app).await;
    boris_does(&app, &mut changes, &key, take_and_resolve()).await;
    assert_eq!(app.ticket(&key).await.status, "Resolved");
    assert!(
        surveys(&app, &key).is_empty(),
        "no survey for automatic mail"
    );
    assert_eq!(app.ticket(&key).await.satisfaction.asked_at, None);
}

/// An agent of line 1 rates line 2's help on an escalated ticket over the
/// agent API: one rating per escalation (a second replaces it), never of
/// one's own help, not on a ticket never escalated; the agents report
/// counts it for the line-2 agent.
async fn line_1_rates_line_2s_help_once_per_escalation(app: &TestApp, mut changes: Changes) {
    app.clock.set(at(7, 10, 0));
    let key = new_ticket(app, &mut changes, "jane.doe@customer.org").await;
    let calm = new_ticket(app, &mut changes, "lee@customer.org").await;
    let dmitri = Principal::of(&app.services.config, "dmitri", Via::Cli).unwrap();
    let first_line = AgentUpdate {
        line: Some(Some(1)),
        assignee: Some(Some("anna".into())),
        ..AgentUpdate::default()
    };
    agent::update(&app.services, &key, &dmitri, first_line)
        .await
        .unwrap();
    changes.settle(app).await;
    app.clock.set(at(7, 11, 0));
    let escalate = AgentUpdate {
        line: Some(Some(2)),
        assignee: Some(Some("boris".into())),
        ..AgentUpdate::default()
    };
    agent::update(&app.services, &key, &dmitri, escalate)
        .await
        .unwrap();
    changes.settle(app).await;

    let base = app.serve().await;
    let token = |login: &'static str| async move {
        helpdesk::auth::issue_token(
            &app.services.config,
            app.store.as_ref(),
            login,
            "t",
            app.services.clock.now(),
        )
        .await
        .unwrap()
        .secret
    };
    let (anna, boris) = (token("anna").await, token("boris").await);
    let rate = |token: String, key: TicketKey, body: serde_json::Value| {
        let base = base.clone();
        async move {
            let response = client()
                .post(format!("{base}/api/v1/tickets/{key}/escalation-rating"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            )
        }
    };
    let (status, own) = rate(boris.clone(), key.clone(), json!({"score": "good"})).await;
    assert_eq!(status, 403, "nobody rates their own help: {own}");
    let (status, never) = rate(anna.clone(), calm.clone(), json!({"score": "good"})).await;
    assert_eq!(status, 422, "{never}");
    let (status, odd) = rate(anna.clone(), key.clone(), json!({"score": "great"})).await;
    assert_eq!(status, 422, "{odd}");

    let (status, rated) = rate(anna.clone(), key.clone(), json!({"score": "good"})).await;
    assert_eq!(status, 201, "{rated}");
    assert_eq!(
        (rated["agent"].as_str(), rated["score"].as_str()),
        (Some("boris"), Some("good"))
    );
    app.clock.set(at(7, 12, 0));
    let (status, again) = rate(
        anna.clone(),
        key.clone(),
        json!({"score": "bad", "comment": "Slow to pick it up"}),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(
        again["escalation"], rated["escalation"],
        "the same escalation"
    );
    changes.settle(app).await;

    let rated: Vec<(String, Score, Option<Score>)> = app
        .timeline(&key)
        .await
        .iter()
        .filter_map(|e| match &e.event {
            TimelineEvent::EscalationRated {
                agent,
                score,
                previous,
                ..
            } => Some((agent.clone(), *score, *previous)),
            _ => None,
        })
        .collect();
    assert_eq!(
        rated,
        vec![
            ("boris".to_owned(), Score::Good, None),
            ("boris".to_owned(), Score::Bad, Some(Score::Good))
        ]
    );
    let row = agents_row(app, "boris").await;
    assert_eq!(
        (
            row["line2_ratings"].as_u64(),
            row["line2_satisfied"].as_u64(),
            row["line2_csat"].as_f64()
        ),
        (Some(1), Some(0), Some(0.0)),
        "one escalation, rated bad as it stands: {row}"
    );
}

#[tokio::test]
async fn on_sqlite_line_1_rates_line_2s_help_once_per_escalation() {
    let app = sqlite_app(None);
    line_1_rates_line_2s_help_once_per_escalation(&app, Changes::Feed).await;
}

#[tokio::test]
async fn on_dynamodb_line_1_rates_line_2s_help_once_per_escalation() {
    let Some(store) = helpdesk_tests::conformance::dynamodb_store().await else {
        return;
    };
    let endpoint = helpdesk_tests::moto::endpoint().expect("moto is up when the store is");
    let stream = StreamReader::open(&endpoint, store.table()).await;
    let app = app_over(Arc::new(store), None);
    line_1_rates_line_2s_help_once_per_escalation(&app, Changes::Stream(Box::new(stream))).await;
}
