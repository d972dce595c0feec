//! Benchmark: one SLA check (`helpdesk::sla::check`) over a large store, for
//! the target "100,000 open tickets with 100 due: one check reads about 100
//! timers and takes under 200 ms over SQLite; on DynamoDB it reads the due
//! index with Query only".
//!
//! - SQLite: a fresh file with 100,000 open SUP tickets under the example
//!   config, each stored at version 1 with the SLA state the tracker would
//!   have folded at its creation (first response and resolution timers
//!   running, `seen_version` 1), so the store indexes it without a refresh
//!   per ticket. 99,900 were created Monday 2026-12-07 14:00-15:00
//!   Europe/Berlin and have their first warning after 17:00; 100 were
//!   created at 09:00 and have their first-response warning (12:00) and
//!   breach (13:00) due. The clock is pinned at 15:00. Each round times one
//!   check (the 100 due tickets: warning and breach recorded) and then an
//!   empty check (nothing due); the next round stores 100 new due tickets.
//! - DynamoDB (only with `HELPDESK_TEST_DYNAMODB_ENDPOINT`, moto's server):
//!   the same on a fresh table with far fewer tickets, counting
//!   one check's requests twice: the store's own `RequestCounts` and every
//!   HTTP request on the wire (an SDK interceptor: operation, index, the
//!   item key it names), so a Scan or a read of a ticket that is not due
//!   would show. moto (5.2.1) deep-copies the whole table for every
//!   TransactWriteItems and does not give the memory back: seeding 2,000
//!   tickets through the store reached 23 GB after ~880 creates and was
//!   OOM-killed, so the default is 200 tickets (about 3.7 GB at the end).
//!   The request counts do not depend on the table size.
//!
//! Run with `cargo bench -p helpdesk --bench sla_check`. `BENCH_ROUNDS` sets
//! the SQLite rounds (default 7), `BENCH_TICKETS` the SQLite store size
//! (default 100000), `BENCH_DYNAMO_TICKETS` the moto table size (default
//! 200; see above before raising it).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use helpdesk::app::Services;
use helpdesk::clock::FixedClock;
use helpdesk::config::Config;
use helpdesk::domain::{Actor, Channel, QueueKey, Ticket, TicketKey, TimelineEntry, TimerState};
use helpdesk::sla::CheckReport;
use helpdesk::sla::fold::{Rules, fold};
use helpdesk::store::dynamo::{DynamoStore, RequestCounts, local_client};
use helpdesk::store::sqlite::SqliteStore;
use helpdesk::store::{SlaDueIndex, Store};
use helpdesk::tickets::{self, TicketDraft};

mod support;

/// Tickets due per round.
const DUE: u64 = 100;
/// The target for one check over SQLite.
const TARGET: Duration = Duration::from_millis(200);
/// The checker's budget, generous: the bench wants it to finish. On moto (one request at a time, a copy of the table per
/// transaction) 100 refreshes take tens of seconds; what is measured there
/// is requests, not time.
const BUDGET: Duration = Duration::from_secs(600);
/// Creates in flight while seeding.
const IN_FLIGHT: usize = 32;
/// First response: 4 h limit, warning at 3 h (the example's default target).
const LIMIT_US: i64 = 14_400_000_000;
const WARNING_US: i64 = 10_800_000_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An instant on Monday 2026-12-07 in Europe/Berlin.
fn monday(hour: u32, minute: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .with_ymd_and_hms(2026, 12, 7, hour, minute, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The pinned clock: Monday 15:00 Europe/Berlin.
fn clock_now() -> DateTime<Utc> {
    monday(15, 0)
}

fn config() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    helpdesk::config::load(&path).unwrap()
}

fn services(config: Arc<Config>, store: Arc<dyn Store>, dir: &Path) -> Services {
    support::local_services(config, store, Arc::new(FixedClock::new(clock_now())), dir)
}

/// Ticket `SUP-<number>` as the form path would have created it at
/// `created`, with the SLA state the tracker folds from its first write
/// (the fold of its `created` entry at that instant), stored directly.
fn seeded_ticket(
    config: &Config,
    number: u64,
    created: DateTime<Utc>,
) -> (Ticket, Vec<TimelineEntry>) {
    let queue = QueueKey::parse("SUP").unwrap();
    let draft = TicketDraft {
        queue: queue.clone(),
        summary: format!("Cannot sign in ({number})"),
        description: "The login page says my password is wrong.".into(),
        priority: None,
        line: None,
        components: Vec::new(),
        tags: Vec::new(),
        assignee: None,
        requester_email: None,
        requester_name: None,
        requester_phone: None,
        channel: Channel::Form,
        custom_fields: Default::default(),
    };
    let created = tickets::store_precision(created);
    let mut ticket = tickets::build_ticket(
        config,
        TicketKey::new(queue.clone(), number),
        draft,
        None,
        created,
    )
    .unwrap();
    let entries = tickets::first_entries(&ticket, &Actor::System, Vec::new());
    let sup = &config.queues[&queue];
    let rules = Rules {
        queue: sup,
        rules: &sup.sla,
        calendars: &config.built_calendars,
    };
    ticket.sla = fold(rules, &ticket, &entries, created).state;
    assert_eq!(ticket.sla.seen_version, 1);
    let first = ticket.sla.timer("first_response").unwrap();
    assert_eq!(
        (first.state, first.rule.as_str(), first.calendar.as_str()),
        (TimerState::Running, "First response", "office")
    );
    assert_eq!(
        (first.limit_us, first.warning_us),
        (LIMIT_US, Some(WARNING_US))
    );
    (ticket, entries)
}

/// Created Monday 14:00-15:00: the first warning is after 17:00.
fn later_ticket(
    config: &Config,
    number: u64,
    index: u64,
    count: u64,
) -> (Ticket, Vec<TimelineEntry>) {
    let step_us = 3_600_000_000 / i64::try_from(count.max(1)).unwrap();
    let created =
        monday(14, 0) + chrono::Duration::microseconds(step_us * i64::try_from(index).unwrap());
    let made = seeded_ticket(config, number, created);
    assert!(made.0.sla.next_due().unwrap() > clock_now());
    made
}

/// Created Monday 09:00 (plus `index` seconds): warning at 12:00 and breach
/// at 13:00, both due at 15:00.
fn due_ticket(config: &Config, number: u64, index: u64) -> (Ticket, Vec<TimelineEntry>) {
    let created = monday(9, 0) + chrono::Duration::seconds(i64::try_from(index).unwrap());
    let made = seeded_ticket(config, number, created);
    let first = made.0.sla.timer("first_response").unwrap();
    assert!(first.deadline.unwrap() < clock_now() && first.warn_at.unwrap() < clock_now());
    made
}

/// Stores the tickets, `IN_FLIGHT` creates at a time.
async fn store_all(store: &dyn Store, made: impl Iterator<Item = (Ticket, Vec<TimelineEntry>)>) {
    futures::stream::iter(made)
        .map(|(ticket, entries)| async move {
            store.create_ticket(&ticket, &entries, &[]).await.unwrap();
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
}

/// Seeds `total` tickets numbered from 1, the last `DUE` of them due; the
/// time taken.
async fn seed(store: &dyn Store, config: &Config, total: u64) -> Duration {
    let later = total - DUE;
    let started = Instant::now();
    store_all(
        store,
        (0..later)
            .map(|i| later_ticket(config, i + 1, i, later))
            .chain((0..DUE).map(|i| due_ticket(config, later + i + 1, i))),
    )
    .await;
    started.elapsed()
}

async fn timed_check(services: &Services) -> (CheckReport, Duration) {
    let started = Instant::now();
    let report = helpdesk::sla::check(services, BUDGET).await.unwrap();
    let took = started.elapsed();
    assert!(report.finished && report.failed.is_empty(), "{report:?}");
    (report, took)
}

/// Checks that every due ticket's breach (and warning) is recorded.
async fn assert_recorded(store: &dyn Store, numbers: impl Iterator<Item = u64>) {
    let queue = QueueKey::parse("SUP").unwrap();
    for number in numbers {
        let ticket = store
            .get_ticket(&TicketKey::new(queue.clone(), number))
            .await
            .unwrap()
            .unwrap();
        let first = ticket.sla.timer("first_response").unwrap();
        assert!(
            first.breached && first.warned && ticket.version == 2,
            "{first:?}"
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median_worst(times: &[Duration]) -> (Duration, Duration) {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    (sorted[sorted.len() / 2], *sorted.last().unwrap())
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Rows in the SQLite due index: all, and due at the clock's now.
fn due_index_rows(path: &Path) -> (u64, u64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let all: i64 = conn
        .query_row("SELECT count(*) FROM sla_due", [], |r| r.get(0))
        .unwrap();
    let due: i64 = conn
        .query_row(
            "SELECT count(*) FROM sla_due WHERE due_us <= ?1",
            [clock_now().timestamp_micros()],
            |r| r.get(0),
        )
        .unwrap();
    (u64::try_from(all).unwrap(), u64::try_from(due).unwrap())
}

async fn sqlite_part(root: &Path, config: Arc<Config>) {
    let total = env_number("BENCH_TICKETS", 100_000).max(DUE + 1);
    let rounds = env_number("BENCH_ROUNDS", 7).max(1);
    let path = root.join("helpdesk.db");
    let sqlite = Arc::new(SqliteStore::open(&path).unwrap());
    let services = services(config.clone(), sqlite.clone(), &root.join("sqlite"));

    let seeding = seed(sqlite.as_ref(), &config, total).await;
    let (index_rows, due_rows) = due_index_rows(&path);
    assert_eq!((index_rows, due_rows), (total, DUE));
    println!(
        "SLA check over SQLite: {} open SUP tickets ({} due later, {DUE} due), example config, clock Mon 2026-12-07 15:00 Europe/Berlin",
        thousands(total),
        thousands(total - DUE)
    );
    println!(
        "seeded {} tickets in {:.1} s ({:.0} tickets/s, {IN_FLIGHT} creates in flight); due index rows: {} ({DUE} due now)",
        thousands(total),
        seeding.as_secs_f64(),
        total as f64 / seeding.as_secs_f64(),
        thousands(index_rows)
    );

    println!();
    println!(
        "{:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9} {:>10} {:>12} {:>10}",
        "round",
        "tickets",
        "due_read",
        "refreshed",
        "written",
        "warnings",
        "breaches",
        "check ms",
        "empty: read",
        "empty ms"
    );
    let (mut checks, mut empties, mut index_reads) = (Vec::new(), Vec::new(), Vec::new());
    let mut next = total + 1;
    for round in 0..rounds {
        let due_numbers: Vec<u64> = if round == 0 {
            (total - DUE + 1..=total).collect()
        } else {
            let numbers: Vec<u64> = (next..next + DUE).collect();
            store_all(
                sqlite.as_ref(),
                numbers
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| due_ticket(&config, n, round * DUE + u64::try_from(i).unwrap())),
            )
            .await;
            next += DUE;
            numbers
        };
        let stored = total + round * DUE;
        // The index read alone (what the check starts with), not timed in
        // the check figures.
        let started = Instant::now();
        let due = sqlite
            .sla_due(
                tickets::store_precision(clock_now()),
                helpdesk::sla::check::PAGE,
            )
            .await
            .unwrap();
        index_reads.push(started.elapsed());
        assert_eq!(due.len() as u64, DUE);

        let (report, took) = timed_check(&services).await;
        assert_eq!(
            (
                report.tickets,
                report.written,
                report.breaches,
                report.warnings
            ),
            (DUE as usize, DUE as usize, DUE as usize, DUE as usize),
            "{report:?}"
        );
        assert_recorded(sqlite.as_ref(), due_numbers.into_iter()).await;
        let (empty, empty_took) = timed_check(&services).await;
        assert_eq!((empty.due_read, empty.tickets), (0, 0), "{empty:?}");
        println!(
            "{:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9} {:>10.2} {:>12} {:>10.3}",
            round + 1,
            thousands(stored),
            report.due_read,
            report.tickets,
            report.written,
            report.warnings,
            report.breaches,
            ms(took),
            empty.due_read,
            ms(empty_took)
        );
        checks.push(took);
        empties.push(empty_took);
    }
    let (median, worst) = median_worst(&checks);
    let (empty_median, empty_worst) = median_worst(&empties);
    let (read_median, read_worst) = median_worst(&index_reads);
    println!();
    println!(
        "check, {DUE} due:      median {:.2} ms ({:.0} us/ticket), worst {:.2} ms, {} rounds",
        ms(median),
        median.as_secs_f64() * 1e6 / DUE as f64,
        ms(worst),
        checks.len()
    );
    println!(
        "empty check:         median {:.3} ms, worst {:.3} ms",
        ms(empty_median),
        ms(empty_worst)
    );
    println!(
        "due index read alone (sla_due, {} rows): median {:.3} ms, worst {:.3} ms",
        DUE,
        ms(read_median),
        ms(read_worst)
    );
    println!(
        "target: {DUE} due among {} open tickets in under {} ms over SQLite: {} (worst {:.2} ms)",
        thousands(total),
        TARGET.as_millis(),
        if worst < TARGET { "MET" } else { "NOT MET" },
        ms(worst)
    );
}

/// One HTTP request as it went to DynamoDB.
#[derive(Debug, Clone)]
struct WireRequest {
    operation: String,
    index: Option<String>,
    /// The `pk` values the request names (the key read, the Query's `:pk`,
    /// the items a transaction writes).
    pks: Vec<String>,
}

/// Records every request the SDK transmits (retries included).
#[derive(Debug, Clone, Default)]
struct Wire(Arc<Mutex<Vec<WireRequest>>>);

impl Wire {
    fn taken(&self) -> Vec<WireRequest> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn pk_of(item: &serde_json::Value) -> Option<String> {
    item.get("pk")?.get("S")?.as_str().map(str::to_owned)
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "BenchWireCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .trim_start_matches("DynamoDB_20120810.")
            .to_owned();
        let body: serde_json::Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let index = body
            .get("IndexName")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let mut pks = Vec::new();
        if let Some(key) = body.get("Key") {
            pks.extend(pk_of(key));
        }
        if let Some(pk) = body
            .get("ExpressionAttributeValues")
            .and_then(|v| v.get(":pk"))
            .and_then(|v| v.get("S"))
            .and_then(|v| v.as_str())
        {
            pks.push(pk.to_owned());
        }
        for item in body
            .get("TransactItems")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(put) = item.get("Put").and_then(|p| p.get("Item")) {
                pks.extend(pk_of(put));
            }
        }
        self.0.lock().unwrap().push(WireRequest {
            operation,
            index,
            pks,
        });
        Ok(())
    }
}

fn delta(after: RequestCounts, before: RequestCounts) -> RequestCounts {
    RequestCounts {
        get_item: after.get_item - before.get_item,
        query: after.query - before.query,
        put_item: after.put_item - before.put_item,
        update_item: after.update_item - before.update_item,
        delete_item: after.delete_item - before.delete_item,
        transact_write_items: after.transact_write_items - before.transact_write_items,
        batch_get_item: after.batch_get_item - before.batch_get_item,
        admin: after.admin - before.admin,
        due_index_items: after.due_index_items - before.due_index_items,
    }
}

/// What the wire saw of one check.
fn wire_summary(requests: &[WireRequest]) -> BTreeMap<String, u64> {
    let mut by_kind = BTreeMap::new();
    for r in requests {
        let kind = match (&r.operation[..], &r.index) {
            ("Query", Some(index)) => format!("Query on {index}"),
            ("Query", None) => "Query on the table".to_owned(),
            (op, _) => op.to_owned(),
        };
        *by_kind.entry(kind).or_insert(0) += 1;
    }
    by_kind
}

fn print_counts(label: &str, c: &RequestCounts, wire: &BTreeMap<String, u64>, took: Duration) {
    println!("{label} ({:.0} ms on moto):", ms(took));
    println!(
        "  store RequestCounts: get_item={} query={} put_item={} update_item={} delete_item={} transact_write_items={} admin={} total={} due_index_items={}",
        c.get_item,
        c.query,
        c.put_item,
        c.update_item,
        c.delete_item,
        c.transact_write_items,
        c.admin,
        c.total(),
        c.due_index_items
    );
    let on_wire: Vec<String> = wire.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "  on the wire ({} HTTP requests): {}",
        wire.values().sum::<u64>(),
        if on_wire.is_empty() {
            "none".to_owned()
        } else {
            on_wire.join(" ")
        }
    );
}

async fn dynamo_part(endpoint: &str, root: &Path, config: Arc<Config>) {
    let total = env_number("BENCH_DYNAMO_TICKETS", 200).max(DUE + 1);
    let wire = Wire::default();
    let base = local_client(endpoint).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        base.config().to_builder().interceptor(wire.clone()).build(),
    );
    let table = format!("helpdesk-bench-sla-{}", uuid::Uuid::new_v4().simple());
    let dynamo = DynamoStore::new(client.clone(), &table).one_request_at_a_time();
    dynamo.create_table().await.unwrap();
    let services = services(
        config.clone(),
        Arc::new(dynamo.clone()),
        &root.join("dynamo"),
    );

    let seeding = seed(&dynamo, &config, total).await;
    println!();
    println!(
        "SLA check over DynamoDB (moto at {endpoint}, requests one at a time): {} open SUP tickets ({} due later, {DUE} due); far fewer than over SQLite: moto copies the table on every transaction and its memory grows with tickets x writes; seeded in {:.1} s; times on moto are not DynamoDB's",
        thousands(total),
        thousands(total - DUE),
        seeding.as_secs_f64()
    );
    wire.taken();

    let before = dynamo.request_counts();
    let (report, took) = timed_check(&services).await;
    let counts = delta(dynamo.request_counts(), before);
    let requests = wire.taken();
    println!(
        "report: due_read={} refreshed={} written={} warnings={} breaches={}",
        report.due_read, report.tickets, report.written, report.warnings, report.breaches
    );
    print_counts(
        "one check, 100 due",
        &counts,
        &wire_summary(&requests),
        took,
    );

    // Every ticket the check touched was due: the keys its GetItem, Query
    // and TransactWriteItems requests name are the due tickets' and no other.
    let due_pks: BTreeSet<String> = (total - DUE + 1..=total)
        .map(|n| format!("TICKET#SUP-{n}"))
        .collect();
    let named: BTreeSet<String> = requests.iter().flat_map(|r| r.pks.clone()).collect();
    let (touched, partitions): (BTreeSet<String>, BTreeSet<String>) =
        named.into_iter().partition(|pk| pk.starts_with("TICKET#"));
    let touched_count = touched.len();
    let stray: Vec<&String> = touched.iter().filter(|pk| !due_pks.contains(*pk)).collect();
    let scans = requests.iter().filter(|r| r.operation == "Scan").count();
    let other_index = requests
        .iter()
        .filter(|r| r.operation == "Query" && r.index.as_deref().is_some_and(|i| i != "gsi3"))
        .count();
    println!(
        "  tickets touched: {} (all among the {DUE} due: {}); due index partitions queried: {}; Scan requests: {scans}; Query on another index: {other_index}",
        touched.len(),
        if stray.is_empty() {
            "yes".to_owned()
        } else {
            format!("NO, also {stray:?}")
        },
        partitions.into_iter().collect::<Vec<_>>().join(" ")
    );

    let before = dynamo.request_counts();
    let (empty, empty_took) = timed_check(&services).await;
    let empty_counts = delta(dynamo.request_counts(), before);
    let empty_requests = wire.taken();
    assert_eq!(empty.due_read, 0);
    print_counts(
        "empty check",
        &empty_counts,
        &wire_summary(&empty_requests),
        empty_took,
    );
    assert_recorded(&dynamo, total - DUE + 1..=total).await;

    let expected_queries = 2 * 8 + DUE;
    let ok = scans == 0
        && stray.is_empty()
        && touched_count == DUE as usize
        && other_index == 0
        && counts.get_item == DUE
        && counts.query == expected_queries
        && counts.due_index_items == DUE
        && counts.transact_write_items == DUE
        && counts.put_item + counts.update_item + counts.delete_item == 0;
    println!(
        "expected: GetItem {DUE}, Query {expected_queries} (8 gsi3 shards x 2 index reads: the page, then the empty re-read that ends the run; + 1 timeline Query per due ticket), TransactWriteItems {DUE}, no Scan: {}",
        if ok { "as expected" } else { "DIFFERENT" }
    );
    let _ = client.delete_table().table_name(&table).send().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = std::env::temp_dir().join(format!("helpdesk-bench-sla-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let config = Arc::new(config());
    runtime.block_on(async {
        sqlite_part(&root, config.clone()).await;
        match std::env::var("HELPDESK_TEST_DYNAMODB_ENDPOINT") {
            Ok(endpoint) if !endpoint.trim().is_empty() => {
                dynamo_part(endpoint.trim().trim_end_matches('/'), &root, config).await;
            }
            _ => println!(
                "\nDynamoDB part skipped: set HELPDESK_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT (moto_server)"
            ),
        }
    });
    let _ = std::fs::remove_dir_all(&root);
}
