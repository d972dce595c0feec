//! `seed-due SEED_JSON`: creates, in the store named by the `HELPDESK_*`
//! variables (the same ones the function reads), the tickets that
//! `events/sla-check/seed.json` describes, each created `days_ago` days
//! before now with its SLA timers started at that instant, and prints one
//! JSON object naming the key each seed ticket got:
//! `{"tickets": {"<id>": {"key": "SUP-1", "created_at": "...", "version": 2, "replayed": false}}}`.
//!
//! A ticket created days ago whose warning and breach were never recorded
//! is what the checker finds after the schedule was down (or before the
//! first deploy of the function): its place in the due index is the
//! warning it passed long ago. To get there each ticket is stored with
//! [`helpdesk::tickets::build_ticket`], [`helpdesk::tickets::first_entries`]
//! and [`helpdesk::store::Store::create_ticket`] at its creation time, and
//! then [`helpdesk::sla::refresh`]ed with the services' clock standing at
//! that same instant: the timers start (and the ticket enters the due
//! index) but nothing after the creation is recorded, which is left for
//! the function. (A refresh at the real now would catch the warnings and
//! breaches up itself.)
//!
//! Each creation carries the idempotency claim `seed:sla-check:<id>`, so
//! running it twice is harmless: a ticket seeded before is named again
//! (`"replayed": true`) and not refreshed again.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use helpdesk::app::{Services, Settings};
use helpdesk::clock::FixedClock;
use helpdesk::domain::{Actor, Channel, EmailAddress, QueueKey};
use helpdesk::sla::{self, Refreshed};
use helpdesk::store::{ClaimPurpose, IdempotencyClaim, Written};
use helpdesk::tickets::{self, TicketDraft};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// The queue every ticket is created in.
    queue: String,
    /// The tickets, in creation order.
    tickets: Vec<SeedTicket>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedTicket {
    /// The name expected.json knows the ticket by.
    id: String,
    summary: String,
    priority: String,
    requester: String,
    /// How long before now it was created.
    days_ago: i64,
}

async fn seed_one(
    services: &Services,
    queue: &QueueKey,
    seed: &SeedTicket,
    now: DateTime<Utc>,
) -> anyhow::Result<serde_json::Value> {
    let created_at = tickets::store_precision(now - chrono::Duration::days(seed.days_ago));
    let requester =
        EmailAddress::parse(&seed.requester).with_context(|| format!("{}: requester", seed.id))?;
    let key = services.store.allocate_ticket_key(queue).await?;
    let draft = TicketDraft {
        queue: queue.clone(),
        summary: seed.summary.clone(),
        description: format!("Seeded by seed-due ({} days ago).", seed.days_ago),
        priority: Some(seed.priority.clone()),
        line: None,
        components: Vec::new(),
        tags: Vec::new(),
        assignee: None,
        requester_email: Some(requester.clone()),
        requester_name: None,
        requester_phone: None,
        channel: Channel::Api,
        custom_fields: BTreeMap::new(),
    };
    let ticket = tickets::build_ticket(&services.config, key, draft, None, created_at)
        .with_context(|| format!("{}: cannot build the ticket", seed.id))?;
    let entries = tickets::first_entries(&ticket, &Actor::Customer { email: requester }, vec![]);
    let claim = IdempotencyClaim {
        key: format!("seed:sla-check:{}", seed.id),
        purpose: ClaimPurpose::Payload(seed.id.clone()),
        expires_at: now + chrono::Duration::days(7),
    };
    let written = services
        .store
        .create_ticket(&ticket, &entries, &[claim])
        .await
        .with_context(|| format!("{}: cannot store {}", seed.id, ticket.key))?;
    let (key, replayed) = match written {
        Written::New => (ticket.key.clone(), false),
        Written::Replayed(key) => (key, true),
    };
    let stored = if replayed {
        services
            .store
            .get_ticket(&key)
            .await?
            .with_context(|| format!("{}: {key} was seeded before but is gone", seed.id))?
    } else {
        // The timers start at the creation, with the clock standing there.
        let mut at_creation = services.clone();
        at_creation.clock = Arc::new(FixedClock::new(created_at));
        match sla::refresh(&at_creation, &key, 0).await? {
            Refreshed::Written { ticket, .. } => *ticket,
            other => bail!("{}: {key} got no SLA timers ({other:?})", seed.id),
        }
    };
    Ok(serde_json::json!({
        "key": key.to_string(),
        "created_at": stored.created_at,
        "version": stored.version,
        "replayed": replayed,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    helpdesk::telemetry::init(helpdesk::telemetry::LogFormat::Text, "warn");
    let Some(path) = std::env::args().nth(1) else {
        bail!("usage: seed-due SEED_JSON (with the function's HELPDESK_* variables)");
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let seed: Seed =
        serde_json::from_str(&text).with_context(|| format!("{path}: not a seed file"))?;
    let queue = QueueKey::parse(&seed.queue).with_context(|| format!("{path}: queue"))?;
    let services = Services::build(&Settings::from_env()?).await?;
    let now = services.clock.now();
    let mut seeded = serde_json::Map::new();
    for ticket in &seed.tickets {
        let value = seed_one(&services, &queue, ticket, now).await?;
        seeded.insert(ticket.id.clone(), value);
    }
    println!("{}", serde_json::json!({ "tickets": seeded }));
    Ok(())
}
