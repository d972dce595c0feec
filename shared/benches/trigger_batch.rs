//! Benchmark: a batch of 100 ticket changes through the trigger engine end
//! to end over SQLite, with the example config's triggers: decode, read the
//! entries, evaluate, one conditional write per ticket.
//!
//! Two paths, each on 100 fresh billing tickets per round:
//! - `stream`: a DynamoDB stream event of 100 ticket INSERT records, as the
//!   `ticket-triggers` function receives it, handled over the SQLite store;
//! - `feed`: one pass of the SQLite change feed over the 100 creations, as
//!   `helpdesk serve` runs it.
//!
//! Run with `cargo bench -p helpdesk --bench trigger_batch`; `BENCH_ROUNDS`
//! sets the rounds (default 10). Prints the median and worst batch time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use helpdesk::app::{BlobChoice, Services, Settings, StoreChoice};
use helpdesk::automation::{feed, stream};
use helpdesk::domain::{Channel, QueueKey, Ticket};
use helpdesk::tickets::{self, TicketDraft};

const BATCH: usize = 100;

async fn build_services(dir: &std::path::Path) -> Services {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let settings = Settings {
        config,
        store: StoreChoice::Sqlite(dir.join("helpdesk.db")),
        blobs: BlobChoice::Dir(dir.join("blobs")),
        mail_transport: helpdesk::app::MailTransportChoice::Outbox(dir.join("outbox")),
        events: helpdesk::app::EventsChoice::Log(dir.join("events.jsonl")),
        secrets: None,
    };
    Services::build(&settings).await.unwrap()
}

/// Stores `BATCH` new billing tickets (line 1, component Billing).
async fn billing_tickets(services: &Services) -> Vec<Ticket> {
    let queue = QueueKey::parse("SUP").unwrap();
    let mut out = Vec::new();
    for i in 0..BATCH {
        let draft = TicketDraft {
            queue: queue.clone(),
            summary: format!("Charged twice ({i})"),
            description: "My card was charged twice.".into(),
            priority: None,
            line: Some(1),
            components: vec!["Billing".into()],
            tags: Vec::new(),
            assignee: None,
            requester_email: None,
            requester_name: None,
            requester_phone: None,
            channel: Channel::Form,
            custom_fields: Default::default(),
        };
        let key = services.store.allocate_ticket_key(&queue).await.unwrap();
        let now = tickets::store_precision(services.clock.now());
        let ticket = tickets::build_ticket(&services.config, key, draft, None, now).unwrap();
        let entries = tickets::first_entries(&ticket, &helpdesk::domain::Actor::System, Vec::new());
        services
            .store
            .create_ticket(&ticket, &entries, &[])
            .await
            .unwrap();
        out.push(ticket);
    }
    out
}

/// The tickets' INSERT records as a DynamoDB stream event.
fn stream_event(tickets: &[Ticket]) -> serde_json::Value {
    let records: Vec<serde_json::Value> = tickets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut image: serde_dynamo::Item = serde_dynamo::to_item(t).unwrap();
            image.insert(
                "pk".into(),
                serde_dynamo::AttributeValue::S(format!("TICKET#{}", t.key)),
            );
            image.insert(
                "sk".into(),
                serde_dynamo::AttributeValue::S("TICKET".into()),
            );
            image.insert(
                "item_type".into(),
                serde_dynamo::AttributeValue::S("ticket".into()),
            );
            serde_json::json!({
                "eventID": format!("bench-{i}"),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": "eu-central-1",
                "dynamodb": {
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", i + 1),
                    "SizeBytes": 512,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                }
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort_unstable();
    let median = times[times.len() / 2];
    let worst = *times.last().unwrap();
    println!(
        "{name}: {BATCH} records per batch, rounds={} median={:.2} ms ({:.0} us/record) worst={:.2} ms",
        times.len(),
        median.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e6 / BATCH as f64,
        worst.as_secs_f64() * 1e3
    );
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = std::env::temp_dir().join(format!("helpdesk-bench-triggers-{}", std::process::id()));
    let (mut via_stream, mut via_feed) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        runtime.block_on(async {
            let dir = root.join(format!("stream-{round}"));
            std::fs::create_dir_all(&dir).unwrap();
            let services = build_services(&dir).await;
            let tickets = billing_tickets(&services).await;
            let event = stream_event(&tickets);
            let started = Instant::now();
            let (response, reports) = stream::handle_batch(&services, &event).await;
            via_stream.push(started.elapsed());
            assert!(response.batch_item_failures.is_empty(), "{reports:?}");
            let first = services
                .store
                .get_ticket(&tickets[0].key)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(first.status, "First line");

            let dir = root.join(format!("feed-{round}"));
            std::fs::create_dir_all(&dir).unwrap();
            let services = build_services(&dir).await;
            billing_tickets(&services).await;
            let feed: &dyn helpdesk::store::ChangeFeed = services.store.change_feed().unwrap();
            let started = Instant::now();
            let pass = feed::run_once(&services, feed, BATCH).await.unwrap();
            via_feed.push(started.elapsed());
            assert_eq!(pass.processed, BATCH);
        });
    }
    let _ = std::fs::remove_dir_all(&root);
    summary("stream batch over SQLite", via_stream);
    summary("change feed pass over SQLite", via_feed);
}
