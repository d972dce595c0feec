//! Benchmark: finding tickets among 100,000 in SQLite, in process (the
//! listing use case: `tickets::list::plan` and `page`) and through the
//! `helpdesk serve` router over HTTP with a personal API token: the first
//! page of `view=unassigned`, `view=mine&status=Open`, `view=open` by SLA
//! deadline, a `q=` search of a word in about 1 in 20 summaries and of one
//! in about 1 in 2,000, and `GET /views`. Reports p50 and p99 of each
//! (target: p50 under 5 ms).
//!
//! Run with `cargo bench -p helpdesk-cli --bench agent_api`;
//! `BENCH_TICKETS=N` seeds N tickets instead (default 100,000),
//! `BENCH_ROUNDS=N` measures N requests of each kind (default 200).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use helpdesk::app::{BlobChoice, Services, Settings, StoreChoice};
use helpdesk::auth::{Principal, Via};
use helpdesk::domain::{Actor, Channel, EmailAddress, QueueKey, TimelineEntry, TimelineEvent};
use helpdesk::store::listing::ListingRules;
use helpdesk::tickets::list::{self, Wanted};
use helpdesk::tickets::{TicketDraft, build_ticket};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), so every run seeds the same
/// tickets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "printer", "invoice", "login", "password", "refund", "error", "slow", "crash", "export",
    "report", "upload", "screen", "mobile", "account", "billing", "access", "timeout", "sync",
    "email", "backup",
];

const HOLDERS: &[Option<&str>] = &[
    Some("anna"),
    Some("boris"),
    Some("carla"),
    Some("dmitri"),
    None,
];
const STATUSES: &[&str] = &[
    "New",
    "Open",
    "In progress",
    "Need info",
    "Resolved",
    "Closed",
];
const PRIORITIES: &[&str] = &["critical", "high", "normal", "normal", "low"];

async fn seed(services: &Services, count: usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap();
    let store = services.store.as_ref();
    let began = Instant::now();
    for i in 0..count {
        let queue = if i % 10 == 9 { "OPS" } else { "SUP" };
        let queue = QueueKey::parse(queue).unwrap();
        let key = store.allocate_ticket_key(&queue).await.unwrap();
        let mut summary = format!(
            "{} {} {}",
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS)
        );
        if i % 2000 == 7 {
            summary.push_str(" zeppelin");
        }
        let status = *rng.pick(STATUSES);
        let holder = if queue.as_str() == "SUP" {
            *rng.pick(HOLDERS)
        } else {
            None
        };
        let draft = TicketDraft {
            queue: queue.clone(),
            summary,
            description: "Seeded for the benchmark.".to_owned(),
            priority: Some((*rng.pick(PRIORITIES)).to_owned()),
            line: None,
            components: Vec::new(),
            tags: Vec::new(),
            assignee: holder.map(str::to_owned),
            requester_email: Some(
                EmailAddress::parse(&format!("c{}@customer.example", i % 5000)).unwrap(),
            ),
            requester_name: None,
            requester_phone: None,
            channel: Channel::Email,
            custom_fields: Default::default(),
        };
        let at = start + chrono::Duration::seconds(i as i64 * 30);
        let mut ticket = build_ticket(&services.config, key.clone(), draft, None, at).unwrap();
        ticket.status = status.to_owned();
        if matches!(status, "Resolved" | "Closed") {
            ticket.resolved_at = Some(at);
        }
        let entries = vec![TimelineEntry {
            ticket: key,
            seq: helpdesk::domain::ticket::entry_seq(1, 0),
            at,
            actor: Actor::System,
            event: TimelineEvent::Created {
                channel: Channel::Email,
            },
        }];
        store.create_ticket(&ticket, &entries, &[]).await.unwrap();
        if (i + 1) % 20_000 == 0 {
            eprintln!(
                "  seeded {} tickets ({:.1} s)",
                i + 1,
                began.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "seeded {count} tickets in {:.1} s ({:.0} per second)",
        began.elapsed().as_secs_f64(),
        count as f64 / began.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut times: Vec<Duration>, rows: usize) {
    times.sort();
    let p50 = percentile(&times, 0.5);
    let p99 = percentile(&times, 0.99);
    let verdict = if p50 < Duration::from_millis(5) {
        "PASS"
    } else {
        "FAIL"
    };
    println!(
        "{name:<52} rows {rows:>3}  p50 {:>7.3} ms  p99 {:>7.3} ms  {verdict}",
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0
    );
}

const QUERIES: &[&str] = &[
    "view=unassigned",
    "view=mine&status=Open",
    "view=open&sort=sla_deadline",
    "q=printer",
    "q=zeppelin",
];

fn wanted(query: &str) -> Wanted {
    let mut wanted = Wanted {
        limit: 50,
        ..Wanted::default()
    };
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap();
        let value = Some(value.to_owned());
        match name {
            "view" => wanted.view = value,
            "status" => wanted.status = value,
            "sort" => wanted.sort = value,
            "q" => wanted.q = value,
            _ => unreachable!(),
        }
    }
    wanted
}

fn main() {
    let tickets = env_number("BENCH_TICKETS", 100_000);
    let rounds = env_number("BENCH_ROUNDS", 200);
    let dir = std::env::temp_dir().join(format!("helpdesk-api-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let settings = Settings {
            store: StoreChoice::Sqlite(dir.join("helpdesk.db")),
            config: workspace().join("config/helpdesk.yaml"),
            blobs: BlobChoice::Dir(dir.join("blobs")),
            mail_transport: helpdesk::app::MailTransportChoice::Outbox(dir.join("outbox")),
            events: helpdesk::app::EventsChoice::Log(dir.join("events.jsonl")),
            secrets: None,
        };
        let services = Services::build(&settings).await.unwrap();
        seed(&services, tickets).await;
        let anna = Principal::of(&services.config, "anna", Via::Cli).unwrap();
        let rules = ListingRules::of(&services.config);

        println!("\n{tickets} tickets in SQLite, {rounds} rounds each, first page of 50");
        println!("in process (tickets::list::plan + page):");
        for query in QUERIES {
            let mut times = Vec::with_capacity(rounds);
            let mut rows = 0;
            for _ in 0..rounds {
                let began = Instant::now();
                let request = list::plan(&services.config, &anna, &wanted(query)).unwrap();
                let page = list::page(services.store.as_ref(), &rules, &request)
                    .await
                    .unwrap();
                times.push(began.elapsed());
                rows = page.tickets.len();
            }
            report(query, times, rows);
        }
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let began = Instant::now();
            helpdesk::tickets::views::counts(&services.config, services.store.as_ref(), &anna)
                .await
                .unwrap();
            times.push(began.elapsed());
        }
        report("GET /views counts", times, 0);

        let token = helpdesk::auth::issue_token(
            &services.config,
            services.store.as_ref(),
            "anna",
            "bench",
            Utc::now(),
        )
        .await
        .unwrap()
        .secret;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = helpdesk_cli::serve::router(helpdesk_api::Api::new(services.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        helpdesk::automation::webhook::install_crypto_provider();
        let http = reqwest::Client::new();
        println!("through helpdesk serve's router over HTTP (a personal API token):");
        let mut paths: Vec<String> = QUERIES
            .iter()
            .map(|q| format!("/api/v1/tickets?{q}"))
            .collect();
        paths.push("/api/v1/views".to_owned());
        for path in &paths {
            let mut times = Vec::with_capacity(rounds);
            let mut rows = 0;
            for _ in 0..rounds {
                let began = Instant::now();
                let response = http
                    .get(format!("http://{address}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    response.status().is_success(),
                    "{path}: {}",
                    response.status()
                );
                let body: serde_json::Value =
                    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
                times.push(began.elapsed());
                rows = body["tickets"].as_array().map_or(0, Vec::len);
            }
            report(path, times, rows);
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
