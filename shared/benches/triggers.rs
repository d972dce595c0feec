//! Benchmark: evaluating 200 triggers against one change (target: under
//! 100 µs per evaluation in release).
//!
//! Run with `cargo bench -p helpdesk --bench triggers`. Prints the mean,
//! p50 and p99 time per evaluation for three cases: nothing fires (pure
//! matching), three triggers fire with field changes only, and the same
//! plus a rendered Telegram webhook. `BENCH_N` sets the iterations per case
//! (default 20000).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use helpdesk::domain::{Actor, Channel, EmailAddress, QueueKey, Requester, Ticket, TicketKey};
use helpdesk::triggers::{Change, EvalContext, Trigger, evaluate};

/// 200 triggers of mixed shapes; `extra` is appended (the ones that fire).
fn triggers(extra: &str) -> Vec<Trigger> {
    let mut yaml = String::new();
    for i in 0..200 - extra.matches("- name:").count() {
        let rule = match i % 5 {
            0 => format!(
                "  on: [created, fields_changed]\n  when: {{ field: custom.customer_id, became: C-{i} }}\n  do: [{{ set: {{ status: Open }} }}]\n"
            ),
            1 => format!(
                "  on: [created, fields_changed]\n  when: {{ all: [ {{ field: components, contains: Component{i} }}, {{ field: priority, in: [critical, high] }} ] }}\n  do: [{{ assign: component_owner }}]\n"
            ),
            2 => format!(
                "  on: [fields_changed]\n  when: {{ field: status, changed_from: Status{i}, changed_to: Open }}\n  do: [{{ set: {{ tags: {{ add: [t{i}] }} }} }}]\n"
            ),
            3 => format!(
                "  on: [fields_changed, comment_added]\n  when: {{ any: [ {{ by: [customer] }}, {{ field: summary, contains: keyword{i} }}, {{ not: {{ field: channel, in: [form, email, api] }} }} ] }}\n  do: [{{ comment: {{ template: \"seen {i}\" }} }}]\n"
            ),
            _ => format!(
                "  on: [sla_warning, created]\n  when: {{ field: tags, contains: tag{i} }}\n  do: [{{ event: {{ detail_type: Rule{i} }} }}]\n"
            ),
        };
        write!(yaml, "- name: rule {i}\n{rule}").unwrap();
    }
    yaml.push_str(extra);
    let triggers: Vec<Trigger> = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(triggers.len(), 200);
    triggers
}

const FIRING: &str = r#"- name: Line 2 goes to Second line
  on: [created, fields_changed]
  when: { field: line, became: 2 }
  do: [ { set: { status: Second line } } ]
- name: Billing owner
  on: [created, fields_changed]
  when: { field: components, contains: Billing, changed: true }
  do: [ { assign: component_owner } ]
- name: Critical is tagged
  on: [fields_changed]
  when: { all: [ { field: priority, equals: critical }, { by: [agent] } ] }
  do: [ { set: { tags: { add: [urgent] } } } ]
"#;

const WEBHOOK: &str = r#"- name: Tell the team
  on: [fields_changed]
  when: { field: line, changed: true }
  do: [ { webhook: { url_env: TELEGRAM_WEBHOOK_URL, format: telegram, chat_id: 42, text: "{{ ticket.key }}: line {{ old.line }} -> {{ ticket.line }}" } } ]
"#;

fn change() -> Change {
    let at = Utc.with_ymd_and_hms(2025, 3, 10, 9, 0, 0).unwrap();
    let mut custom = BTreeMap::new();
    custom.insert("customer_id".to_owned(), serde_json::json!("ACME-7"));
    let before = Ticket {
        key: TicketKey::parse("SUP-17").unwrap(),
        queue: QueueKey::parse("SUP").unwrap(),
        summary: "Invoice is wrong".into(),
        description: "The March invoice charges us twice.".into(),
        description_blob: None,
        status: "First line".into(),
        resolution: None,
        priority: "normal".into(),
        line: Some(1),
        components: vec!["Accounts".into()],
        tags: vec!["invoice".into()],
        assignee: None,
        requester: Requester {
            contact_id: None,
            email: Some(EmailAddress::parse("customer@example.org").unwrap()),
            name: Some("Casey".into()),
            phone: None,
            organization: None,
        },
        participants: vec![],
        channel: Channel::Form,
        custom_fields: custom,
        created_at: at,
        updated_at: at,
        first_response_at: None,
        resolved_at: None,
        reopen_count: 0,
        trigger_depth: 0,
        sla: Default::default(),
        satisfaction: Default::default(),
        version: 3,
    };
    let mut after = before.clone();
    after.line = Some(2);
    after.priority = "critical".into();
    after.components.push("Billing".into());
    after.version = 4;
    Change::new(
        Some(before),
        after,
        Actor::Agent {
            login: "boris".into(),
            via: None,
        },
    )
}

fn run(name: &str, triggers: &[Trigger], change: &Change, ctx: &EvalContext<'_>, n: usize) {
    let plan = evaluate(triggers, change, ctx);
    for _ in 0..n / 10 {
        black_box(evaluate(black_box(triggers), black_box(change), ctx));
    }
    let mut times = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        black_box(evaluate(black_box(triggers), black_box(change), ctx));
        times.push(t.elapsed());
    }
    let total = start.elapsed();
    times.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name}: n={n} mean={:.1} µs p50={:.1} µs p99={:.1} µs (fired {}, {} field changes, {} effects)",
        micros(total) / n as f64,
        micros(times[n / 2]),
        micros(times[n * 99 / 100]),
        plan.fired.len(),
        plan.changes.len(),
        plan.effects.len(),
    );
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut ctx = EvalContext::default();
    ctx.component_owners.insert("Billing".into(), "anna".into());
    let change = change();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("200 triggers against one change ({profile} build)");
    run("none fire", &triggers(""), &change, &ctx, n);
    run("3 fire, fields only", &triggers(FIRING), &change, &ctx, n);
    let with_webhook = format!("{FIRING}{WEBHOOK}");
    run(
        "4 fire, with a Telegram webhook",
        &triggers(&with_webhook),
        &change,
        &ctx,
        n,
    );
}
