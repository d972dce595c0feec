//! Checks of a queue's SLA rules that types cannot express: calendars,
//! statuses, priorities, components, lines, people and templates named
//! must exist; targets must make sense; pause conditions must be states.

use std::collections::BTreeSet;

use super::model::{Condition, Notify, SlaRule, TicketFilter};
use crate::config::error::{Finding, known_hint};
use crate::config::{Config, Queue};
use crate::domain::{EmailAddress, QueueKey};

/// Every finding about the SLA rules of queue `key`.
pub fn validate(config: &Config, key: &QueueKey, queue: &Queue) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut names = BTreeSet::new();
    for rule in &queue.sla {
        let at = &rule.name.referenced;
        let place = format!("SLA rule {:?} of queue {key}", rule.name.value);
        if !names.insert(rule.name.value.as_str()) {
            findings.push(Finding::at(at, format!("{place} is defined twice")));
        }
        check_calendar(&mut findings, config, rule, &place);
        check_filter(&mut findings, config, queue, at, &place, &rule.when);
        check_targets(&mut findings, config, queue, rule, &place);
        check_conditions(&mut findings, queue, rule, &place);
        if let Some(notify) = &rule.notify {
            check_notify(&mut findings, config, notify, &place);
        }
    }
    findings
}

/// The calendar of `rule` is a configured one.
fn check_calendar(findings: &mut Vec<Finding>, config: &Config, rule: &SlaRule, place: &str) {
    if !config.calendars.contains_key(&rule.calendar.value) {
        let known: Vec<&str> = config.calendars.keys().map(String::as_str).collect();
        findings.push(
            Finding::at(
                &rule.calendar.referenced,
                format!("unknown calendar {:?} in {place}", rule.calendar.value),
            )
            .hint(known_hint(&rule.calendar.value, "calendars", &known)),
        );
    }
}

/// `rule` has start and stop conditions, every status its conditions name
/// exists, and it pauses on states only.
fn check_conditions(findings: &mut Vec<Finding>, queue: &Queue, rule: &SlaRule, place: &str) {
    let at = &rule.name.referenced;
    for (list, what) in [(&rule.start, "start"), (&rule.stop, "stop")] {
        if list.is_empty() {
            findings.push(
                Finding::at(at, format!("{place} has no {what} condition")).hint(
                    "for example start: [created] and stop: [team_answer] or stop: [resolved]",
                ),
            );
        }
    }
    for condition in rule.start.iter().chain(&rule.stop).chain(&rule.pause) {
        check_statuses(findings, queue, at, place, condition);
    }
    for condition in &rule.pause {
        if !condition.is_state() {
            findings.push(
                Finding::at(
                    at,
                    format!(
                        "{place}: `pause` needs states, and {} is an event",
                        condition.describe()
                    ),
                )
                .hint("pause on { status: [...] }, waiting, resolved or assigned"),
            );
        }
    }
}

/// The notification's template is configured, and everyone it goes to is
/// an agent, `assignee` or an email address.
fn check_notify(findings: &mut Vec<Finding>, config: &Config, notify: &Notify, place: &str) {
    if !config.templates.contains_key(&notify.template.value) {
        let known: Vec<&str> = config.templates.keys().map(String::as_str).collect();
        findings.push(
            Finding::at(
                &notify.template.referenced,
                format!("unknown template {:?} in {place}", notify.template.value),
            )
            .hint(known_hint(&notify.template.value, "templates", &known)),
        );
    }
    for to in &notify.to {
        let ok = to.value == "assignee"
            || config.agents.contains_key(&to.value)
            || (to.value.contains('@') && EmailAddress::parse(&to.value).is_ok());
        if !ok {
            let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
            findings.push(
                Finding::at(
                    &to.referenced,
                    format!(
                        "{place} notifies {:?}, which is neither an agent, `assignee` nor an address",
                        to.value
                    ),
                )
                .hint(known_hint(&to.value, "agents", &known)),
            );
        }
    }
}

fn check_targets(
    findings: &mut Vec<Finding>,
    config: &Config,
    queue: &Queue,
    rule: &SlaRule,
    place: &str,
) {
    let at = &rule.name.referenced;
    if rule.targets.is_empty() {
        findings.push(
            Finding::at(at, format!("{place} has no targets"))
                .hint("add targets: [{ limit: 2h, warning: 1h 30m }]"),
        );
    }
    for target in &rule.targets {
        check_filter(findings, config, queue, at, place, &target.when);
        if target.limit.0.is_zero() {
            findings.push(Finding::at(
                at,
                format!("{place} has a target with a zero limit"),
            ));
        }
        if let Some(warning) = target.warning
            && warning.0 >= target.limit.0
        {
            findings.push(
                Finding::at(
                    at,
                    format!(
                        "{place}: the warning ({}) must come before the limit ({})",
                        humantime::format_duration(warning.0),
                        humantime::format_duration(target.limit.0)
                    ),
                )
                .hint("`warning` is the business time spent when the warning goes out"),
            );
        }
    }
}

fn check_filter(
    findings: &mut Vec<Finding>,
    config: &Config,
    queue: &Queue,
    at: &serde_saphyr::Location,
    place: &str,
    filter: &TicketFilter,
) {
    let priorities: Vec<&str> = config
        .priorities
        .levels
        .iter()
        .map(String::as_str)
        .collect();
    for priority in &filter.priority {
        if !priorities.contains(&priority.as_str()) {
            findings.push(
                Finding::at(at, format!("unknown priority {priority:?} in {place}"))
                    .hint(known_hint(priority, "priorities", &priorities)),
            );
        }
    }
    let components: Vec<&str> = queue.components.keys().map(String::as_str).collect();
    for component in &filter.components {
        if !components.contains(&component.as_str()) {
            findings.push(
                Finding::at(at, format!("unknown component {component:?} in {place}"))
                    .hint(known_hint(component, "components", &components)),
            );
        }
    }
    for line in &filter.line {
        if !queue.lines.contains(line) {
            findings.push(Finding::at(
                at,
                format!(
                    "line {line} in {place} is not one of the queue's lines {:?}",
                    queue.lines
                ),
            ));
        }
    }
    let custom: Vec<&str> = queue.custom_fields.keys().map(String::as_str).collect();
    for field in filter.custom.keys() {
        if !custom.contains(&field.as_str()) {
            findings.push(
                Finding::at(at, format!("unknown custom field {field:?} in {place}"))
                    .hint(known_hint(field, "custom fields", &custom)),
            );
        }
    }
}

fn check_statuses(
    findings: &mut Vec<Finding>,
    queue: &Queue,
    at: &serde_saphyr::Location,
    place: &str,
    condition: &Condition,
) {
    let Condition::Status { status } = condition else {
        return;
    };
    let known: Vec<&str> = queue.statuses.iter().map(|s| s.name.as_str()).collect();
    for name in status {
        if !queue.has_status(name) {
            findings.push(
                Finding::at(at, format!("unknown status {name:?} in {place}"))
                    .hint(known_hint(name, "statuses", &known)),
            );
        }
    }
}
