//! A webhook receiver on 127.0.0.1 for trigger tests: it records every
//! request (headers that matter and the JSON body) and answers 200, or the
//! status a test sets (to exercise retries and permanent failures).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One received call.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The body as JSON.
    pub body: serde_json::Value,
}

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<Mutex<u16>>,
}

/// A running receiver; stops when dropped.
pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookReceiver {
    /// Starts on a free port.
    pub async fn start() -> Self {
        let shared = Shared::default();
        *shared.status.lock().unwrap() = 200;
        let app = Router::new()
            .route("/{*path}", post(record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url,
            shared,
            task,
        }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Every call so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Makes later calls answer `status` (they are still recorded).
    pub fn answer_with(&self, status: u16) {
        *self.shared.status.lock().unwrap() = status;
    }
}

async fn record(
    State(shared): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    });
    StatusCode::from_u16(*shared.status.lock().unwrap()).unwrap()
}
