//! `spawn_app`: a helpdesk with the example configuration (plus test-only
//! forms) over a fresh SQLite file, a temporary attachment folder, a pinned
//! clock and known secrets; optionally served over HTTP on a random port.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use helpdesk::app::{Services, StaticSecrets};
use helpdesk::automation::bus::EventLog;
use helpdesk::automation::webhook::HttpWebhooks;
use helpdesk::blobs::{BlobStore, LocalBlobs};
use helpdesk::clock::FixedClock;
use helpdesk::domain::{Ticket, TicketKey, TimelineEntry};
use helpdesk::intake::{self, FormRequest};
use helpdesk::mail::transport::OutboxDir;
use helpdesk::store::sqlite::SqliteStore;
use helpdesk::store::{Store, TicketQuery};

/// The example configuration shipped in `config/`.
pub fn example_config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml")
}

/// Forms only the tests use, appended to the example's `forms:` section.
const TEST_FORMS: &str = r#"
  tally-bugs:
    queue: SUP
    fields:
      email:   { type: email, required: true, aliases: [Your email] }
      summary: { required: true, aliases: [What went wrong?] }
      details: { type: textarea }
    map:
      summary: summary
      description: details
      requester_email: email
    signature: { scheme: tally, secret_env: TALLY_SECRET }
  partner-api:
    queue: SUP
    fields:
      email:   { type: email, required: true }
      subject: { required: true }
      message: { type: textarea, required: true }
    map:
      summary: subject
      description: message
      requester_email: email
    signature: { scheme: generic, secret_env: PARTNER_SECRET }
"#;

/// The secrets the test forms use.
pub const TYPEFORM_SECRET: &str = "test-typeform-secret";
/// Tally's test secret.
pub const TALLY_SECRET: &str = "test-tally-secret";
/// The Reply-To token secret.
pub const REPLY_TOKEN_SECRET: &str = "test-reply-token-secret-of-32-chars";
/// The generic scheme's test secret.
pub const PARTNER_SECRET: &str = "test-partner-secret";

/// A running test helpdesk.
pub struct TestApp {
    /// The services, as the handlers see them.
    pub services: Services,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The pinned clock.
    pub clock: Arc<FixedClock>,
    /// The attachment folder.
    pub blob_dir: PathBuf,
    /// The outbox: every mail the desk sent, as `.eml` files.
    pub outbox: Arc<OutboxDir>,
    /// The local event bus: every event triggers published.
    pub events: Arc<EventLog>,
    /// The client address form posts come from (none: unknown, as for an
    /// entry point that does not know it).
    pub client: Option<std::net::IpAddr>,
    dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The instant the test clock starts at.
pub fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0)
        .single()
        .unwrap_or_default()
}

/// The example configuration with the test-only forms.
pub fn test_config() -> helpdesk::config::Config {
    let example =
        std::fs::read_to_string(example_config_path()).expect("example config is readable");
    let text = format!("{example}{TEST_FORMS}");
    helpdesk::config::load_str(&text, "test-config").expect("test config is valid")
}

/// A fresh helpdesk over SQLite and a local attachment folder.
pub fn spawn_app() -> TestApp {
    let dir = std::env::temp_dir().join(format!("helpdesk-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.join("helpdesk.db")).expect("sqlite opens"));
    let blob_dir = dir.join("blobs");
    let blobs = Arc::new(LocalBlobs::new(&blob_dir));
    spawn_app_with(store, blobs, dir, blob_dir)
}

/// A fresh helpdesk over the given store and blob store; `dir` is removed
/// when the app is dropped.
pub fn spawn_app_with(
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    dir: PathBuf,
    blob_dir: PathBuf,
) -> TestApp {
    spawn_app_with_secrets(store, blobs, dir, blob_dir, BTreeMap::new())
}

/// [`spawn_app_with`] with more secrets (environment variables as the
/// desk sees them), such as a webhook URL pointing at a test server.
pub fn spawn_app_with_secrets(
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    dir: PathBuf,
    blob_dir: PathBuf,
    extra_secrets: BTreeMap<String, String>,
) -> TestApp {
    let clock = Arc::new(FixedClock::new(test_now()));
    let mut secrets = StaticSecrets(BTreeMap::from([
        (
            "HELPDESK_SECRET_TYPEFORM_FEEDBACK".to_owned(),
            TYPEFORM_SECRET.to_owned(),
        ),
        ("TALLY_SECRET".to_owned(), TALLY_SECRET.to_owned()),
        ("PARTNER_SECRET".to_owned(), PARTNER_SECRET.to_owned()),
        (
            "HELPDESK_REPLY_TOKEN_SECRET".to_owned(),
            REPLY_TOKEN_SECRET.to_owned(),
        ),
    ]));
    secrets.0.extend(extra_secrets);
    let outbox = Arc::new(OutboxDir::with_clock(dir.join("outbox"), clock.clone()));
    let events = Arc::new(EventLog::new(dir.join("events.jsonl")));
    let services = Services {
        mail: outbox.clone(),
        config: Arc::new(test_config()),
        store: store.clone(),
        blobs,
        clock: clock.clone(),
        secrets: Arc::new(secrets),
        webhooks: Arc::new(HttpWebhooks::new()),
        events: events.clone(),
    };
    TestApp {
        services,
        store,
        clock,
        blob_dir,
        outbox,
        events,
        client: None,
        dir,
    }
}

/// What a test sees of a response.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// The body parsed as JSON (`Null` when empty or not JSON).
    pub json: serde_json::Value,
}

impl Answer {
    /// The `ticket` of a 201 answer.
    pub fn ticket(&self) -> TicketKey {
        let key = self.json["ticket"]
            .as_str()
            .unwrap_or_else(|| panic!("no ticket in {self:?}"));
        TicketKey::parse(key).expect("ticket key parses")
    }

    /// The field names of a 422 answer's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    /// Posts `body` with `headers` to `/forms/{form}` through the handler.
    pub async fn post(
        &self,
        form: &str,
        headers: &[(&str, &str)],
        body: impl Into<bytes::Bytes>,
    ) -> Answer {
        self.request(http::Method::POST, form, headers, body.into())
            .await
    }

    /// Posts a JSON object.
    pub async fn post_json(&self, form: &str, body: serde_json::Value) -> Answer {
        self.post(
            form,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    /// Sends any request to `/forms/{form}` through the handler.
    pub async fn request(
        &self,
        method: http::Method,
        form: &str,
        headers: &[(&str, &str)],
        body: bytes::Bytes,
    ) -> Answer {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                http::HeaderValue::from_str(value).expect("header value"),
            );
        }
        let response = intake::handle(
            &self.services,
            FormRequest {
                method,
                form_id: form.to_owned(),
                headers: map,
                body,
                client: self.client,
            },
        )
        .await;
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            json: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Every ticket of queue SUP, newest first.
    pub async fn tickets(&self) -> Vec<Ticket> {
        let queue = helpdesk::domain::QueueKey::parse("SUP").expect("queue key");
        self.store
            .list_tickets(&TicketQuery::newest(queue, 10_000))
            .await
            .expect("list")
    }

    /// One ticket, which must exist.
    pub async fn ticket(&self, key: &TicketKey) -> Ticket {
        self.store
            .get_ticket(key)
            .await
            .expect("get")
            .expect("ticket exists")
    }

    /// A ticket's timeline.
    pub async fn timeline(&self, key: &TicketKey) -> Vec<TimelineEntry> {
        self.store.timeline(key).await.expect("timeline")
    }

    /// Delivers a raw message through the mail pipeline, as an MTA would.
    pub async fn deliver(
        &self,
        raw: impl Into<bytes::Bytes>,
    ) -> Result<helpdesk::mail::ingest::Ingested, helpdesk::mail::ingest::IngestError> {
        helpdesk::mail::ingest::ingest(&self.services, raw.into(), Default::default()).await
    }

    /// The SQLite file of an app made by [`spawn_app`] (to damage it, in
    /// tests of what a corrupt record does).
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("helpdesk.db")
    }

    /// The mails in the outbox, parsed, oldest first.
    pub fn sent(&self) -> Vec<(String, String)> {
        self.outbox
            .list()
            .unwrap_or_default()
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).expect("outbox file");
                let text = String::from_utf8_lossy(&raw).into_owned();
                (path.display().to_string(), text)
            })
            .collect()
    }

    /// Serves the `helpdesk serve` router on a random local port; returns
    /// its base URL. The server lives until the test's runtime ends.
    pub async fn serve(&self) -> String {
        self.serve_api(helpdesk_api::Api::new(self.services.clone()))
            .await
    }

    /// Serves the `helpdesk serve` router over `api` (the app's services
    /// with a Cognito verifier, say) on a random local port; returns its
    /// base URL.
    pub async fn serve_api(&self, api: helpdesk_api::Api) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let router = helpdesk_cli::serve::router(api);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        format!("http://{address}")
    }
}

/// The corpus folder shared beside the project, if present.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/corpus is absent (a fresh clone does not have it)");
        None
    }
}
