//! Benchmark: every report over a year of a desk's history in SQLite,
//! read from the rollups (target: under 100 ms each), next to the same
//! report gathered from every timeline.
//!
//! Seeds `BENCH_TICKETS` tickets (default 100,000) over the year from
//! 2025-12-07 to 2026-12-06, each with a history: opened by mail, taken,
//! answered, often a customer's reply and a second answer, resolved (one
//! in ten reopened and resolved again), with its SLA timers' events; some
//! still open. Then keeps the rollups of every ticket (timed), and reads
//! each report `BENCH_ROUNDS` times (default 20) over the whole year,
//! printing p50 and the worst.
//!
//! Run with `cargo bench -p helpdesk-cli --bench reports`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use helpdesk::app::{BlobChoice, Services, Settings, StoreChoice};
use helpdesk::domain::ticket::entry_seq;
use helpdesk::domain::{
    Actor, Channel, EmailAddress, QueueKey, SlaEventKind, Ticket, TimelineEntry, TimelineEvent,
};
use helpdesk::reports::Asked;
use helpdesk::reports::run::{Name, from_store};
use helpdesk::tickets::{TicketDraft, build_ticket};
use serde_json::json;

mod common;
use common::{Rng, env_number, percentile, workspace};

const AGENTS: &[&str] = &["anna", "boris", "carla", "dmitri"];
const PRIORITIES: &[&str] = &["critical", "high", "normal", "normal", "low"];
const COMPONENTS: &[&str] = &["Billing", "Accounts", "Outages"];

/// A ticket's history, built entry by entry with the ticket following.
struct History {
    ticket: Ticket,
    entries: Vec<TimelineEntry>,
    now: DateTime<Utc>,
}

impl History {
    fn push(&mut self, minutes: u64, actor: Actor, event: TimelineEvent) {
        self.now += chrono::Duration::minutes(minutes as i64);
        let seq = entry_seq(1, self.entries.len());
        self.entries.push(TimelineEntry {
            ticket: self.ticket.key.clone(),
            seq,
            at: self.now,
            actor,
            event,
        });
    }

    fn agent(login: &str) -> Actor {
        Actor::Agent {
            login: login.to_owned(),
            via: None,
        }
    }

    fn status(&mut self, minutes: u64, agent: &str, status: &str) {
        let old = std::mem::replace(&mut self.ticket.status, status.to_owned());
        let event = TimelineEvent::FieldChanged {
            field: "status".into(),
            old: old.into(),
            new: status.into(),
        };
        self.push(minutes, Self::agent(agent), event);
    }

    fn sla(&mut self, minutes: u64, metric: &str, rule: &str, event: SlaEventKind) {
        let event = TimelineEvent::Sla {
            metric: metric.into(),
            rule: rule.into(),
            event,
            cycle: 1,
            business_seconds: 0,
            deadline: None,
        };
        self.push(minutes, Actor::System, event);
    }

    fn comment(&mut self, minutes: u64, actor: Actor) {
        let event = TimelineEvent::Comment {
            public: true,
            body: "Seeded.".into(),
            body_blob: None,
        };
        self.push(minutes, actor, event);
    }
}

async fn seed(services: &Services, count: usize, start: DateTime<Utc>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let store = services.store.as_ref();
    let queue = QueueKey::parse("SUP").unwrap();
    let began = Instant::now();
    let year = 365 * 24 * 60 * 60;
    let mut entries = 0;
    for i in 0..count {
        let key = store.allocate_ticket_key(&queue).await.unwrap();
        let at = start + chrono::Duration::seconds((i as i64 * year) / count as i64);
        let component = *rng.pick(COMPONENTS);
        let draft = TicketDraft {
            queue: queue.clone(),
            summary: format!("Seeded request {i}"),
            description: "Seeded for the benchmark.".to_owned(),
            priority: Some((*rng.pick(PRIORITIES)).to_owned()),
            line: None,
            components: vec![component.to_owned()],
            tags: Vec::new(),
            assignee: None,
            requester_email: Some(
                EmailAddress::parse(&format!("c{}@customer.example", i % 5000)).unwrap(),
            ),
            requester_name: None,
            requester_phone: None,
            channel: if i % 4 == 0 {
                Channel::Form
            } else {
                Channel::Email
            },
            custom_fields: Default::default(),
        };
        let ticket = build_ticket(&services.config, key.clone(), draft, None, at).unwrap();
        let mut h = History {
            ticket,
            entries: Vec::new(),
            now: at,
        };
        h.push(
            0,
            Actor::System,
            TimelineEvent::Created {
                channel: h.ticket.channel,
            },
        );
        h.sla(0, "first_response", "First response", SlaEventKind::Started);
        h.sla(0, "resolution", "Resolution", SlaEventKind::Started);
        let agent = *rng.pick(AGENTS);
        h.ticket.assignee = Some(agent.to_owned());
        h.push(
            rng.below(60),
            History::agent(agent),
            TimelineEvent::FieldChanged {
                field: "assignee".into(),
                old: json!(null),
                new: json!(agent),
            },
        );
        if i % 20 != 19 {
            h.comment(5 + rng.below(600), History::agent(agent));
            let met = if rng.below(5) == 0 {
                SlaEventKind::Breached
            } else {
                SlaEventKind::Met
            };
            h.sla(0, "first_response", "First response", met);
            h.status(1, agent, "In progress");
            if rng.below(3) == 0 {
                let customer = Actor::Customer {
                    email: EmailAddress::parse("c@customer.example").unwrap(),
                };
                h.comment(30 + rng.below(1440), customer);
                h.comment(5 + rng.below(300), History::agent(agent));
            }
            // Most are resolved; one in ten of those reopened and resolved
            // again; a few stay open.
            if i % 25 != 3 {
                h.status(60 + rng.below(4000), agent, "Resolved");
                h.sla(0, "resolution", "Resolution", SlaEventKind::Met);
                if i % 10 == 0 {
                    h.status(60 + rng.below(2000), agent, "In progress");
                    h.status(60 + rng.below(2000), agent, "Resolved");
                }
            }
        }
        h.ticket.version = 1;
        h.ticket.updated_at = h.now;
        if h.ticket.status == "Resolved" {
            h.ticket.resolved_at = Some(h.now);
        }
        entries += h.entries.len();
        store
            .create_ticket(&h.ticket, &h.entries, &[])
            .await
            .unwrap();
        if (i + 1) % 20_000 == 0 {
            eprintln!(
                "  seeded {} tickets ({:.1} s)",
                i + 1,
                began.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "seeded {count} tickets with {entries} timeline entries in {:.1} s",
        began.elapsed().as_secs_f64()
    );
}

fn main() {
    let tickets = env_number("BENCH_TICKETS", 100_000);
    let rounds = env_number("BENCH_ROUNDS", 20);
    let dir = std::env::temp_dir().join(format!("helpdesk-reports-bench-{}", std::process::id()));
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
        let start = Utc.with_ymd_and_hms(2025, 12, 7, 8, 0, 0).single().unwrap();
        seed(&services, tickets, start).await;
        let store = services.store.as_ref();
        let config = &services.config;
        let queues = vec![QueueKey::parse("SUP").unwrap()];

        let began = Instant::now();
        let feed = store.change_feed().expect("SQLite has a change feed");
        let kept = helpdesk::reports::keep::catch_up(config, store, feed)
            .await
            .unwrap();
        println!(
            "rollups kept for {kept} tickets and changes in {:.1} s",
            began.elapsed().as_secs_f64()
        );
        let rows = services
            .store
            .rollups(
                &queues[0],
                &helpdesk::reports::keep::classes(config, Name::Volume, None),
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            )
            .await
            .unwrap()
            .len();
        println!("(volume's days over the year: {rows})");
        let classes = helpdesk::reports::keep::classes(config, Name::ResponseTimes, None);
        let to = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let began = Instant::now();
        let days = services.store.rollups(&queues[0], &classes, to).await.unwrap();
        let read = began.elapsed();
        let entries = helpdesk::reports::keep::entries_of(&days).unwrap();
        println!(
            "(response times: {} counters in {} day rows; read {:.1} ms, decoded on one thread {:.1} ms)",
            entries.len(),
            days.len(),
            read.as_secs_f64() * 1e3,
            (began.elapsed() - read).as_secs_f64() * 1e3
        );

        let asked = Asked {
            from: NaiveDate::from_ymd_opt(2025, 12, 7),
            to: NaiveDate::from_ymd_opt(2026, 12, 6),
            by: None,
            zone: None,
        };
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).single().unwrap();
        println!("\n{tickets} tickets, a year: each report over the whole year, {rounds} rounds");
        println!("{:<18} {:>10} {:>10} {:>6}", "report", "p50", "worst", "rows");
        for (name, report) in Name::ALL {
            let mut times = Vec::with_capacity(rounds);
            let mut rows = 0;
            for _ in 0..rounds {
                let began = Instant::now();
                let document = from_store(config, store, report, queues.clone(), &asked, now)
                    .await
                    .unwrap();
                times.push(began.elapsed());
                rows = document.rows.len();
            }
            times.sort();
            let p50 = percentile(&times, 0.5);
            let worst = percentile(&times, 1.0);
            println!(
                "{name:<18} {:>7.2} ms {:>7.2} ms {rows:>6}",
                p50.as_secs_f64() * 1e3,
                worst.as_secs_f64() * 1e3
            );
        }

        // The same volume report gathered from every timeline, as a report
        // in another zone is.
        let elsewhere = Asked {
            zone: Some("America/New_York".to_owned()),
            ..asked.clone()
        };
        let began = Instant::now();
        from_store(config, store, Name::Volume, queues.clone(), &elsewhere, now)
            .await
            .unwrap();
        println!(
            "\nvolume from every timeline (another zone): {:.0} ms",
            began.elapsed().as_secs_f64() * 1e3
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
