//! Checks on a queue's triggers that types alone cannot express: each
//! condition and assignment has exactly one shape, and every field, status,
//! priority, line, agent, component and custom field named exists. Call it
//! from the config validation with the queue the triggers belong to.

use std::collections::BTreeSet;

use crate::config::error::{Finding, known_hint};
use crate::config::{Config, Queue, Spanned};
use crate::domain::QueueKey;
use serde_saphyr::Location;

use super::field::{FIELD_NAMES, Field};
use super::model::{Action, Assign, Condition, SetFields, Trigger, WebhookAction, WebhookFormat};

/// Every finding for the triggers of queue `key` (empty when valid). When
/// `config` has no such queue, only shapes and templates are checked.
pub fn validate(config: &Config, key: &QueueKey, triggers: &[Trigger]) -> Vec<Finding> {
    let agents: Vec<&str> = config.agents.keys().map(String::as_str).collect();
    let priorities: Vec<&str> = config
        .priorities
        .levels
        .iter()
        .map(String::as_str)
        .collect();
    let checker = Checker {
        key,
        queue: config.queues.get(key),
        agents,
        priorities,
        calendars: config.calendars.keys().map(String::as_str).collect(),
    };
    let mut findings = Vec::new();
    let mut names = BTreeSet::new();
    for trigger in triggers {
        checker.trigger(&mut findings, trigger, &mut names);
    }
    findings.sort_by_key(|f| (f.line, f.column));
    findings
}

/// What a condition is missing or has too much of; none when its shape is
/// right (sub-conditions are not looked at).
pub fn condition_shape_error(condition: &Condition) -> Option<&'static str> {
    let shapes = [
        condition.all.is_some(),
        condition.any.is_some(),
        condition.not.is_some(),
        condition.by.is_some(),
        condition.comment.is_some(),
        condition.business_hours.is_some(),
        condition.field.is_some(),
    ];
    let tests = [
        condition.equals.is_some(),
        condition.not_equals.is_some(),
        condition.one_of.is_some(),
        condition.contains.is_some(),
        condition.empty.is_some(),
        condition.became.is_some(),
        condition.changed_from.is_some() || condition.changed_to.is_some(),
    ];
    let shape_count = shapes.iter().filter(|b| **b).count();
    let test_count = tests.iter().filter(|b| **b).count();
    let has_changed = condition.changed.is_some();
    if condition.field.is_none() && (test_count > 0 || has_changed) {
        return Some("value tests (equals, became, changed, ...) need a `field`");
    }
    if shape_count != 1 {
        return Some(
            "a condition needs exactly one of all, any, not, by, comment, business_hours, or field",
        );
    }
    if condition.field.is_some() {
        if test_count > 1 {
            return Some(
                "a field condition takes one value test (equals, not_equals, in, contains, empty, became, or changed_from/changed_to), optionally with `changed`",
            );
        }
        if test_count == 0 && !has_changed {
            return Some(
                "a field condition needs a test: equals, not_equals, in, contains, empty, became, changed_from/changed_to, or changed",
            );
        }
    }
    if let Some(list) = condition.all.as_ref().or(condition.any.as_ref())
        && list.is_empty()
    {
        return Some("all/any needs at least one condition");
    }
    if let Some(by) = &condition.by
        && by.is_empty()
    {
        return Some("by needs at least one of agent, customer, system, trigger");
    }
    None
}

struct Checker<'a> {
    key: &'a QueueKey,
    queue: Option<&'a Queue>,
    agents: Vec<&'a str>,
    priorities: Vec<&'a str>,
    calendars: Vec<&'a str>,
}

impl Checker<'_> {
    fn trigger(
        &self,
        findings: &mut Vec<Finding>,
        trigger: &Trigger,
        names: &mut BTreeSet<String>,
    ) {
        let at = trigger.name.referenced;
        let name = trigger.name();
        let place = format!("trigger {name:?} of queue {}", self.key);
        if name.trim().is_empty() {
            findings.push(
                Finding::at(
                    &at,
                    format!("a trigger of queue {} has an empty name", self.key),
                )
                .hint(
                    "names show on the timeline and in plans; make them say what the trigger does",
                ),
            );
        } else if !names.insert(name.to_owned()) {
            findings.push(
                Finding::at(
                    &at,
                    format!("queue {} has two triggers named {name:?}", self.key),
                )
                .hint("trigger names must be unique within a queue"),
            );
        }
        if trigger.on.is_empty() {
            findings.push(Finding::at(&at, format!("{place}: `on` is empty, so it never fires")).hint(
                "list events: created, fields_changed, comment_added, email_received, email_sent, sla_warning, sla_breach",
            ));
        }
        if trigger.actions.is_empty() {
            findings.push(
                Finding::at(&at, format!("{place}: `do` is empty"))
                    .hint("add actions such as `- set: {status: Open}`"),
            );
        }
        if let Some(when) = &trigger.when {
            self.condition(findings, &place, at, when);
        }
        for action in &trigger.actions {
            self.action(findings, &place, at, action);
        }
    }

    fn condition(&self, findings: &mut Vec<Finding>, place: &str, at: Location, c: &Condition) {
        let here = c.field.as_ref().map_or(at, |f| f.referenced);
        if let Some(message) = condition_shape_error(c) {
            findings.push(Finding::at(&here, format!("{place}: {message}")).hint(
                "for example `{field: line, became: 1}`, `{field: status, changed: true}` or `{all: [...]}`",
            ));
        }
        if let Some(field) = &c.field {
            self.field_name(findings, place, field);
            if let Some(parsed) = Field::parse(&field.value) {
                let values = c
                    .equals
                    .iter()
                    .chain(&c.not_equals)
                    .chain(c.one_of.iter().flatten())
                    .chain(&c.became)
                    .chain(&c.changed_from)
                    .chain(&c.changed_to);
                for value in values {
                    self.value_of(findings, place, here, parsed, value.as_str());
                }
            }
        }
        if let Some(test) = &c.business_hours {
            let name = test.calendar.value.trim();
            if name.is_empty() {
                findings.push(
                    Finding::at(
                        &test.calendar.referenced,
                        format!("{place}: business_hours needs a calendar name"),
                    )
                    .hint("name one of the configured calendars, such as `office`"),
                );
            } else if !self.calendars.contains(&name) {
                findings.push(
                    Finding::at(
                        &test.calendar.referenced,
                        format!("{place}: calendar {name:?} is not configured"),
                    )
                    .hint(known_hint(name, "calendars", &self.calendars)),
                );
            }
        }
        for sub in c.all.iter().chain(c.any.iter()).flatten() {
            self.condition(findings, place, at, sub);
        }
        if let Some(sub) = &c.not {
            self.condition(findings, place, at, sub);
        }
    }

    fn custom_ids(&self) -> Vec<&str> {
        self.queue
            .map(|q| q.custom_fields.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn field_name(&self, findings: &mut Vec<Finding>, place: &str, field: &Spanned<String>) {
        match Field::parse(&field.value) {
            None => {
                let mut known: Vec<&str> = FIELD_NAMES.to_vec();
                let custom: Vec<String> = self
                    .custom_ids()
                    .iter()
                    .map(|id| format!("custom.{id}"))
                    .collect();
                known.extend(custom.iter().map(String::as_str));
                findings.push(
                    Finding::at(
                        &field.referenced,
                        format!("{place}: unknown field {:?}", field.value),
                    )
                    .hint(known_hint(&field.value, "fields", &known)),
                );
            }
            Some(Field::Custom(id)) if self.queue.is_some() => {
                let custom = self.custom_ids();
                if !custom.contains(&id) {
                    findings.push(
                        Finding::at(
                            &field.referenced,
                            format!("{place}: unknown custom field {id:?}"),
                        )
                        .hint(known_hint(
                            id,
                            &format!("custom fields of queue {}", self.key),
                            &custom,
                        )),
                    );
                }
            }
            Some(_) => {}
        }
    }

    /// A condition value for `status`, `priority` or `line` must be one of
    /// the configured ones (a typo would make the trigger silently dead).
    fn value_of(
        &self,
        findings: &mut Vec<Finding>,
        place: &str,
        at: Location,
        field: Field<'_>,
        value: &str,
    ) {
        let Some(queue) = self.queue else { return };
        let (what, known): (&str, Vec<String>) = match field {
            Field::Status => (
                "status",
                queue.statuses.iter().map(|s| s.name.clone()).collect(),
            ),
            Field::Priority => (
                "priority",
                self.priorities.iter().map(|p| (*p).to_owned()).collect(),
            ),
            Field::Line if !queue.lines.is_empty() => {
                ("line", queue.lines.iter().map(u8::to_string).collect())
            }
            _ => return,
        };
        if !known.iter().any(|k| super::field::same_text(k, value)) {
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            findings.push(
                Finding::at(
                    &at,
                    format!("{place}: {value:?} is not a {what} of queue {}", self.key),
                )
                .hint(known_hint(value, what, &known)),
            );
        }
    }

    fn known(
        &self,
        findings: &mut Vec<Finding>,
        place: &str,
        value: &Spanned<String>,
        what: &str,
        plural: &str,
        known: &[&str],
    ) {
        if !known.contains(&value.value.as_str()) {
            findings.push(
                Finding::at(
                    &value.referenced,
                    format!("{place}: unknown {what} {:?}", value.value),
                )
                .hint(known_hint(&value.value, plural, known)),
            );
        }
    }

    fn action(&self, findings: &mut Vec<Finding>, place: &str, at: Location, action: &Action) {
        match action {
            Action::Set(set) => self.set(findings, place, at, set),
            Action::Assign(Assign::ComponentOwner) => {
                if let Some(queue) = self.queue
                    && !queue.components.values().any(|c| c.assignee.is_some())
                {
                    findings.push(
                        Finding::at(&at, format!("{place}: assign component_owner, but no component of queue {} has an assignee", self.key))
                            .hint("give components a default `assignee`"),
                    );
                }
            }
            Action::Assign(Assign::Group(group)) => {
                let members = match (&group.round_robin, &group.least_loaded) {
                    (Some(m), None) | (None, Some(m)) => m,
                    _ => {
                        findings.push(
                            Finding::at(&at, format!("{place}: assign needs exactly one of round_robin and least_loaded"))
                                .hint("for example `assign: {least_loaded: [anna, boris], cap: 5}`"),
                        );
                        return;
                    }
                };
                if members.is_empty() {
                    findings.push(
                        Finding::at(&at, format!("{place}: the assignment group is empty"))
                            .hint("list agent logins"),
                    );
                }
                if group.cap == Some(0) {
                    findings.push(
                        Finding::at(&at, format!("{place}: cap 0 never assigns anyone"))
                            .hint("use a positive cap or leave it out"),
                    );
                }
                for member in members {
                    self.known(findings, place, member, "agent", "agents", &self.agents);
                }
            }
            Action::Comment(comment) => template(findings, place, at, "comment", &comment.template),
            Action::Email(email) => {
                template(findings, place, at, "email", &email.template);
                if let Some(subject) = &email.subject {
                    template(findings, place, at, "email subject", subject);
                }
            }
            Action::Webhook(webhook) => self.webhook(findings, place, at, webhook),
            Action::Event(event) => {
                if event.detail_type.trim().is_empty() {
                    findings.push(
                        Finding::at(&at, format!("{place}: event needs a detail_type"))
                            .hint("for example `event: {detail_type: TicketEscalated}`"),
                    );
                }
            }
        }
    }

    /// Checks a `set` action: it sets something, and every value it sets or
    /// field it clears exists (queue-specific ones only when the queue is
    /// known).
    fn set(&self, findings: &mut Vec<Finding>, place: &str, at: Location, set: &SetFields) {
        sets_something(findings, place, at, set);
        self.set_priority_and_assignee(findings, place, set);
        self.cleared(findings, place, &set.clear);
        let Some(queue) = self.queue else { return };
        self.set_queue_values(findings, place, queue, set);
        self.set_custom(findings, place, at, set);
    }

    /// The priority and the assignee set, if any, are configured ones.
    fn set_priority_and_assignee(&self, findings: &mut Vec<Finding>, place: &str, set: &SetFields) {
        if let Some(priority) = &set.priority {
            self.known(
                findings,
                place,
                priority,
                "priority",
                "priorities",
                &self.priorities,
            );
        }
        if let Some(assignee) = &set.assignee {
            self.known(findings, place, assignee, "agent", "agents", &self.agents);
        }
    }

    /// Every field in `clear` is one that can be cleared, and exists.
    fn cleared(&self, findings: &mut Vec<Finding>, place: &str, clear: &[Spanned<String>]) {
        for name in clear {
            let clearable = matches!(
                Field::parse(&name.value),
                Some(
                    Field::Assignee
                        | Field::Line
                        | Field::Resolution
                        | Field::Components
                        | Field::Tags
                        | Field::Custom(_)
                )
            );
            if !clearable {
                findings.push(
                    Finding::at(
                        &name.referenced,
                        format!("{place}: field {:?} cannot be cleared", name.value),
                    )
                    .hint("clear one of assignee, line, resolution, components, tags, custom.ID"),
                );
            } else {
                self.field_name(findings, place, name);
            }
        }
    }

    /// The status, line and components set, if any, are ones of `queue`.
    fn set_queue_values(
        &self,
        findings: &mut Vec<Finding>,
        place: &str,
        queue: &Queue,
        set: &SetFields,
    ) {
        let key = self.key;
        if let Some(status) = &set.status {
            let statuses: Vec<&str> = queue.statuses.iter().map(|s| s.name.as_str()).collect();
            self.known(
                findings,
                place,
                status,
                "status",
                &format!("statuses of queue {key}"),
                &statuses,
            );
        }
        if let Some(line) = &set.line
            && !queue.lines.contains(&line.value)
        {
            let lines: Vec<String> = queue.lines.iter().map(u8::to_string).collect();
            findings.push(
                Finding::at(
                    &line.referenced,
                    format!("{place}: line {} is not a line of queue {key}", line.value),
                )
                .hint(format!("defined lines: {}", lines.join(", "))),
            );
        }
        if let Some(edit) = &set.components {
            let components: Vec<&str> = queue.components.keys().map(String::as_str).collect();
            for component in edit.add.iter().chain(&edit.remove) {
                self.known(
                    findings,
                    place,
                    component,
                    "component",
                    &format!("components of queue {key}"),
                    &components,
                );
            }
        }
    }

    /// Every custom field set is a custom field of the queue.
    fn set_custom(&self, findings: &mut Vec<Finding>, place: &str, at: Location, set: &SetFields) {
        let key = self.key;
        let custom = self.custom_ids();
        for id in set.custom.keys() {
            if !custom.contains(&id.as_str()) {
                findings.push(
                    Finding::at(&at, format!("{place}: unknown custom field {id:?}")).hint(
                        known_hint(id, &format!("custom fields of queue {key}"), &custom),
                    ),
                );
            }
        }
    }

    /// Checks a webhook action: where it posts, what it says, and its
    /// Telegram settings.
    fn webhook(&self, findings: &mut Vec<Finding>, place: &str, at: Location, w: &WebhookAction) {
        webhook_url(findings, place, at, w);
        webhook_text(findings, place, at, w);
        webhook_telegram(findings, place, at, w);
    }
}

/// A `set` action sets at least one field.
fn sets_something(findings: &mut Vec<Finding>, place: &str, at: Location, set: &SetFields) {
    let empty = set.status.is_none()
        && set.line.is_none()
        && set.priority.is_none()
        && set.assignee.is_none()
        && set.components.is_none()
        && set.tags.is_none()
        && set.custom.is_empty()
        && set.clear.is_empty();
    if empty {
        findings.push(
            Finding::at(&at, format!("{place}: `set` sets nothing"))
                .hint("keys: status, line, priority, assignee, components, tags, custom, clear"),
        );
    }
}

/// A webhook has exactly one of `url` (an http(s) URL) and `url_env` (an
/// environment variable name).
fn webhook_url(findings: &mut Vec<Finding>, place: &str, at: Location, w: &WebhookAction) {
    match (&w.url, &w.url_env) {
        (Some(url), None) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                findings.push(
                    Finding::at(&at, format!("{place}: webhook url {url:?} is not an http(s) URL"))
                        .hint("URLs with secrets (a bot token) belong in an environment variable: use url_env"),
                );
            }
        }
        (None, Some(name)) => env_name(findings, place, at, "url_env", name),
        _ => findings.push(
            Finding::at(
                &at,
                format!("{place}: a webhook needs exactly one of url and url_env"),
            )
            .hint("for example `url_env: TELEGRAM_WEBHOOK_URL`"),
        ),
    }
}

/// A webhook has at most one of `text` and `template`, has one unless it
/// posts JSON, and its text parses as a template.
fn webhook_text(findings: &mut Vec<Finding>, place: &str, at: Location, w: &WebhookAction) {
    if w.text.is_some() && w.template.is_some() {
        findings.push(
            Finding::at(
                &at,
                format!("{place}: a webhook takes text or template, not both"),
            )
            .hint("`text` is the message itself; `template` names a template"),
        );
    }
    if w.format != WebhookFormat::Json && w.text.is_none() && w.template.is_none() {
        findings.push(
            Finding::at(
                &at,
                format!("{place}: a Slack or Telegram webhook needs text"),
            )
            .hint("for example `text: \"{{ ticket.key }}: {{ ticket.status }}\"`"),
        );
    }
    for text in w.text.iter().chain(&w.template) {
        template(findings, place, at, "webhook text", text);
    }
}

/// A Telegram webhook has exactly one of `chat_id` and `chat_id_env` and a
/// parse mode Telegram knows; other webhooks have none of these.
fn webhook_telegram(findings: &mut Vec<Finding>, place: &str, at: Location, w: &WebhookAction) {
    if w.format == WebhookFormat::Telegram {
        match (&w.chat_id, &w.chat_id_env) {
            (Some(_), None) => {}
            (None, Some(name)) => env_name(findings, place, at, "chat_id_env", name),
            _ => findings.push(
                Finding::at(
                    &at,
                    format!(
                        "{place}: a Telegram webhook needs exactly one of chat_id and chat_id_env"
                    ),
                )
                .hint("for example `chat_id_env: TELEGRAM_CHAT_ID`"),
            ),
        }
        if let Some(mode) = &w.parse_mode
            && !["HTML", "MarkdownV2", "Markdown"].contains(&mode.as_str())
        {
            findings.push(
                Finding::at(
                    &at,
                    format!("{place}: parse_mode {mode:?} is not one Telegram knows"),
                )
                .hint("use HTML, MarkdownV2 or Markdown, or leave it out for plain text"),
            );
        }
    } else if w.chat_id.is_some() || w.chat_id_env.is_some() || w.parse_mode.is_some() {
        findings.push(
            Finding::at(
                &at,
                format!("{place}: chat_id, chat_id_env and parse_mode are for format telegram"),
            )
            .hint("set `format: telegram` or remove them"),
        );
    }
}

fn env_name(findings: &mut Vec<Finding>, place: &str, at: Location, key: &str, name: &str) {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        findings.push(
            Finding::at(
                &at,
                format!("{place}: {key} {name:?} is not an environment variable name"),
            )
            .hint("use letters, digits and _, such as TELEGRAM_WEBHOOK_URL"),
        );
    }
}

fn template(findings: &mut Vec<Finding>, place: &str, at: Location, what: &str, text: &str) {
    let mut env = minijinja::Environment::new();
    if let Err(e) = env.add_template("t", text) {
        findings.push(
            Finding::at(&at, format!("{place}: {what} template does not parse: {e}"))
                .hint("templates use minijinja syntax, such as {{ ticket.key }}"),
        );
    }
}
