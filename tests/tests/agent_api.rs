//! The agent API over HTTP, served by the `helpdesk serve` router on a
//! random port over SQLite: agents signed in with personal API tokens list,
//! read, change and answer tickets; every permission rule of the example
//! configuration (anna and boris agents of SUP, carla a lead, dmitri an
//! admin, erik an agent of OPS) is checked from outside.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use helpdesk::auth;
use std::sync::Arc;

use helpdesk::automation::{feed, stream};
use helpdesk::blobs::{BlobStore, LocalBlobs};
use helpdesk::clock::Clock;
use helpdesk::domain::TicketKey;
use helpdesk::mail::ingest::Ingested;
use helpdesk_api::cognito::{CognitoSettings, CognitoVerifier};
use helpdesk_tests::app::{TestApp, spawn_app, spawn_app_with};
use helpdesk_tests::conformance::dynamodb_store;
use helpdesk_tests::stream::StreamReader;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A running desk and its base URL.
struct Desk {
    app: TestApp,
    base: String,
    http: reqwest::Client,
    /// The table's stream when the store is DynamoDB (the triggers run on
    /// its records, as the ticket-triggers function does); SQLite's change
    /// feed otherwise.
    stream: Option<tokio::sync::Mutex<StreamReader>>,
    /// The DynamoDB table, on DynamoDB.
    table: Option<String>,
}

impl Desk {
    async fn new() -> Self {
        helpdesk::automation::webhook::install_crypto_provider();
        let app = spawn_app();
        let base = app.serve().await;
        Self {
            app,
            base,
            http: reqwest::Client::new(),
            stream: None,
            table: None,
        }
    }

    /// A desk over a fresh DynamoDB table on moto (None, after saying so,
    /// without moto).
    async fn on_dynamodb() -> Option<Self> {
        helpdesk::automation::webhook::install_crypto_provider();
        let store = dynamodb_store().await?;
        let endpoint = helpdesk_tests::moto::endpoint()?;
        let table = store.table().to_owned();
        let dir =
            std::env::temp_dir().join(format!("helpdesk-api-{}", uuid::Uuid::new_v4().simple()));
        let blob_dir = dir.join("blobs");
        std::fs::create_dir_all(&blob_dir).unwrap();
        let blobs = Arc::new(LocalBlobs::new(&blob_dir));
        let app = spawn_app_with(Arc::new(store), blobs, dir, blob_dir);
        let base = app.serve().await;
        let stream = StreamReader::open(&endpoint, &table).await;
        Some(Self {
            app,
            base,
            http: reqwest::Client::new(),
            stream: Some(tokio::sync::Mutex::new(stream)),
            table: Some(table),
        })
    }

    /// A desk over a fresh DynamoDB table and S3 bucket on moto, as
    /// deployed (None, after saying so, without moto).
    async fn on_aws() -> Option<(Self, Arc<dyn BlobStore>)> {
        helpdesk::automation::webhook::install_crypto_provider();
        let store = dynamodb_store().await?;
        let endpoint = helpdesk_tests::moto::endpoint()?;
        let table = store.table().to_owned();
        let dir =
            std::env::temp_dir().join(format!("helpdesk-api-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let blobs: Arc<dyn BlobStore> =
            Arc::new(helpdesk_tests::moto::s3_blobs(&endpoint, "").await);
        let app = spawn_app_with(Arc::new(store), Arc::clone(&blobs), dir.clone(), dir);
        let base = app.serve().await;
        let stream = StreamReader::open(&endpoint, &table).await;
        let desk = Self {
            app,
            base,
            http: reqwest::Client::new(),
            stream: Some(tokio::sync::Mutex::new(stream)),
            table: Some(table),
        };
        Some((desk, blobs))
    }

    /// A desk that also signs agents in with a user pool on moto's
    /// Cognito (its clock set to now: moto issues tokens in real time);
    /// with the pool and client ids.
    async fn with_cognito(endpoint: &str) -> (Self, String, String) {
        helpdesk::automation::webhook::install_crypto_provider();
        let (pool, client) = helpdesk_tests::moto::cognito_pool(endpoint).await;
        let app = spawn_app();
        app.clock.set(chrono::Utc::now());
        let settings = CognitoSettings::new(&pool, &client, Some(endpoint)).unwrap();
        let api = helpdesk_api::Api {
            services: app.services.clone(),
            cognito: Some(CognitoVerifier::new(settings).unwrap()),
        };
        let base = app.serve_api(api).await;
        let desk = Self {
            app,
            base,
            http: reqwest::Client::new(),
            stream: None,
            table: None,
        };
        (desk, pool, client)
    }

    /// A new personal API token of `login`.
    async fn token(&self, login: &str, label: &str) -> String {
        auth::issue_token(
            &self.app.services.config,
            self.app.store.as_ref(),
            login,
            label,
            self.app.clock.now(),
        )
        .await
        .unwrap()
        .secret
    }

    /// A customer's mail to support, as a new ticket.
    async fn mail_in(&self, from: &str, subject: &str) -> TicketKey {
        let raw = format!(
            "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\nMessage-ID: <{}@customer.example>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\nPlease help with {subject}.\r\n",
            uuid::Uuid::new_v4()
        );
        match self.app.deliver(raw.into_bytes()).await.unwrap() {
            Ingested::NewTicket { ticket, .. } => ticket,
            other => panic!("a new ticket, got {other:?}"),
        }
    }

    /// Runs the triggers and SLA timers on every change so far.
    async fn settle(&self) {
        let Some(stream) = &self.stream else {
            let changes = self.app.store.change_feed().unwrap();
            feed::drain(&self.app.services, changes).await.unwrap();
            return;
        };
        let mut stream = stream.lock().await;
        for _ in 0..20 {
            let batch = stream.next_batch().await;
            if batch["Records"].as_array().unwrap().is_empty() {
                return;
            }
            let (response, reports) = stream::handle_batch(&self.app.services, &batch).await;
            assert!(response.batch_item_failures.is_empty(), "{reports:?}");
        }
        panic!("the stream never went quiet");
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, http::HeaderMap, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    async fn patch(
        &self,
        token: &str,
        path: &str,
        version: Option<u64>,
        body: Value,
    ) -> (StatusCode, http::HeaderMap, Value) {
        let mut request = self
            .http
            .patch(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(version) = version {
            request = request.header("if-match", format!("\"{version}\""));
        }
        answer(request.send().await.unwrap()).await
    }

    async fn post(
        &self,
        token: &str,
        path: &str,
        body: Value,
    ) -> (StatusCode, http::HeaderMap, Value) {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string());
        answer(request.send().await.unwrap()).await
    }
}

async fn answer(response: reqwest::Response) -> (StatusCode, http::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

fn keys_of(list: &Value) -> Vec<String> {
    list["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap().to_owned())
        .collect()
}

fn problem_field(body: &Value) -> Option<&str> {
    body["errors"][0]["field"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_get_401_and_change_nothing() {
    let desk = Desk::new().await;
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    let path = format!("/tickets/{key}");

    let (status, headers, body) = desk.get(None, "/tickets").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[http::header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(
        headers[http::header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(body["status"], 401);

    let shaped_but_unknown = format!("hd_{}", "A".repeat(43));
    for junk in ["nonsense", shaped_but_unknown.as_str()] {
        let (status, _, _) = desk.get(Some(junk), &path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{junk}");
    }

    let token = desk.token("anna", "laptop").await;
    let (status, _, _) = desk.get(Some(&token), &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        auth::revoke_token(desk.app.store.as_ref(), "anna", "laptop")
            .await
            .unwrap()
    );
    let (status, _, _) = desk.get(Some(&token), &path).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused at once"
    );
    let (status, _, _) = desk
        .patch(&token, &path, Some(1), json!({ "priority": "high" }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(desk.app.ticket(&key).await.priority, "normal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_only_the_tickets_of_their_queues() {
    let desk = Desk::new().await;
    let key = desk.mail_in("jane@customer.example", "Invoice wrong").await;
    let (anna, erik, dmitri) = (
        desk.token("anna", "t").await,
        desk.token("erik", "t").await,
        desk.token("dmitri", "t").await,
    );

    let (status, _, list) = desk.get(Some(&anna), "/tickets").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys_of(&list), vec![key.to_string()]);
    let row = &list["tickets"][0];
    assert_eq!(row["requester"]["email"], "jane@customer.example");
    assert_eq!(row["status"], "New");

    // erik works in OPS only: SUP's ticket is not there, as if it did not exist.
    let (_, _, list) = desk.get(Some(&erik), "/tickets").await;
    assert!(keys_of(&list).is_empty(), "{list}");
    let (status, _, body) = desk.get(Some(&erik), &format!("/tickets/{key}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, _) = desk
        .patch(
            &erik,
            &format!("/tickets/{key}"),
            Some(1),
            json!({ "priority": "low" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (missing, _, _) = desk.get(Some(&anna), "/tickets/SUP-999").await;
    assert_eq!(missing, StatusCode::NOT_FOUND);

    // The admin works in every queue.
    let (status, _, _) = desk.get(Some(&dmitri), &format!("/tickets/{key}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_a_ticket_moves_it_to_line_2_and_the_trigger_sets_its_status() {
    let desk = Desk::new().await;
    let key = desk
        .mail_in("jane@customer.example", "Cannot sign in")
        .await;
    desk.settle().await;
    let anna = desk.token("anna", "t").await;
    let path = format!("/tickets/{key}");

    let (status, headers, ticket) = desk.get(Some(&anna), &path).await;
    assert_eq!(status, StatusCode::OK);
    let version = ticket["version"].as_u64().unwrap();
    assert_eq!(
        headers[http::header::ETAG],
        format!("\"{version}\"").as_str()
    );
    assert!(
        ticket["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "email_in"),
        "{ticket}"
    );

    let (status, headers, changed) = desk
        .patch(
            &anna,
            &path,
            Some(version),
            json!({ "assignee": "anna", "line": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["assignee"], "anna");
    assert_eq!(changed["version"], version + 1);
    assert_eq!(
        headers[http::header::ETAG],
        format!("\"{}\"", version + 1).as_str()
    );
    desk.settle().await;

    let (_, _, after) = desk.get(Some(&anna), &path).await;
    assert_eq!(after["line"], 2);
    assert_eq!(
        after["status"], "Second line",
        "the Line 2 trigger ran: {after}"
    );
    let changes: Vec<&Value> = after["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "field_changed" && e["field"] == "assignee")
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0]["actor"],
        json!({ "kind": "agent", "login": "anna", "via": "token:t" }),
        "the change names the agent and the token it came through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_version_gets_412_with_the_current_one_and_nothing_is_overwritten() {
    let desk = Desk::new().await;
    let key = desk.mail_in("jane@customer.example", "Slow pages").await;
    let (anna, boris) = (
        desk.token("anna", "t").await,
        desk.token("boris", "t").await,
    );
    let path = format!("/tickets/{key}");
    let version = desk.app.ticket(&key).await.version;

    let (status, _, _) = desk
        .patch(&anna, &path, Some(version), json!({ "priority": "high" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = desk
        .patch(&boris, &path, Some(version), json!({ "priority": "low" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(
        headers[http::header::ETAG],
        format!("\"{}\"", version + 1).as_str()
    );
    assert_eq!(desk.app.ticket(&key).await.priority, "high");

    let (status, _, _) = desk
        .patch(&boris, &path, None, json!({ "priority": "low" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(desk.app.ticket(&key).await.priority, "high");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_lead_or_admin_takes_a_ticket_someone_else_holds() {
    let desk = Desk::new().await;
    let key = desk.mail_in("jane@customer.example", "Refund").await;
    let (anna, boris, carla) = (
        desk.token("anna", "t").await,
        desk.token("boris", "t").await,
        desk.token("carla", "t").await,
    );
    let path = format!("/tickets/{key}");

    let (status, _, _) = desk
        .patch(
            &anna,
            &path,
            Some(desk.app.ticket(&key).await.version),
            json!({ "assignee": "anna" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = desk
        .patch(
            &boris,
            &path,
            Some(desk.app.ticket(&key).await.version),
            json!({ "assignee": "boris" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = desk
        .patch(
            &boris,
            &path,
            Some(desk.app.ticket(&key).await.version),
            json!({ "assignee": null }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "nor lets go of it for her");
    assert_eq!(
        desk.app.ticket(&key).await.assignee.as_deref(),
        Some("anna")
    );
    // boris may still work on it.
    let (status, _, _) = desk
        .patch(
            &boris,
            &path,
            Some(desk.app.ticket(&key).await.version),
            json!({ "priority": "high" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, _) = desk
        .patch(
            &carla,
            &path,
            Some(desk.app.ticket(&key).await.version),
            json!({ "assignee": "boris" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        desk.app.ticket(&key).await.assignee.as_deref(),
        Some("boris")
    );
    // An assignee must work in the ticket's queue.
    let (status, _, body) = desk
        .patch(
            &carla,
            &path,
            Some(desk.app.ticket(&key).await.version),
            json!({ "assignee": "erik" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_field(&body), Some("assignee"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_get_a_problem_naming_the_field_and_change_nothing() {
    let desk = Desk::new().await;
    let key = desk.mail_in("jane@customer.example", "Question").await;
    let anna = desk.token("anna", "t").await;
    let path = format!("/tickets/{key}");
    let before = desk.app.ticket(&key).await;

    for (body, code, field) in [
        (
            json!({ "status": "Nonsense" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "status",
        ),
        (
            json!({ "priority": "urgent!" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            json!({ "line": 9 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "line",
        ),
        (
            json!({ "components": ["Nope"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "components",
        ),
        (
            json!({ "custom_fields": { "feedback_score": "abc" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "custom_fields.feedback_score",
        ),
        (
            json!({ "custom_fields": { "no_such": "x" } }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "custom_fields.no_such",
        ),
        (
            json!({ "colour": "red" }),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (json!({ "line": "two" }), StatusCode::BAD_REQUEST, "line"),
    ] {
        let (status, headers, problem) = desk
            .patch(&anna, &path, Some(before.version), body.clone())
            .await;
        assert_eq!(status, code, "{body}: {problem}");
        assert_eq!(
            headers[http::header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(
            problem_field(&problem).is_some_and(|f| f.contains(field)),
            "{body}: {problem}"
        );
    }
    let (status, _, problem) = desk
        .patch(
            &anna,
            &path,
            Some(before.version),
            json!({ "custom_fields": { "feedback_score": 4 } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{problem}");
    let after = desk.app.ticket(&key).await;
    assert_eq!(
        after.version,
        before.version + 1,
        "only the good change was written"
    );
    assert_eq!(after.custom_fields["feedback_score"], json!(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_answer_is_mailed_with_threading_headers_and_a_note_is_not() {
    let desk = Desk::new().await;
    let key = desk
        .mail_in("jane@customer.example", "Where is my order")
        .await;
    let boris = desk.token("boris", "t").await;
    let path = format!("/tickets/{key}/comments");
    let mails_before = desk.app.sent().len();

    let (status, _, body) = desk
        .post(
            &boris,
            &path,
            json!({ "body": "Checked with the warehouse.", "public": false }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["mail"], Value::Null);
    assert_eq!(
        desk.app.sent().len(),
        mails_before,
        "a note is never mailed"
    );

    let (status, _, body) = desk
        .post(
            &boris,
            &path,
            json!({ "body": "It ships today.", "public": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["mail"]["state"], "sent", "{body}");
    let sent = desk.app.sent();
    assert_eq!(sent.len(), mails_before + 1);
    let (_, raw) = sent.last().unwrap();
    assert!(
        raw.contains("To: jane@customer.example") || raw.contains("<jane@customer.example>"),
        "{raw}"
    );
    assert!(
        raw.contains("In-Reply-To:") || raw.contains("References:"),
        "{raw}"
    );
    assert!(raw.contains("It ships today."));
    assert!(
        raw.replace("=20\r\n", " \n")
            .replace("\r\n", "\n")
            .contains("It ships today.\n\n-- \nBoris Klein\nExample Inc. Support"),
        "boris's signature below the answer: {raw}"
    );
    let ticket = desk.app.ticket(&key).await;
    assert!(
        ticket.first_response_at.is_some(),
        "the answer is the first response"
    );

    let (status, _, problem) = desk
        .post(&boris, &path, json!({ "body": "  ", "public": true }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_field(&problem), Some("body"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_filters_and_cursors_page_through_exactly_the_matching_tickets() {
    let desk = Desk::new().await;
    let mut keys = Vec::new();
    for i in 0..5 {
        desk.app
            .clock
            .set(helpdesk_tests::app::test_now() + chrono::Duration::minutes(i));
        keys.push(
            desk.mail_in(&format!("c{i}@customer.example"), &format!("Case {i}"))
                .await,
        );
    }
    let anna = desk.token("anna", "t").await;
    for key in [&keys[1], &keys[3]] {
        let version = desk.app.ticket(key).await.version;
        let (status, _, body) = desk
            .patch(
                &anna,
                &format!("/tickets/{key}"),
                Some(version),
                json!({ "assignee": "anna", "status": "In progress" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let k = |i: usize| keys[i].to_string();

    let (_, _, mine) = desk.get(Some(&anna), "/tickets?view=mine").await;
    assert_eq!(keys_of(&mine), vec![k(3), k(1)]);
    let (_, _, unassigned) = desk.get(Some(&anna), "/tickets?view=unassigned").await;
    assert_eq!(keys_of(&unassigned), vec![k(4), k(2), k(0)]);
    let (_, _, in_progress) = desk.get(Some(&anna), "/tickets?status=In%20progress").await;
    assert_eq!(keys_of(&in_progress), vec![k(3), k(1)]);
    let (_, _, mine_new) = desk.get(Some(&anna), "/tickets?view=mine&status=New").await;
    assert!(keys_of(&mine_new).is_empty());

    // Two at a time: every ticket once, newest first, then no cursor.
    let mut seen = Vec::new();
    let mut path = "/tickets?limit=2".to_owned();
    loop {
        let (status, _, page) = desk.get(Some(&anna), &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(keys_of(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/tickets?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![k(4), k(3), k(2), k(1), k(0)]);

    for (query, code, field) in [
        ("view=everything", StatusCode::UNPROCESSABLE_ENTITY, "view"),
        ("status=Nope", StatusCode::UNPROCESSABLE_ENTITY, "status"),
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "limit"),
        ("limit=many", StatusCode::BAD_REQUEST, "limit"),
        ("cursor=garbage", StatusCode::UNPROCESSABLE_ENTITY, "cursor"),
        ("queue=OPS", StatusCode::UNPROCESSABLE_ENTITY, "queue"),
        ("colour=red", StatusCode::BAD_REQUEST, "colour"),
    ] {
        let (status, _, problem) = desk.get(Some(&anna), &format!("/tickets?{query}")).await;
        assert_eq!(status, code, "{query}: {problem}");
        assert_eq!(problem_field(&problem), Some(field), "{query}: {problem}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_opens_a_ticket_after_a_phone_call_once_per_idempotency_key() {
    let desk = Desk::new().await;
    let (anna, erik) = (
        desk.token("anna", "desk").await,
        desk.token("erik", "t").await,
    );
    let call = json!({
        "queue": "SUP",
        "summary": "Cannot print invoices",
        "description": "Called at 10:05, printer says offline.",
        "requester": { "name": "Olga Berg", "phone": "+49 30 1234567" },
        "channel": "phone",
        "priority": "high",
        "components": ["Billing"],
    });
    let request = |body: Value, key: Option<&str>| {
        let mut request = desk
            .http
            .post(desk.url("/tickets"))
            .bearer_auth(&anna)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request
    };

    let (status, headers, created) =
        answer(request(call.clone(), Some("call-1")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(
        headers[http::header::LOCATION],
        format!("/api/v1/tickets/{key}").as_str()
    );
    assert_eq!(created["channel"], "phone");
    assert_eq!(created["requester"]["phone"], "+49 30 1234567");
    assert_eq!(created["priority"], "high");

    // The same call sent again opens nothing new.
    let (status, _, again) =
        answer(request(call.clone(), Some("call-1")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["key"], key.as_str());
    let (_, _, list) = desk.get(Some(&anna), "/tickets").await;
    assert_eq!(keys_of(&list), vec![key.clone()]);

    // It was opened like any ticket: created by anna through her token.
    let stored = desk.app.timeline(&TicketKey::parse(&key).unwrap()).await;
    assert_eq!(
        serde_json::to_value(&stored[0].actor).unwrap(),
        json!({ "kind": "agent", "login": "anna", "via": "token:desk" })
    );

    for (body, field) in [
        (
            json!({ "queue": "SUP", "summary": "x", "requester": {}, "channel": "phone" }),
            "requester",
        ),
        (
            json!({ "queue": "SUP", "summary": " ", "requester": { "name": "A" }, "channel": "phone" }),
            "summary",
        ),
        (
            json!({ "queue": "SUP", "summary": "x", "requester": { "name": "A" }, "channel": "form" }),
            "channel",
        ),
        (
            json!({ "queue": "SUP", "summary": "x", "requester": { "email": "not-mail" }, "channel": "phone" }),
            "requester.email",
        ),
        (
            json!({ "queue": "SUP", "summary": "x", "requester": { "name": "A" }, "channel": "phone", "line": 7 }),
            "line",
        ),
        (
            json!({ "queue": "OPS", "summary": "x", "requester": { "name": "A" }, "channel": "phone" }),
            "queue",
        ),
    ] {
        let (status, _, problem) = answer(request(body.clone(), None).send().await.unwrap()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(problem_field(&problem), Some(field), "{body}: {problem}");
    }
    let (status, _, problem) = desk
        .post(&erik, "/tickets", json!({ "queue": "SUP", "summary": "x", "requester": { "name": "A" }, "channel": "phone" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem_field(&problem), Some("queue"));
    let (_, _, list) = desk.get(Some(&anna), "/tickets").await;
    assert_eq!(keys_of(&list).len(), 1, "nothing else was opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolving_sets_resolved_at_and_an_agents_reopen_clears_it_and_counts() {
    let desk = Desk::new().await;
    let key = desk.mail_in("jane@customer.example", "Export fails").await;
    let anna = desk.token("anna", "t").await;
    let path = format!("/tickets/{key}");
    let resolve_at = helpdesk_tests::app::test_now() + chrono::Duration::hours(2);
    desk.app.clock.set(resolve_at);
    let v = desk.app.ticket(&key).await.version;
    let (status, _, _) = desk
        .patch(&anna, &path, Some(v), json!({ "status": "Resolved" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let resolved = desk.app.ticket(&key).await;
    assert_eq!(resolved.resolved_at, Some(resolve_at));
    assert_eq!(resolved.reopen_count, 0);

    // Closing a resolved ticket keeps the time it was resolved.
    desk.app.clock.set(resolve_at + chrono::Duration::hours(1));
    let (status, _, _) = desk
        .patch(
            &anna,
            &path,
            Some(resolved.version),
            json!({ "status": "Closed" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let closed = desk.app.ticket(&key).await;
    assert_eq!(closed.resolved_at, Some(resolve_at));

    let (status, _, _) = desk
        .patch(
            &anna,
            &path,
            Some(closed.version),
            json!({ "status": "Open" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reopened = desk.app.ticket(&key).await;
    assert_eq!(reopened.resolved_at, None);
    assert_eq!(
        reopened.reopen_count, 1,
        "an agent's reopen counts as a reopen"
    );
    let (_, _, shown) = desk.get(Some(&anna), &path).await;
    assert!(
        shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "field_changed" && e["field"] == "reopen_count"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognito_jwts_sign_agents_in_and_tampered_expired_foreign_or_unknown_ones_get_401() {
    let Some(endpoint) = helpdesk_tests::moto::endpoint() else {
        return;
    };
    let (desk, pool, client) = Desk::with_cognito(&endpoint).await;
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    let path = format!("/tickets/{key}");
    let (access, id) =
        helpdesk_tests::moto::cognito_sign_in(&endpoint, &pool, &client, "anna").await;

    for (what, jwt) in [("access token", &access), ("ID token", &id)] {
        let (status, _, body) = desk.get(Some(jwt), "/tickets?view=all").await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
        assert_eq!(keys_of(&body), vec![key.to_string()], "{what}");
    }
    let (_, _, shown) = desk.get(Some(&access), &path).await;
    let version = shown["version"].as_u64().unwrap();
    let (status, _, _) = desk
        .patch(&access, &path, Some(version), json!({ "priority": "high" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let timeline = desk.app.timeline(&key).await;
    let change = serde_json::to_value(timeline.last().unwrap()).unwrap();
    assert_eq!(
        change["actor"],
        json!({ "kind": "agent", "login": "anna", "via": "jwt" }),
        "the timeline says anna changed it, signed in with Cognito: {change}"
    );

    // One character of the claims changed: the signature no longer holds.
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    let claims = &mut parts[1];
    let flipped = if claims.ends_with('A') { 'B' } else { 'A' };
    claims.pop();
    claims.push(flipped);
    let tampered = parts.join(".");
    // A user of the pool who is not an agent of the configuration, and
    // anna through an app client that is not the desk's.
    let (stranger, _) =
        helpdesk_tests::moto::cognito_sign_in(&endpoint, &pool, &client, "zoe").await;
    let other_client = helpdesk_tests::moto::cognito_client(&endpoint, &pool).await;
    let (foreign, _) =
        helpdesk_tests::moto::cognito_sign_in(&endpoint, &pool, &other_client, "anna").await;
    for (what, jwt) in [
        ("tampered", &tampered),
        ("not an agent", &stranger),
        ("another client", &foreign),
    ] {
        let (status, headers, _) = desk.get(Some(jwt), &path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            headers.contains_key(http::header::WWW_AUTHENTICATE),
            "{what}"
        );
        let (status, _, _) = desk
            .patch(jwt, &path, Some(version + 1), json!({ "priority": "low" }))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
    }
    assert_eq!(desk.app.ticket(&key).await.priority, "high");

    // Personal API tokens keep working beside the pool's JWTs.
    let token = desk.token("boris", "crm").await;
    let (status, _, _) = desk.get(Some(&token), &path).await;
    assert_eq!(status, StatusCode::OK);

    // An hour and two minutes on, the access token has expired.
    desk.app.clock.advance(chrono::Duration::minutes(62));
    let (status, _, body) = desk.get(Some(&access), &path).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_times_sla_reopens_time_in_status_and_agents_follow_a_tickets_work_on_sqlite() {
    reports_follow_a_tickets_work(Desk::new().await).await;
}

/// On DynamoDB the reports read the rollups the stream's function keeps;
/// every stream record delivered a second time changes none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_times_sla_reopens_time_in_status_and_agents_follow_a_tickets_work_on_dynamodb() {
    let Some(desk) = Desk::on_dynamodb().await else {
        return;
    };
    let before = reports_follow_a_tickets_work(desk).await;
    let desk = before.0;
    let redelivered = deliver_the_stream_again(&desk).await;
    assert!(
        redelivered > 4,
        "the whole stream again: {redelivered} records"
    );
    assert_eq!(report_rows(&desk, &before.1).await, before.2);
}

/// Each write's metric events are in the bucket as JSON lines under the
/// day of the write, one object per ticket version; the stream delivered
/// again writes the same objects with the same lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_writes_metric_events_land_in_the_bucket_as_json_lines_once() {
    let Some((desk, blobs)) = Desk::on_aws().await else {
        return;
    };
    let anna = desk.token("anna", "export").await;
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    desk.settle().await;
    desk.app.clock.advance(chrono::Duration::minutes(30));
    let (status, _, body) = desk
        .post(
            &anna,
            &format!("/tickets/{key}/comments"),
            json!({ "body": "We are on it.", "public": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    desk.settle().await;
    let answered = desk.app.ticket(&key).await;
    let created = read_if_any(&blobs, &key, 1).await;
    assert_eq!(created[0]["kind"], "created", "{created:?}");
    assert_eq!(created[0]["ticket"], key.to_string());
    assert_eq!(created[0]["queue"], "SUP");
    assert_eq!(created[0]["channel"], "email");
    assert_eq!(created[0]["status"], "New");
    let mut answer = None;
    for version in 2..=answered.version {
        if let Some(line) = read_if_any(&blobs, &key, version)
            .await
            .into_iter()
            .find(|l| l["kind"] == "answered")
        {
            answer = Some((version, line));
        }
    }
    let (version, answer) = answer.expect("an answered event in some version's object");
    assert_eq!(answer["detail"]["agent"], "anna");
    assert_eq!(answer["detail"]["first"], "true");
    assert_eq!(answer["at"], "2026-03-02T10:00:00.000Z");

    // The whole stream again: the same objects, the same lines.
    deliver_the_stream_again(&desk).await;
    assert_eq!(read_if_any(&blobs, &key, 1).await, created);
    assert_eq!(
        read_if_any(&blobs, &key, version)
            .await
            .into_iter()
            .filter(|l| l["kind"] == "answered")
            .count(),
        1
    );
}

/// Hands every record of the desk's table stream, from its start, to the
/// triggers' batch handler once more; answers how many there were.
async fn deliver_the_stream_again(desk: &Desk) -> usize {
    let endpoint = helpdesk_tests::moto::endpoint().unwrap();
    let mut again = StreamReader::open(&endpoint, desk.table.as_deref().unwrap()).await;
    let mut records = 0;
    for _ in 0..20 {
        let batch = again.next_batch().await;
        let count = batch["Records"].as_array().unwrap().len();
        if count == 0 {
            break;
        }
        records += count;
        let (response, reports) = stream::handle_batch(&desk.app.services, &batch).await;
        assert!(response.batch_item_failures.is_empty(), "{reports:?}");
    }
    records
}

/// The lines of version `version`'s object, none when there is none.
async fn read_if_any(blobs: &Arc<dyn BlobStore>, key: &TicketKey, version: u64) -> Vec<Value> {
    let object = format!("metrics/day=2026-03-02/{key}-v{version}.jsonl");
    match blobs.get(&object).await.unwrap() {
        None => Vec::new(),
        Some(bytes) => String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    }
}

/// Every report of today, as anna sees them.
async fn report_rows(desk: &Desk, anna: &str) -> Vec<Value> {
    let today = desk.app.clock.now().date_naive().to_string();
    let mut out = Vec::new();
    for name in [
        "volume",
        "breakdown",
        "assignee-status",
        "response-times",
        "sla",
        "reopens",
        "time-in-status",
        "agents",
    ] {
        let path = format!("/reports/{name}?from={today}&to={today}");
        let (status, _, body) = desk.get(Some(anna), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        out.push(body["rows"].clone());
    }
    out
}

/// A ticket answered, resolved and reopened, and what each report says of
/// it; answers the desk, anna's token and every report's rows.
async fn reports_follow_a_tickets_work(desk: Desk) -> (Desk, String, Vec<Value>) {
    let anna = desk.token("anna", "reports").await;
    let minutes = chrono::Duration::minutes;
    // Opened at 10:30 in Berlin on a Monday, inside office hours.
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    desk.settle().await;
    desk.app.clock.advance(minutes(20));
    set(&desk, &anna, &key, json!({ "assignee": "anna" })).await;
    desk.app.clock.advance(minutes(10));
    let (status, _, body) = desk
        .post(
            &anna,
            &format!("/tickets/{key}/comments"),
            json!({ "body": "We are on it.", "public": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    desk.settle().await;
    desk.app.clock.advance(minutes(30));
    set(&desk, &anna, &key, json!({ "status": "Resolved" })).await;
    desk.settle().await;
    desk.app.clock.advance(minutes(5));
    set(&desk, &anna, &key, json!({ "status": "In progress" })).await;
    desk.settle().await;
    let today = desk.app.clock.now().date_naive().to_string();
    let report = |name: &str, by: &str| {
        let path = format!("/reports/{name}?from={today}&to={today}{by}");
        let desk = &desk;
        let anna = anna.clone();
        async move {
            let (status, _, body) = desk.get(Some(&anna), &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            body["rows"].clone()
        }
    };

    // The first answer came 30 minutes after the mail, all in office
    // hours; the resolution does not count while the ticket is reopened.
    assert_eq!(
        report("response-times", "&by=assignee").await,
        json!([{ "group": "anna", "metric": "first_response", "count": 1,
            "median_business": 1800, "p90_business": 1800, "mean_business": 1800,
            "median_calendar": 1800, "p90_calendar": 1800, "mean_calendar": 1800 }])
    );
    assert_eq!(
        report("agents", "").await,
        json!([{ "agent": "anna", "taken": 1, "answers": 1, "resolved": 1, "reopened": 1,
            "reopen_rate": 1.0, "first_responses": 1, "median_first_response": 1800,
            "ratings": 0, "satisfied": 0, "csat": null,
            "line2_ratings": 0, "line2_satisfied": 0, "line2_csat": null }])
    );
    let reopens = report("reopens", "").await;
    assert_eq!(
        reopens[0],
        json!({ "value": "(all)", "resolved": 1, "reopened": 1, "by_customer": 0,
            "by_agent": 1, "by_automation": 0, "rate": 1.0 })
    );
    let sla = report("sla", "").await;
    let first = sla
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "first_response")
        .unwrap_or_else(|| panic!("{sla}"));
    assert_eq!(
        (&first["met"], &first["breached"], &first["compliance"]),
        (&json!(1), &json!(0), &json!(100.0)),
        "{sla}"
    );
    // Five minutes in Resolved before the reopen.
    let stays = report("time-in-status", "").await;
    let resolved = stays
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "Resolved")
        .unwrap_or_else(|| panic!("{stays}"));
    assert_eq!(
        (
            &resolved["stays"],
            &resolved["calendar_seconds"],
            &resolved["business_seconds"]
        ),
        (&json!(1), &json!(300), &json!(300)),
        "{stays}"
    );
    let (status, _, body) = desk.get(Some(&anna), "/reports/agents?by=month").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let rows = report_rows(&desk, &anna).await;
    (desk, anna, rows)
}

/// Sets `body` on ticket `key` as `token`'s agent, at its current version.
async fn set(desk: &Desk, token: &str, key: &TicketKey, body: Value) {
    let path = format!("/tickets/{key}");
    let (_, _, shown) = desk.get(Some(token), &path).await;
    let version = shown["version"].as_u64().unwrap();
    let (status, _, answer) = desk.patch(token, &path, Some(version), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_sorts_and_search_find_exactly_the_matching_tickets_and_views_count_them() {
    let desk = Desk::new().await;
    let anna = desk.token("anna", "laptop").await;
    let printer = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    desk.app.clock.advance(chrono::Duration::minutes(1));
    let invoice = desk
        .mail_in("max@customer.example", "Invoice charged twice")
        .await;
    desk.app.clock.advance(chrono::Duration::minutes(1));
    let login = desk
        .mail_in("jane@customer.example", "Login fails after reset")
        .await;
    desk.app.clock.advance(chrono::Duration::minutes(1));
    set(
        &desk,
        &anna,
        &invoice,
        json!({ "components": ["Billing"], "tags": ["vip"] }),
    )
    .await;
    set(
        &desk,
        &anna,
        &printer,
        json!({ "priority": "critical", "assignee": "anna" }),
    )
    .await;
    set(&desk, &anna, &login, json!({ "status": "Resolved" })).await;
    desk.settle().await;

    let list = |query: &'static str| {
        let desk = &desk;
        let anna = anna.clone();
        async move {
            let (status, _, body) = desk.get(Some(&anna), &format!("/tickets?{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            keys_of(&body)
        }
    };
    let s = |keys: &[&TicketKey]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();

    assert_eq!(list("component=Billing").await, s(&[&invoice]));
    assert_eq!(list("tag=vip").await, s(&[&invoice]));
    assert_eq!(
        list("requester=JANE@customer.example").await,
        s(&[&login, &printer])
    );
    assert_eq!(
        list("channel=email").await,
        s(&[&login, &invoice, &printer])
    );
    assert_eq!(
        list("view=open").await,
        s(&[&invoice, &printer]),
        "the resolved one is not open"
    );
    assert_eq!(
        list("view=open&sort=priority").await,
        s(&[&printer, &invoice]),
        "most urgent first"
    );
    assert_eq!(
        list("view=open&sort=priority&order=asc").await,
        s(&[&invoice, &printer])
    );
    // The Billing trigger gave the invoice to its owner, anna, last.
    assert_eq!(list("view=mine").await, s(&[&invoice, &printer]));
    assert_eq!(
        list("view=mine&sort=updated").await,
        s(&[&invoice, &printer])
    );
    assert_eq!(
        list("view=mine&sort=updated&order=asc").await,
        s(&[&printer, &invoice])
    );
    assert_eq!(
        list("sort=updated").await[0],
        login.to_string(),
        "the last changed first"
    );
    assert_eq!(list("view=open&sort=sla_deadline").await.len(), 2);

    // Search: words of the subject, of the message, a key, a number, an address.
    assert_eq!(list("q=printer").await, s(&[&printer]));
    assert_eq!(
        list("q=help%20twice").await,
        s(&[&invoice]),
        "words of the message and of the subject"
    );
    assert_eq!(
        list("q=PLEASE").await,
        s(&[&login, &invoice, &printer]),
        "every mail says please"
    );
    assert_eq!(
        list(format!("q={}", invoice.to_string().to_lowercase()).leak()).await,
        s(&[&invoice])
    );
    assert_eq!(
        list(format!("q={}", login.number()).leak()).await,
        s(&[&login])
    );
    assert_eq!(list("q=max@customer.example").await, s(&[&invoice]));
    assert!(list("q=nothinglikethis").await.is_empty());

    // Paging a search: one per page, every match once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/tickets?q=please&limit=1&cursor={c}"),
            None => "/tickets?q=please&limit=1".to_owned(),
        };
        let (_, _, body) = desk.get(Some(&anna), &path).await;
        seen.extend(keys_of(&body));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, s(&[&login, &invoice, &printer]));

    // What no index serves is refused, naming the parameter.
    for (query, field) in [
        ("component=Billing&tag=vip", "tag"),
        ("view=mine&component=Billing", "component"),
        ("status=Open&sort=priority", "sort"),
        ("sort=priority", "sort"),
        ("q=printer&view=open", "q"),
        ("sla=late", "sla"),
        ("channel=pigeon", "channel"),
        ("line=two", "line"),
    ] {
        let (status, _, body) = desk.get(Some(&anna), &format!("/tickets?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(problem_field(&body), Some(field), "{query}: {body}");
    }

    // The side bar's counts.
    let (status, _, counts) = desk.get(Some(&anna), "/views").await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    let view = |name: &str| {
        counts["views"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["view"] == name)
            .map(|v| v["count"].as_u64().unwrap())
    };
    assert_eq!(view("mine"), Some(2));
    assert_eq!(
        view("unassigned"),
        Some(0),
        "Billing went to its owner, anna took the printer"
    );
    assert_eq!(view("open"), Some(2));
    let sup = counts["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "SUP")
        .unwrap();
    let resolved = sup["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "Resolved")
        .unwrap();
    assert_eq!(resolved["count"], 1);
    assert!(
        counts["queues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["queue"] != "OPS"),
        "anna does not work in OPS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_ticket_takes_internal_notes_only_and_a_public_answer_gets_409() {
    let desk = Desk::new().await;
    let anna = desk.token("anna", "laptop").await;
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    set(&desk, &anna, &key, json!({ "status": "Closed" })).await;
    let sent_before = desk.app.sent().len();
    let path = format!("/tickets/{key}/comments");

    let (status, _, body) = desk
        .post(
            &anna,
            &path,
            json!({ "body": "One more thing", "public": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(problem_field(&body), Some("public"));
    assert_eq!(desk.app.sent().len(), sent_before, "nothing was mailed");

    let (status, _, body) = desk
        .post(
            &anna,
            &path,
            json!({ "body": "Archived after the call", "public": false }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let comments = desk
        .app
        .timeline(&key)
        .await
        .into_iter()
        .filter(|e| matches!(e.event, helpdesk::domain::TimelineEvent::Comment { .. }))
        .count();
    assert_eq!(comments, 1, "only the note is on the timeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_and_every_described_route_answers() {
    let desk = Desk::new().await;
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    let token = desk.token("anna", "laptop").await;
    let (status, _, document) = desk.get(None, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "the document needs no credentials");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["servers"][0]["url"], "/api/v1");

    let mut described = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| r.contains_key("401")),
                "{method} {path} says it may answer 401"
            );
            described.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    described.sort();
    assert_eq!(
        described,
        [
            "GET /contacts",
            "GET /contacts/{id}",
            "GET /reports/{name}",
            "GET /tickets",
            "GET /tickets/{key}",
            "GET /tickets/{key}/attachments/{seq}",
            "GET /views",
            "PATCH /tickets/{key}",
            "POST /tickets",
            "POST /tickets/{key}/comments",
            "POST /tickets/{key}/escalation-rating",
            "POST /uploads",
        ],
        "every route of the contract, and no other, is described"
    );

    // Each described operation is served: without credentials it answers
    // 401 (not 404 or 405); with them, anything but 404 or 405.
    for operation in &described {
        let (method, path) = operation.split_once(' ').unwrap();
        let url = desk.url(
            &path
                .replace("{key}", &key.to_string())
                .replace("{id}", "c_x")
                .replace("{name}", "volume"),
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let anonymous = desk
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{operation}");
        let signed_in = desk
            .http
            .request(method, &url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = signed_in.status();
        let body: Value =
            serde_json::from_slice(&signed_in.bytes().await.unwrap()).unwrap_or(Value::Null);
        // A 404 may say the resource is missing, never that the route is.
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{operation}");
        assert!(
            !body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("no such route"),
            "{operation}: {status} {body}"
        );
    }
    let (status, _, body) = desk.get(Some(&token), "/no-such-route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["detail"].as_str().unwrap().contains("no such route"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_shows_the_requesters_other_tickets_and_a_contact_lists_theirs_in_your_queues() {
    let desk = Desk::new().await;
    let anna = desk.token("anna", "laptop").await;
    let erik = desk.token("erik", "laptop").await;
    let first = desk
        .mail_in("Jane@Customer.example", "Printer on fire")
        .await;
    desk.app.clock.advance(chrono::Duration::minutes(1));
    let second = desk
        .mail_in("jane@customer.example", "Printer still on fire")
        .await;
    let other = desk.mail_in("max@customer.example", "Invoice").await;

    let (_, _, shown) = desk.get(Some(&anna), &format!("/tickets/{first}")).await;
    assert_eq!(
        keys_of(&json!({ "tickets": shown["requester_tickets"] })),
        vec![second.to_string()],
        "her other ticket, not this one, not max's"
    );

    let (status, _, found) = desk
        .get(Some(&anna), "/contacts?email=jane%40customer.example")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let contacts = found["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 1);
    let id = contacts[0]["id"].as_str().unwrap().to_owned();
    let (status, _, contact) = desk.get(Some(&anna), &format!("/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{contact}");
    assert_eq!(
        keys_of(&contact),
        vec![second.to_string(), first.to_string()],
        "her tickets, newest first"
    );
    assert!(!keys_of(&contact).contains(&other.to_string()));

    let (status, _, contact) = desk.get(Some(&erik), &format!("/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        keys_of(&contact).is_empty(),
        "erik works in OPS only: {contact}"
    );

    let (status, _, none) = desk
        .get(Some(&anna), "/contacts?email=nobody%40example.com")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["contacts"], json!([]));
    let (status, _, _) = desk.get(Some(&anna), "/contacts/c_nonexistent").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = desk
        .get(Some(&anna), "/contacts?email=not-an-address")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_field(&body), Some("email"));
    let (status, _, _) = desk.get(None, &format!("/contacts/{id}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A `multipart/form-data` body of `files` (name, type, bytes) as `file`
/// parts, and its content type.
fn multipart(files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "helpdesk-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(desk: &Desk, token: &str, files: &[(&str, &str, &[u8])]) -> (StatusCode, Value) {
    let (content_type, body) = multipart(files);
    let response = desk
        .http
        .post(desk.url("/uploads"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, _, body) = answer(response).await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_answer_goes_to_the_chosen_recipients_with_its_uploads_which_download_as_sent() {
    let desk = Desk::new().await;
    let anna = desk.token("anna", "laptop").await;
    let boris = desk.token("boris", "laptop").await;
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    let report: &[u8] = b"%PDF-1.7 the service report";
    let (status, uploaded) = upload(
        &desk,
        &anna,
        &[
            ("report.pdf", "application/pdf", report),
            ("Notiz ü.txt", "text/plain", b"check the fuser"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let ids: Vec<String> = uploaded["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);

    // Another agent cannot attach anna's uploads.
    let path = format!("/tickets/{key}/comments");
    let (status, _, body) = desk
        .post(
            &boris,
            &path,
            json!({ "body": "x", "public": false, "attachments": [ids[0]] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(problem_field(&body), Some("attachments"));

    let sent_before = desk.app.sent().len();
    let (status, _, body) = desk
        .post(
            &anna,
            &path,
            json!({
                "body": "The report is attached.",
                "public": true,
                "to": ["jane@customer.example"],
                "cc": ["boss@customer.example"],
                "attachments": ids,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sent = desk.app.sent();
    assert_eq!(sent.len(), sent_before + 1);
    let mail = &sent.last().unwrap().1;
    assert!(mail.contains("To: <jane@customer.example>"), "{mail}");
    assert!(mail.contains("Cc: <boss@customer.example>"), "{mail}");
    assert!(
        mail.contains("report.pdf"),
        "the report is attached: {mail}"
    );
    assert!(mail.contains("filename"), "{mail}");
    assert!(
        desk.app
            .ticket(&key)
            .await
            .participants
            .iter()
            .any(|p| p.as_str() == "boss@customer.example"),
        "a cc becomes a participant"
    );

    let (_, _, shown) = desk.get(Some(&anna), &format!("/tickets/{key}")).await;
    let attachments = shown["attachments"].as_array().unwrap();
    let pdf = attachments
        .iter()
        .find(|a| a["name"] == "report.pdf")
        .unwrap();
    let href = pdf["href"].as_str().unwrap();
    let response = desk
        .http
        .get(format!("{}{href}", desk.base))
        .bearer_auth(&anna)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.bytes().await.unwrap().as_ref(), report);

    // erik (OPS) cannot download SUP's files; no credentials, no file.
    let erik = desk.token("erik", "laptop").await;
    for token in [Some(erik.as_str()), None] {
        let mut request = desk.http.get(format!("{}{href}", desk.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let status = request.send().await.unwrap().status();
        assert!(
            [StatusCode::NOT_FOUND, StatusCode::UNAUTHORIZED].contains(&status),
            "{status}"
        );
    }

    // A file over the desk's attachment limit is refused whole.
    let limit = desk.app.services.config.desk.mail.max_attachment_bytes;
    let big = vec![b'x'; limit + 1];
    let (status, body) = upload(
        &desk,
        &anna,
        &[("big.bin", "application/octet-stream", &big)],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

/// One agent's morning over HTTP, on whichever store `desk` has: the
/// unassigned list, taking a ticket to line 2 (the trigger sets its
/// status), a public answer mailed with threading headers, the customer's
/// reply threading back, a colleague's stale change, another queue's agent.
async fn support_morning(desk: Desk) {
    let key = desk
        .mail_in("jane@customer.example", "Printer on fire")
        .await;
    desk.settle().await;
    let anna = desk.token("anna", "laptop").await;
    let boris = desk.token("boris", "laptop").await;
    let erik = desk.token("erik", "laptop").await;
    let path = format!("/tickets/{key}");

    let (status, _, list) = desk.get(Some(&anna), "/tickets?view=unassigned").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(keys_of(&list), vec![key.to_string()]);

    let (_, headers, shown) = desk.get(Some(&anna), &path).await;
    let seen = shown["version"].as_u64().unwrap();
    assert_eq!(headers[http::header::ETAG], format!("\"{seen}\"").as_str());
    let (status, _, taken) = desk
        .patch(
            &anna,
            &path,
            Some(seen),
            json!({ "assignee": "anna", "line": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{taken}");
    desk.settle().await;
    let (_, _, after) = desk.get(Some(&anna), &path).await;
    assert_eq!(
        after["status"], "Second line",
        "the Line 2 trigger ran: {after}"
    );
    let (_, _, list) = desk.get(Some(&anna), "/tickets?view=unassigned").await;
    assert!(keys_of(&list).is_empty(), "taken: {list}");
    let (_, _, mine) = desk.get(Some(&anna), "/tickets?view=mine").await;
    assert_eq!(keys_of(&mine), vec![key.to_string()]);

    // boris changes it from the version anna saw first: 412, nothing written.
    let (status, headers, _) = desk
        .patch(&boris, &path, Some(seen), json!({ "priority": "low" }))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert!(headers.contains_key(http::header::ETAG));
    assert_eq!(desk.app.ticket(&key).await.priority, "normal");

    let (status, _, answered) = desk
        .post(
            &anna,
            &format!("{path}/comments"),
            json!({ "body": "We are on it.", "public": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answered}");
    let answer_id = answered["mail"]["message_id"].as_str().unwrap().to_owned();
    let sent = desk.app.sent();
    let mail = &sent.last().unwrap().1;
    assert!(mail.contains("In-Reply-To: <"), "{mail}");
    assert!(mail.contains("We are on it."), "{mail}");
    desk.settle().await;

    // The customer answers the answer: it threads back onto the ticket.
    let reply = format!(
        "From: jane@customer.example\r\nTo: support@example.com\r\nSubject: Re: Printer on fire\r\nMessage-ID: <reply-{}@customer.example>\r\nIn-Reply-To: {answer_id}\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nThanks, it is still smoking.\r\n",
        uuid::Uuid::new_v4().simple()
    );
    let delivered = desk.app.deliver(reply.into_bytes()).await.unwrap();
    assert!(
        matches!(&delivered, Ingested::Reply { ticket, .. } if *ticket == key),
        "the reply threads back: {delivered:?}"
    );
    let (_, _, after) = desk.get(Some(&anna), &path).await;
    assert!(
        after["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "email_in"
                && e["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("still smoking"))),
        "{after}"
    );

    let (status, _, _) = desk.get(Some(&erik), &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another queue's agent");
    let (status, _, _) = desk.get(None, &path).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_morning_over_http_on_sqlite() {
    support_morning(Desk::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_morning_over_http_on_dynamodb() {
    let Some(desk) = Desk::on_dynamodb().await else {
        return;
    };
    support_morning(desk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_agents_in_with_the_user_pool_and_refuses_wrong_passwords_and_strangers()
{
    let Some(endpoint) = helpdesk_tests::moto::endpoint() else {
        return;
    };
    let (desk, pool, client) = Desk::with_cognito(&endpoint).await;
    // Users of the pool: anna, an agent; zoe, whom the configuration
    // does not list.
    helpdesk_tests::moto::cognito_sign_in(&endpoint, &pool, &client, "anna").await;
    helpdesk_tests::moto::cognito_sign_in(&endpoint, &pool, &client, "zoe").await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |login: &str, password: &str| {
        let body = serde_urlencoded::to_string([
            ("login", login),
            ("password", password),
            ("next", "/tickets?view=all"),
        ])
        .unwrap();
        browser
            .post(format!("{}/signin", desk.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    for (login, password) in [
        ("anna", "not her password 1"),
        ("zoe", helpdesk_tests::moto::COGNITO_PASSWORD),
        ("nobody", helpdesk_tests::moto::COGNITO_PASSWORD),
    ] {
        let refused = sign_in(login, password).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{login}");
        assert!(refused.headers().get("set-cookie").is_none(), "{login}");
        let page = refused.text().await.unwrap();
        assert!(page.contains("Wrong login or password."), "{login}: {page}");
    }

    let signed_in = sign_in("anna", helpdesk_tests::moto::COGNITO_PASSWORD)
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()["location"], "/tickets?view=all");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let list = browser
        .get(format!("{}/tickets?view=all", desk.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert!(list.text().await.unwrap().contains("Anna Petrova"));
}

#[tokio::test]
async fn the_volume_report_counts_the_agents_queues_only_and_names_what_it_cannot_use() {
    let desk = Desk::new().await;
    for subject in ["Printer on fire", "Invoice twice", "Cannot log in"] {
        desk.mail_in("jane@customer.example", subject).await;
    }
    let anna = desk.token("anna", "reports").await;
    let erik = desk.token("erik", "reports").await;
    let today = desk.app.clock.now().date_naive().to_string();
    let path = format!("/reports/volume?from={today}&to={today}");

    let (status, _, body) = desk.get(Some(&anna), &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["report"], "volume");
    assert_eq!(body["queues"], json!(["SUP"]));
    assert_eq!(
        body["rows"],
        json!([{ "period": today, "created": 3, "resolved": 0, "reopened": 0, "backlog": 3 }])
    );
    let (status, _, body) = desk
        .get(
            Some(&anna),
            &format!("/reports/breakdown?from={today}&to={today}&by=channel"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!([{ "value": "email", "created": 3, "resolved": 0, "open": 3 }])
    );
    let (status, _, body) = desk
        .get(
            Some(&anna),
            &format!("/reports/assignee-status?from={today}&to={today}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["columns"],
        json!(["assignee", "status", "open", "created"])
    );
    assert_eq!(
        body["rows"],
        json!([{ "assignee": "(none)", "status": "New", "open": 3, "created": 3 }])
    );
    // erik works in OPS: SUP's tickets are not his to count.
    let (status, _, body) = desk.get(Some(&erik), &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"][0]["created"], 0);
    let (status, _, body) = desk.get(Some(&erik), &format!("{path}&queue=SUP")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "queue");

    for (query, field) in [
        ("by=year", "by"),
        ("zone=Mars/Olympus", "zone"),
        ("from=2026-12-31&to=2026-01-01", "from"),
    ] {
        let (status, _, body) = desk
            .get(Some(&anna), &format!("/reports/volume?{query}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let (status, _, _) = desk.get(Some(&anna), "/reports/nonsense").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = desk.get(None, &path).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
