//! What the benchmarks share: the services a function builds, over local
//! directories (blobs, outbox, event log) and a given store and clock.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use helpdesk::app::{Services, StaticSecrets};
use helpdesk::automation::bus::EventLog;
use helpdesk::automation::webhook::HttpWebhooks;
use helpdesk::blobs::LocalBlobs;
use helpdesk::clock::Clock;
use helpdesk::config::Config;
use helpdesk::mail::transport::OutboxDir;
use helpdesk::store::Store;

/// Services over `dir` (created when missing): blobs in `dir/blobs`, mail
/// in `dir/outbox`, bus events in `dir/events.jsonl`, a fixed reply-token
/// secret.
pub fn local_services(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    dir: &Path,
) -> Services {
    std::fs::create_dir_all(dir).expect("the benchmark's directory");
    Services {
        config,
        store,
        blobs: Arc::new(LocalBlobs::new(dir.join("blobs"))),
        mail: Arc::new(OutboxDir::with_clock(dir.join("outbox"), clock.clone())),
        clock,
        secrets: Arc::new(StaticSecrets(BTreeMap::from([(
            "HELPDESK_REPLY_TOKEN_SECRET".to_owned(),
            "bench-reply-token-secret".to_owned(),
        )]))),
        webhooks: Arc::new(HttpWebhooks::new()),
        events: Arc::new(EventLog::new(dir.join("events.jsonl"))),
    }
}
