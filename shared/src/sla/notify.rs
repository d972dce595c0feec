//! Telling people about warnings and breaches, on the change path: a
//! write whose timeline entries record an SLA warning or breach (written by
//! the checker or the tracker) is, when its change is processed,
//!
//! - mailed to the rule's `notify.to` (agents by login, `assignee`, plain
//!   addresses) with its `notify.template`, over `ticket`, `sla` and `desk`;
//! - published on the event bus as `SlaWarning` / `SlaBreach` (an
//!   EventBridge event as deployed, the events log locally);
//! - and handed to the queue's triggers as the events `sla_warning` /
//!   `sla_breach` (by [`crate::automation`]).
//!
//! Mail and bus events are side effects with ids made of ticket, metric,
//! cycle and kind, carried out by the trigger engine's executor, so a
//! redelivered change (or one recorded write processed twice) sends and
//! publishes nothing twice.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::json;

use super::model::{Notify, SlaRule};
use crate::config::Config;
use crate::domain::{SlaEventKind, Ticket, TimelineEntry, TimelineEvent};
use crate::services::Services;
use crate::triggers::{Effect, PlannedEffect, SlaAlert, SlaKind};

/// The SLA alerts a write recorded, in its entries' order.
pub fn alerts(entries: &[TimelineEntry]) -> Vec<(SlaAlert, &TimelineEntry)> {
    entries
        .iter()
        .filter_map(|entry| match &entry.event {
            TimelineEvent::Sla {
                metric,
                rule,
                event,
                cycle,
                ..
            } if event.is_alert() => Some((
                SlaAlert {
                    kind: if *event == SlaEventKind::Warned {
                        SlaKind::Warning
                    } else {
                        SlaKind::Breach
                    },
                    metric: metric.clone(),
                    rule: rule.clone(),
                    cycle: *cycle,
                },
                entry,
            )),
            _ => None,
        })
        .collect()
}

/// The id shared by every effect of one alert.
fn alert_id(ticket: &Ticket, alert: &SlaAlert) -> String {
    format!(
        "{}/sla/{}/c{}/{}",
        ticket.key,
        alert.metric,
        alert.cycle,
        alert.kind.as_str()
    )
}

/// The notifications of one alert: a mail per recipient of its rule's
/// `notify`, and one bus event. Problems (a template that does not render,
/// a login without an address) come back as messages, the rest still goes.
pub fn effects(
    services: &Services,
    ticket: &Ticket,
    alert: &SlaAlert,
    entry: &TimelineEntry,
) -> (Vec<PlannedEffect>, Vec<String>) {
    let config = &services.config;
    let rule: Option<&SlaRule> = config
        .queues
        .get(&ticket.queue)
        .and_then(|q| q.sla.iter().find(|r| r.name.value == alert.rule));
    let id = alert_id(ticket, alert);
    let label = format!("SLA {}", alert.rule);
    let sla = sla_value(ticket, alert, entry);
    let mut effects = Vec::new();
    let mut problems = Vec::new();
    if let Some(notify) = rule.and_then(|r| r.notify.as_ref()) {
        match render(services, ticket, &sla, &notify.template.value) {
            Ok((subject, body)) => {
                for (i, address) in recipients(config, ticket, notify, &label, &mut problems) {
                    effects.push(PlannedEffect {
                        id: format!("{id}/mail/{i}"),
                        trigger: label.clone(),
                        effect: Effect::Email {
                            to: address,
                            subject: subject.clone(),
                            body: body.clone(),
                        },
                    });
                }
            }
            Err(why) => problems.push(format!("{label}: {why}")),
        }
    }
    effects.push(bus_event(ticket, alert, &id, label, sla));
    (effects, problems)
}

/// The alert as templates and bus events see it: what the entry recorded,
/// with the deadline and limit of the ticket's timer.
fn sla_value(ticket: &Ticket, alert: &SlaAlert, entry: &TimelineEntry) -> serde_json::Value {
    let (business_seconds, deadline) = match &entry.event {
        TimelineEvent::Sla {
            business_seconds,
            deadline,
            ..
        } => (*business_seconds, *deadline),
        _ => (0, None),
    };
    let timer = ticket.sla.timer(&alert.metric);
    json!({
        "kind": alert.kind,
        "metric": alert.metric,
        "rule": alert.rule,
        "cycle": alert.cycle,
        "at": entry.at,
        "business_seconds": business_seconds,
        "deadline": deadline.or(timer.and_then(|t| t.deadline)),
        "limit_seconds": timer.map(|t| t.limit_us / 1_000_000),
    })
}

/// (index in `notify.to`, address) of every distinct recipient, first
/// mention first; a name without an address (other than a missing
/// assignee) is a problem.
fn recipients(
    config: &Config,
    ticket: &Ticket,
    notify: &Notify,
    label: &str,
    problems: &mut Vec<String>,
) -> Vec<(usize, String)> {
    let mut recipients: Vec<(usize, String)> = Vec::new();
    for (i, to) in notify.to.iter().enumerate() {
        let Some(address) = address_of(config, ticket, &to.value) else {
            if to.value != "assignee" {
                problems.push(format!("{label}: no address for {:?}", to.value));
            }
            continue;
        };
        if !recipients.iter().any(|(_, seen)| *seen == address) {
            recipients.push((i, address));
        }
    }
    recipients
}

/// The address of one `notify.to`: the assignee's or an agent's (by
/// login), else the entry itself as an address.
fn address_of(config: &Config, ticket: &Ticket, to: &str) -> Option<String> {
    match to {
        "assignee" => ticket
            .assignee
            .as_ref()
            .and_then(|login| config.agents.get(login))
            .map(|a| a.email.to_string()),
        login if config.agents.contains_key(login) => {
            config.agents.get(login).map(|a| a.email.to_string())
        }
        address => Some(address.to_owned()),
    }
}

/// The `SlaWarning` / `SlaBreach` bus event of one alert.
fn bus_event(
    ticket: &Ticket,
    alert: &SlaAlert,
    id: &str,
    label: String,
    sla: serde_json::Value,
) -> PlannedEffect {
    PlannedEffect {
        id: format!("{id}/event"),
        trigger: label,
        effect: Effect::Event {
            detail_type: match alert.kind {
                SlaKind::Warning => "SlaWarning".into(),
                SlaKind::Breach => "SlaBreach".into(),
            },
            detail: json!({
                "ticket": ticket.key,
                "queue": ticket.queue,
                "summary": ticket.summary,
                "priority": ticket.priority,
                "assignee": ticket.assignee,
                "sla": sla,
            }),
        },
    }
}

/// Subject and body of the template `name` over the ticket and the alert.
fn render(
    services: &Services,
    ticket: &Ticket,
    sla: &serde_json::Value,
    name: &str,
) -> Result<(String, String), String> {
    let template = services
        .config
        .templates
        .get(name)
        .ok_or_else(|| format!("template {name:?} is not configured"))?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    let data = minijinja::context! {
        ticket => minijinja::Value::from_serialize(ticket),
        sla => minijinja::Value::from_serialize(sla),
        desk => minijinja::context! { name => services.config.desk.name.clone() },
    };
    let subject = env
        .render_str(&template.subject, &data)
        .map_err(|e| format!("template {name:?} does not render: {e}"))?;
    let body = env
        .render_str(&template.body, &data)
        .map_err(|e| format!("template {name:?} does not render: {e}"))?;
    Ok((subject.trim().to_owned(), body))
}
