//! `seed-store SEED_JSON`: replays the ticket writes that the sample stream
//! records of `events/ticket-triggers/` describe into the store named by the
//! `HELPDESK_*` variables (the same ones the function reads), through the
//! store's own `create_ticket` and `update_ticket`.
//!
//! The sample records say "ticket SUP-2 went from version 2 to version 3";
//! in a deployment that write happened before the stream delivered it, so
//! the function finds the ticket in the table. `scripts/test` runs this
//! first, so the function is checked against a store in which those writes
//! really happened (on DynamoDB the stored items are then exactly the
//! records' images, which `check_trigger_events.py` verifies).
//!
//! The seed file (written by `scripts/lib/gen_trigger_events.py`) holds, per
//! ticket, its writes in version order, each as the DynamoDB items the
//! write stores: the ticket item and the timeline items written with it.
//! Writes the store already has (by version) are left alone, so running it
//! twice is harmless; a ticket the trigger function has written to since is
//! not touched again.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use helpdesk::app::{Services, Settings};
use helpdesk::domain::{Ticket, TimelineEntry};
use helpdesk::store::Written;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Attributes that belong to the table layout, not to the domain value
/// (as the DynamoDB store strips them when it reads an item).
const LAYOUT_ATTRIBUTES: [&str; 12] = [
    "pk",
    "sk",
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    "gsi3pk",
    "gsi3sk",
    "gsi4pk",
    "gsi4sk",
    "item_type",
    "expires_at",
];

#[derive(Debug, Deserialize)]
struct Seed {
    /// Ticket key -> its writes, in version order.
    tickets: BTreeMap<String, Vec<Write>>,
}

#[derive(Debug, Deserialize)]
struct Write {
    /// The ticket item the write stores.
    ticket: serde_dynamo::Item,
    /// The timeline items written with it.
    #[serde(default)]
    entries: Vec<serde_dynamo::Item>,
}

fn decode<T: DeserializeOwned>(what: &str, item: &serde_dynamo::Item) -> anyhow::Result<T> {
    let mut item = item.clone();
    for name in LAYOUT_ATTRIBUTES {
        item.remove(name);
    }
    serde_dynamo::from_item(item).with_context(|| format!("{what} is not what the store writes"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    helpdesk::telemetry::init(helpdesk::telemetry::LogFormat::Text, "warn");
    let Some(path) = std::env::args().nth(1) else {
        bail!("usage: seed-store SEED_JSON (with the function's HELPDESK_* variables)");
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let seed: Seed =
        serde_json::from_str(&text).with_context(|| format!("{path}: not a seed file"))?;
    let services = Services::build(&Settings::from_env()?).await?;
    let store = services.store.as_ref();
    for (key, writes) in &seed.tickets {
        let mut stored = None::<u64>;
        let mut written = Vec::new();
        for (i, write) in writes.iter().enumerate() {
            let ticket: Ticket = decode(&format!("{key} write {}", i + 1), &write.ticket)?;
            let entries = write
                .entries
                .iter()
                .enumerate()
                .map(|(j, e)| {
                    decode::<TimelineEntry>(&format!("{key} write {} entry {j}", i + 1), e)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if ticket.key.to_string() != *key {
                bail!("{path}: a write of {key} stores ticket {}", ticket.key);
            }
            let current = match stored {
                Some(version) => version,
                None => store
                    .get_ticket(&ticket.key)
                    .await?
                    .map_or(0, |t| t.version),
            };
            if current >= ticket.version {
                stored = Some(current);
                continue;
            }
            if current + 1 != ticket.version {
                bail!(
                    "{key} is stored at version {current}; the seed's next write is version {}",
                    ticket.version
                );
            }
            let result = if ticket.version == 1 {
                store.create_ticket(&ticket, &entries, &[]).await
            } else {
                store.update_ticket(&ticket, current, &entries, &[]).await
            };
            match result
                .with_context(|| format!("cannot store {key} version {}", ticket.version))?
            {
                Written::New => written.push(ticket.version),
                Written::Replayed(_) => bail!("{key} version {}: replayed", ticket.version),
            }
            stored = Some(ticket.version);
        }
        match (written.first(), written.last()) {
            (Some(first), Some(last)) => {
                println!("{key}: stored versions {first}..={last}");
            }
            _ => println!("{key}: already stored (version {})", stored.unwrap_or(0)),
        }
    }
    Ok(())
}
