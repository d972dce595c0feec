//! Benchmark: finding tickets among 100,000 in SQLite, in process (the
//! listing use case: `tickets::list::plan` and `page`) and through the
//! `helpdesk serve` router over HTTP with a personal API token: the first
//! page of `view=unassigned`, `view=mine&status=Open`, `view=open` by SLA
//! deadline, a `q=` search of a word in about 1 in 20 summaries and of one
//! in about 1 in 2,000, and `GET /views`. Reports p50 and p99 of each
//! (target: p50 under 5 ms).
//!
//! Then the console's pages through the same router with a session
//! cookie (target: p50 under 10 ms, and each page with its style sheet
//! and script under 150 KB): the list (mine, unassigned, open by SLA
//! deadline, a search), a small ticket, a ticket with 2,000 timeline
//! entries, and a ticket of a requester with 500 other tickets.
//!
//! Run with `cargo bench -p helpdesk-cli --bench agent_api`;
//! `BENCH_TICKETS=N` seeds N tickets instead (default 100,000),
//! `BENCH_ROUNDS=N` measures N requests of each kind (default 200).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use helpdesk::app::{BlobChoice, Services, Settings, StoreChoice};
use helpdesk::auth::{Principal, Via};
use helpdesk::domain::{Actor, Channel, EmailAddress, QueueKey, TimelineEntry, TimelineEvent};
use helpdesk::store::listing::ListingRules;
use helpdesk::tickets::list::{self, Wanted};
use helpdesk::tickets::{TicketDraft, build_ticket};

mod common;
use common::{Rng, env_number, percentile, workspace};

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

/// The requester with hundreds of tickets, and the ticket with thousands
/// of timeline entries.
const PROLIFIC: &str = "prolific@customer.example";

/// Seeds `others` tickets of [`PROLIFIC`], then one more whose timeline
/// has `entries` entries (mail in with HTML, answers, notes, field
/// changes); answers that last ticket's key.
async fn seed_heavy(
    services: &Services,
    others: usize,
    entries: usize,
) -> helpdesk::domain::TicketKey {
    let store = services.store.as_ref();
    let queue = QueueKey::parse("SUP").unwrap();
    let start = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().unwrap();
    let draft = |summary: String| TicketDraft {
        queue: queue.clone(),
        summary,
        description: "Seeded for the benchmark.".to_owned(),
        priority: Some("normal".to_owned()),
        line: None,
        components: Vec::new(),
        tags: Vec::new(),
        assignee: Some("anna".to_owned()),
        requester_email: Some(EmailAddress::parse(PROLIFIC).unwrap()),
        requester_name: Some("Pat Prolific".to_owned()),
        requester_phone: None,
        channel: Channel::Email,
        custom_fields: Default::default(),
    };
    let created = |key: &helpdesk::domain::TicketKey, at| TimelineEntry {
        ticket: key.clone(),
        seq: helpdesk::domain::ticket::entry_seq(1, 0),
        at,
        actor: Actor::System,
        event: TimelineEvent::Created {
            channel: Channel::Email,
        },
    };
    for i in 0..=others {
        let key = store.allocate_ticket_key(&queue).await.unwrap();
        let at = start + chrono::Duration::minutes(i as i64);
        let ticket = build_ticket(
            &services.config,
            key.clone(),
            draft(format!("question {i} of many")),
            None,
            at,
        )
        .unwrap();
        store
            .create_ticket(&ticket, &[created(&key, at)], &[])
            .await
            .unwrap();
        if i == others {
            // The big one: entries written 100 to a version.
            let mut ticket = ticket;
            let mut written = 0;
            while written < entries {
                let stored = ticket.version;
                ticket.version += 1;
                let batch: Vec<TimelineEntry> = (0..100.min(entries - written))
                    .map(|n| {
                        let i = written + n;
                        let event = match i % 4 {
                            0 => TimelineEvent::EmailIn {
                                message_id: format!("m{i}@customer.example"),
                                from: PROLIFIC.to_owned(),
                                subject: format!("Re: question {i}"),
                                subject_blob: None,
                                raw_key: None,
                                text: Some(format!("Hello, message {i}: the export still fails after the update.")),
                                text_blob: None,
                                html: Some(format!("<p>Hello, message <b>{i}</b>:</p><p>the export still fails after the update.</p><blockquote>earlier text</blockquote>")),
                                html_blob: None,
                                skipped: Vec::new(),
                                skipped_unlisted: 0,
                                participants_left_out: 0,
                                automatic: Vec::new(),
                                authentication: None,
                            },
                            1 => TimelineEvent::Comment { public: true, body: format!("Answer {i}: please try the new version."), body_blob: None },
                            2 => TimelineEvent::Comment { public: false, body: format!("Note {i}: asked the developers."), body_blob: None },
                            _ => TimelineEvent::FieldChanged { field: "status".into(), old: serde_json::json!("Open"), new: serde_json::json!("Need info") },
                        };
                        TimelineEntry {
                            ticket: key.clone(),
                            seq: helpdesk::domain::ticket::entry_seq(ticket.version, n),
                            at: at + chrono::Duration::seconds(i as i64),
                            actor: Actor::Agent { login: "anna".into(), via: None },
                            event,
                        }
                    })
                    .collect();
                written += batch.len();
                // As the SLA runner leaves it after each write: folded up
                // to this version.
                ticket.sla.seen_version = ticket.version;
                store
                    .update_ticket(&ticket, stored, &batch, &[])
                    .await
                    .unwrap();
            }
            return key;
        }
    }
    unreachable!()
}

fn report(name: &str, times: Vec<Duration>, rows: usize) {
    report_against(name, times, rows, Duration::from_millis(5));
}

fn report_against(name: &str, mut times: Vec<Duration>, rows: usize, target: Duration) {
    times.sort();
    let p50 = percentile(&times, 0.5);
    let p99 = percentile(&times, 0.99);
    let verdict = if p50 < target { "PASS" } else { "FAIL" };
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
        let heavy = seed_heavy(&services, 500, 2_000).await;
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

        // The console, with a session cookie.
        let session = helpdesk::auth::open_session(services.store.as_ref(), anna.clone(), Utc::now())
            .await
            .unwrap();
        let cookie = format!("hd_session={}", session.secret);
        let mut assets = 0;
        for asset in ["/assets/console.css", "/assets/console.js"] {
            assets += http.get(format!("http://{address}{asset}")).send().await.unwrap().bytes().await.unwrap().len();
        }
        let small = format!("/tickets/{}", helpdesk::domain::TicketKey::new(QueueKey::parse("SUP").unwrap(), 1));
        println!("the console's pages over HTTP (a session cookie; target p50 under 10 ms, page with assets under 150 KB; assets {assets} bytes):");
        let pages = [
            ("list: /tickets?view=mine".to_owned(), "/tickets?view=mine".to_owned()),
            ("list: /tickets?view=unassigned".to_owned(), "/tickets?view=unassigned".to_owned()),
            ("list: /tickets?view=open&sort=sla_deadline".to_owned(), "/tickets?view=open&sort=sla_deadline".to_owned()),
            ("list: /tickets?q=printer".to_owned(), "/tickets?q=printer".to_owned()),
            (format!("ticket: {small} (1 entry)"), small.clone()),
            (format!("ticket: /tickets/{heavy} (2,000 entries, 500 others)"), format!("/tickets/{heavy}")),
        ];
        for (name, path) in &pages {
            let mut times = Vec::with_capacity(rounds);
            let mut weight = 0;
            for _ in 0..rounds {
                let began = Instant::now();
                let response = http
                    .get(format!("http://{address}{path}"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{path}: {}", response.status());
                weight = response.bytes().await.unwrap().len();
                times.push(began.elapsed());
            }
            let total = weight + assets;
            let verdict = if total < 150 * 1024 { "PASS" } else { "FAIL" };
            println!("  {name}: {weight} bytes, {total} with assets ({verdict})");
            report_against(&format!("  {name}"), times, 0, Duration::from_millis(10));
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
