//! How `helpdesk serve` takes connections, so that slow and idle clients
//! cannot wear it out:
//!
//! - a client must send a request's headers within [`Limits::header_read`],
//!   counted from when the connection opens and, on a kept-alive
//!   connection, from the end of the previous response: a half-sent header
//!   and an idle connection are closed when it runs out (hyper's header
//!   read timeout);
//! - a request body must not pause longer than [`Limits::body_read`], and a
//!   whole request must be answered within twice that (a route that reads
//!   the body answers problem+json when it does not; 408 otherwise);
//! - a connection lives at most [`CONNECTION_LIFETIME`], so a client that
//!   stops reading its answers cannot hold it;
//! - at most [`Limits::max_connections`] connections are open at once; at
//!   the cap no new connection is accepted until one closes (they wait in
//!   the listen backlog), so the process always keeps file descriptors for
//!   its store and files instead of failing on `Too many open files`;
//! - on shutdown, open connections finish their requests, for at most
//!   [`GRACE`].
//!
//! Each request carries its connection's peer as `ConnectInfo<SocketAddr>`
//! (for the forms' rate limits per client).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long one connection may stay open, kept alive or not.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long open connections may finish after the server stopped.
pub const GRACE: Duration = Duration::from_secs(10);

/// File descriptors kept for the process itself (the store and its WAL,
/// blobs, the outbox, the events log, logs) below its limit.
const RESERVED_DESCRIPTORS: usize = 256;

/// The most connections served at once, whatever the descriptor limit.
const MOST_CONNECTIONS: usize = 10_000;

/// What a client gets to send, and how many may be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a request's headers.
    pub header_read: Duration,
    /// Time to send a request's body.
    pub body_read: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Limits {
    /// The defaults: 10 s for headers, 60 s for a body, and as many
    /// connections as the process's descriptor limit leaves room for
    /// (at most 10,000).
    pub fn defaults() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(60),
            max_connections: connections_the_descriptors_allow(),
        }
    }
}

/// This process's soft limit of open files (Linux: `/proc/self/limits`;
/// 1024 where it cannot be read).
pub fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse::<usize>().ok())
        })
        .unwrap_or(1024)
}

/// The open-file limit of this process less what the process needs for
/// itself.
fn connections_the_descriptors_allow() -> usize {
    open_file_limit()
        .saturating_sub(RESERVED_DESCRIPTORS)
        .clamp(16, MOST_CONNECTIONS)
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves,
/// then lets open connections finish (at most [`GRACE`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before it
                    // was taken: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(app.clone().layer(Extension(ConnectInfo(peer)))),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that stops reading its answers would hold the
            // connection (and its slot) forever: every connection ends
            // after CONNECTION_LIFETIME.
            match tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
                Ok(Err(e)) => tracing::debug!(error = %e, "connection closed"),
                Ok(Ok(())) => {}
                Err(_) => tracing::debug!("connection closed after its lifetime"),
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {}s; closing them",
            GRACE.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_for_the_process() {
        let limits = Limits::defaults();
        assert!(limits.max_connections >= 16);
        assert!(limits.max_connections <= MOST_CONNECTIONS);
    }
}
