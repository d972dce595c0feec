//! Cross-reference checks that types alone cannot express: every status,
//! component, agent, priority, line, queue and form field that is named
//! somewhere must exist.

use std::collections::BTreeSet;

use super::error::{Finding, known_hint};
use super::model::{Condition, Config, FieldType, Form, Queue, QueueMail, RoutingRule, Spanned};
use crate::domain::QueueKey;

/// Every finding, in no particular order of severity; empty when valid.
pub fn validate(config: &Config) -> Vec<Finding> {
    let mut findings = Vec::new();
    let agents: Vec<&str> = config.agents.keys().map(String::as_str).collect();
    let priorities: Vec<&str> = config
        .priorities
        .levels
        .iter()
        .map(String::as_str)
        .collect();

    if priorities.is_empty() {
        findings.push(
            Finding::at(
                &config.priorities.default.referenced,
                "priorities.levels is empty",
            )
            .hint("list the levels most urgent first, such as [critical, high, normal, low]"),
        );
    }
    check_name(
        &mut findings,
        &config.priorities.default,
        "priority",
        "as the default",
        "priorities",
        &priorities,
    );

    if let Some(zone) = &config.desk.zone
        && crate::calendar::TimeZone::parse(&zone.value).is_err()
    {
        findings.push(
            Finding::at(
                &zone.referenced,
                format!("desk.zone {:?} is not an IANA time zone", zone.value),
            )
            .hint("name one such as Europe/Berlin or America/New_York"),
        );
    }
    let calendars: Vec<&str> = config.calendars.keys().map(String::as_str).collect();
    for (key, queue) in &config.queues {
        check_queue(&mut findings, key, queue, &agents);
        if let Some(calendar) = &queue.calendar {
            let place = format!("as the calendar of queue {key}");
            check_name(
                &mut findings,
                calendar,
                "calendar",
                &place,
                "calendars",
                &calendars,
            );
        }
        if let Some(csat) = &queue.csat {
            check_csat(&mut findings, config, key, queue, csat);
        }
        findings.extend(crate::triggers::validate(config, key, &queue.triggers));
        findings.extend(crate::sla::validate::validate(config, key, queue));
    }
    for (id, form) in &config.forms {
        check_form(&mut findings, config, id, form, &agents, &priorities);
    }
    findings.sort_by_key(|f| (f.line, f.column));
    findings
}

/// A queue's survey: statuses it has, a public URL to link to.
fn check_csat(
    findings: &mut Vec<Finding>,
    config: &Config,
    key: &QueueKey,
    queue: &Queue,
    csat: &crate::config::Csat,
) {
    let statuses: Vec<&str> = queue.statuses.iter().map(|s| s.name.as_str()).collect();
    let place = format!("in csat.on of queue {key}");
    for status in &csat.on {
        let plural = format!("statuses of queue {key}");
        check_name(findings, status, "status", &place, &plural, &statuses);
    }
    match &config.desk.public_url {
        None => {
            if let Some(first) = csat.on.first() {
                findings.push(
                    Finding::at(
                        &first.referenced,
                        format!("queue {key} asks for ratings but desk.public_url is not set"),
                    )
                    .hint("set desk.public_url to where customers reach the desk, such as https://help.example.com (the rating links point there)"),
                );
            }
        }
        Some(url) if public_url(&url.value).is_none() => findings.push(
            Finding::at(
                &url.referenced,
                format!(
                    "desk.public_url {:?} is not an http or https URL",
                    url.value
                ),
            )
            .hint("write it like https://help.example.com, without a path or query"),
        ),
        Some(_) => {}
    }
}

/// `text` as the desk's public base URL (`http(s)://host[:port][/path]`,
/// no user, query or fragment), without a trailing slash.
pub fn public_url(text: &str) -> Option<&str> {
    let url = reqwest::Url::parse(text).ok()?;
    let fine = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    fine.then(|| text.trim_end_matches('/'))
}

/// Reports `value` unless it is one of `known`. `what` names the kind
/// ("status"), `place` where it was used ("in queue SUP"), `plural` the
/// list in the hint ("statuses of queue SUP").
fn check_name(
    findings: &mut Vec<Finding>,
    value: &Spanned<String>,
    what: &str,
    place: &str,
    plural: &str,
    known: &[&str],
) {
    if !known.contains(&value.value.as_str()) {
        let place = if place.is_empty() {
            String::new()
        } else {
            format!(" {place}")
        };
        findings.push(
            Finding::at(
                &value.referenced,
                format!("unknown {what} {:?}{place}", value.value),
            )
            .hint(known_hint(&value.value, plural, known)),
        );
    }
}

fn check_queue(findings: &mut Vec<Finding>, key: &QueueKey, queue: &Queue, agents: &[&str]) {
    let statuses: Vec<&str> = queue.statuses.iter().map(|s| s.name.as_str()).collect();
    let unique: BTreeSet<&str> = statuses.iter().copied().collect();
    if unique.len() != statuses.len() {
        findings.push(
            Finding::at(
                &queue.initial_status.referenced,
                format!("queue {key} lists a status twice"),
            )
            .hint("each status name must be unique within its queue"),
        );
    }
    check_name(
        findings,
        &queue.initial_status,
        "status",
        &format!("as initial status of queue {key}"),
        &format!("statuses of queue {key}"),
        &statuses,
    );
    check_queue_mail(findings, key, queue, &statuses);
    check_custom_fields(findings, key, queue);
    for member in &queue.team {
        check_name(
            findings,
            member,
            "agent",
            &format!("in the team of queue {key}"),
            "agents",
            agents,
        );
    }
    for (name, component) in &queue.components {
        if let Some(assignee) = &component.assignee {
            check_name(
                findings,
                assignee,
                "agent",
                &format!("as default assignee of component {name}"),
                "agents",
                agents,
            );
        }
    }
}

/// Checks form `id`: its queue, its fields, its mapping, its honeypot,
/// redirect and signature settings, and its routing rules.
fn check_form(
    findings: &mut Vec<Finding>,
    config: &Config,
    id: &str,
    form: &Form,
    agents: &[&str],
    priorities: &[&str],
) {
    let queues: Vec<&str> = config.queues.keys().map(QueueKey::as_str).collect();
    check_name(
        findings,
        &form.queue,
        "queue",
        &format!("in form {id}"),
        "queues",
        &queues,
    );
    let queue = QueueKey::parse(&form.queue.value)
        .ok()
        .and_then(|k| config.queues.get(&k));
    let fields: Vec<&str> = form.fields.keys().map(String::as_str).collect();

    check_choice_fields(findings, id, form);
    check_mapping_sources(findings, id, form, &fields);
    if let Some(queue) = queue {
        check_mapping_custom_fields(findings, id, form, queue);
    }
    check_honeypot(findings, id, form);
    check_redirect_url(findings, id, form);
    check_signature_settings(findings, id, form);
    check_rate_limits(findings, id, form);
    check_upload_limits(findings, id, form);
    check_routing(findings, id, form, queue, &fields, agents, priorities);
}

/// A `select` custom field offers at least one option, each once; other
/// types take none.
fn check_custom_fields(findings: &mut Vec<Finding>, key: &QueueKey, queue: &Queue) {
    use super::model::CustomFieldType;
    for (id, field) in &queue.custom_fields {
        let at = &field.label.referenced;
        let unique: BTreeSet<&str> = field.options.iter().map(String::as_str).collect();
        if field.field_type == CustomFieldType::Select && field.options.is_empty() {
            findings.push(
                Finding::at(at, format!("queue {key}: select field {id} has no options"))
                    .hint("add `options: [...]`, the values agents may choose"),
            );
        } else if field.field_type != CustomFieldType::Select && !field.options.is_empty() {
            findings.push(
                Finding::at(
                    at,
                    format!(
                        "queue {key}: field {id} is of type {} and takes no options",
                        field.field_type.as_str()
                    ),
                )
                .hint("set `type: select` to offer these values, or remove `options`"),
            );
        } else if unique.len() != field.options.len() {
            findings.push(
                Finding::at(
                    at,
                    format!("queue {key}: select field {id} lists an option twice"),
                )
                .hint("each option once"),
            );
        }
    }
}

/// Every choice field of form `id` offers at least one option.
fn check_choice_fields(findings: &mut Vec<Finding>, id: &str, form: &Form) {
    for (field_id, field) in &form.fields {
        if field.field_type == FieldType::Choice && field.options.is_empty() {
            findings.push(
                Finding::at(
                    &form.map.summary.referenced,
                    format!("form {id}: choice field {field_id} has no options"),
                )
                .hint("add `options: [...]` or use type text"),
            );
        }
    }
}

/// Every source in the mapping of form `id` (summary, description,
/// requester, components, priority, custom fields) names one of its
/// `fields` or is a template that parses.
fn check_mapping_sources(findings: &mut Vec<Finding>, id: &str, form: &Form, fields: &[&str]) {
    let map = &form.map;
    for source in [
        Some(&map.summary),
        map.description.as_ref(),
        map.requester_email.as_ref(),
        map.requester_name.as_ref(),
        map.components.as_ref(),
        map.priority.as_ref(),
    ]
    .into_iter()
    .flatten()
    .chain(map.custom_fields.values())
    {
        check_source(findings, id, source, fields);
    }
}

/// Every custom field the mapping of form `id` fills is a custom field of
/// the form's `queue`.
fn check_mapping_custom_fields(findings: &mut Vec<Finding>, id: &str, form: &Form, queue: &Queue) {
    let map = &form.map;
    let custom: Vec<&str> = queue.custom_fields.keys().map(String::as_str).collect();
    for name in map.custom_fields.keys() {
        if !custom.contains(&name.as_str()) {
            let location = &map.custom_fields[name].referenced;
            findings.push(
                Finding::at(
                    location,
                    format!("form {id} maps to unknown custom field {name:?}"),
                )
                .hint(known_hint(
                    name,
                    &format!("custom fields of queue {}", form.queue.value),
                    &custom,
                )),
            );
        }
    }
}

/// The honeypot of form `id`, if any, is not one of its real fields.
fn check_honeypot(findings: &mut Vec<Finding>, id: &str, form: &Form) {
    if let Some(honeypot) = &form.honeypot
        && form.fields.contains_key(honeypot)
    {
        findings.push(
            Finding::at(
                &form.queue.referenced,
                format!("form {id}: honeypot {honeypot:?} is also a real field"),
            )
            .hint("the honeypot must be a field no human fills in, not one of `fields`"),
        );
    }
}

/// The rate limits of form `id`, if any, let at least one post through
/// per window of at least a second.
fn check_rate_limits(findings: &mut Vec<Finding>, id: &str, form: &Form) {
    let limits = [
        ("per_client", form.rate_limit.per_client),
        ("per_email", form.rate_limit.per_email),
    ];
    for (name, limit) in limits {
        let Some(limit) = limit else { continue };
        if limit.count == 0 || limit.window.0.as_secs() == 0 {
            findings.push(
                Finding::at(
                    &form.queue.referenced,
                    format!("form {id}: rate_limit.{name} takes no post at all"),
                )
                .hint("give a count of at least 1 per a window of at least 1s, or leave the limit out"),
            );
        }
    }
}

/// The files a form takes fit the deployed path: Lambda takes at most 6 MB
/// in a synchronous request, and API Gateway hands it a multipart body in
/// base64 (4 bytes for 3), so the local server, which could take more,
/// takes no more than the Lambda function either.
fn check_upload_limits(findings: &mut Vec<Finding>, id: &str, form: &Form) {
    let limits = &form.attachments;
    let max = crate::config::model::MAX_FORM_UPLOAD_BYTES;
    for (name, value) in [
        ("max_total_bytes", limits.max_total_bytes),
        ("max_file_bytes", limits.max_file_bytes),
    ] {
        if value > max {
            findings.push(
                Finding::at(
                    &form.queue.referenced,
                    format!(
                        "form {id}: attachments.{name} is {value}, more than a deployed form can take ({max})"
                    ),
                )
                .hint(
                    "Lambda takes 6 MB per request and the files arrive in base64: give at most 4194304 \
                     (4 MiB); larger files belong in a link or a reply by mail",
                ),
            );
        }
    }
}

/// The redirect URL of form `id`, if any, is an http(s) URL or a path.
fn check_redirect_url(findings: &mut Vec<Finding>, id: &str, form: &Form) {
    if let Some(url) = &form.redirect_url
        && !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
    {
        findings.push(
            Finding::at(
                &form.queue.referenced,
                format!("form {id}: redirect_url {url:?} is not a URL"),
            )
            .hint("use an absolute http(s) URL or a path starting with /"),
        );
    }
}

/// The signature settings of form `id`, if any, name a valid environment
/// variable for the secret.
fn check_signature_settings(findings: &mut Vec<Finding>, id: &str, form: &Form) {
    let Some(signature) = &form.signature else {
        return;
    };
    let valid = !signature.secret_env.is_empty()
        && signature
            .secret_env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        findings.push(
            Finding::at(
                &form.queue.referenced,
                format!(
                    "form {id}: secret_env {:?} is not an environment variable name",
                    signature.secret_env
                ),
            )
            .hint("use letters, digits and _, such as HELPDESK_SECRET_TYPEFORM"),
        );
    }
}

/// Every routing rule of form `id`: its condition names `fields` and has
/// one shape, and what it sets exists (in `queue`, when that is known).
fn check_routing(
    findings: &mut Vec<Finding>,
    id: &str,
    form: &Form,
    queue: Option<&Queue>,
    fields: &[&str],
    agents: &[&str],
    priorities: &[&str],
) {
    for rule in &form.routing {
        check_condition(findings, id, &rule.when, fields);
        check_rule(
            findings,
            id,
            rule,
            queue,
            &form.queue.value,
            agents,
            priorities,
        );
    }
}

fn check_source(
    findings: &mut Vec<Finding>,
    form: &str,
    source: &Spanned<String>,
    fields: &[&str],
) {
    if source.value.contains("{{") {
        let mut env = minijinja::Environment::new();
        if let Err(e) = env.add_template("mapping", &source.value) {
            findings.push(
                Finding::at(
                    &source.referenced,
                    format!("form {form}: template does not parse: {e}"),
                )
                .hint("templates use minijinja syntax, such as \"{{ subject }}\""),
            );
        }
    } else {
        check_name(
            findings,
            source,
            "field",
            &format!("in the mapping of form {form}"),
            &format!("fields of form {form}"),
            fields,
        );
    }
}

fn check_condition(
    findings: &mut Vec<Finding>,
    form: &str,
    condition: &Condition,
    fields: &[&str],
) {
    let shapes = [
        condition.all.is_some(),
        condition.any.is_some(),
        condition.not.is_some(),
        condition.field.is_some(),
    ];
    let tests = [
        condition.equals.is_some(),
        condition.not_equals.is_some(),
        condition.one_of.is_some(),
        condition.contains.is_some(),
        condition.empty.is_some(),
    ];
    let shape_count = shapes.iter().filter(|b| **b).count();
    let test_count = tests.iter().filter(|b| **b).count();
    let location = condition
        .field
        .as_ref()
        .map(|f| f.referenced)
        .unwrap_or(serde_saphyr::Location::UNKNOWN);
    if shape_count != 1
        || (condition.field.is_some() != (test_count == 1))
        || (condition.field.is_none() && test_count > 0)
    {
        findings.push(
            Finding::at(&location, format!("form {form}: a condition needs exactly one of all/any/not, or a field with exactly one test"))
                .hint("for example `{field: topic, equals: billing}` or `{any: [...]}`; tests: equals, not_equals, in, contains, empty"),
        );
    }
    if let Some(field) = &condition.field {
        check_name(
            findings,
            field,
            "field",
            &format!("in a routing condition of form {form}"),
            &format!("fields of form {form}"),
            fields,
        );
    }
    for sub in condition.all.iter().chain(condition.any.iter()).flatten() {
        check_condition(findings, form, sub, fields);
    }
    if let Some(sub) = &condition.not {
        check_condition(findings, form, sub, fields);
    }
}

fn check_rule(
    findings: &mut Vec<Finding>,
    form: &str,
    rule: &RoutingRule,
    queue: Option<&Queue>,
    queue_key: &str,
    agents: &[&str],
    priorities: &[&str],
) {
    let set = &rule.set;
    if let Some(assignee) = &set.assignee {
        check_name(
            findings,
            assignee,
            "agent",
            &format!("in rule {:?} of form {form}", rule.name),
            "agents",
            agents,
        );
    }
    if let Some(priority) = &set.priority {
        check_name(
            findings,
            priority,
            "priority",
            &format!("in rule {:?} of form {form}", rule.name),
            "priorities",
            priorities,
        );
    }
    let Some(queue) = queue else { return };
    let components: Vec<&str> = queue.components.keys().map(String::as_str).collect();
    for component in &set.components {
        check_name(
            findings,
            component,
            "component",
            &format!("in rule {:?} of form {form}", rule.name),
            &format!("components of queue {queue_key}"),
            &components,
        );
    }
    if let Some(line) = &set.line
        && !queue.lines.contains(&line.value)
    {
        let lines: Vec<String> = queue.lines.iter().map(u8::to_string).collect();
        findings.push(
            Finding::at(
                &line.referenced,
                format!(
                    "form {form}, rule {:?}: line {} is not a line of queue {queue_key}",
                    rule.name, line.value
                ),
            )
            .hint(format!("defined lines: {}", lines.join(", "))),
        );
    }
}

fn check_template(
    findings: &mut Vec<Finding>,
    place: &str,
    at: &serde_saphyr::Location,
    text: &str,
) {
    let mut env = minijinja::Environment::new();
    if let Err(e) = env.add_template("t", text) {
        findings.push(
            Finding::at(at, format!("{place}: template does not parse: {e}"))
                .hint("templates use minijinja syntax, such as {{ ticket.key }}"),
        );
    }
}

/// Checks the mail settings of queue `key`: where replies to closed
/// tickets go, its templates and its allowed senders. Findings point at
/// the reopen status, or at the initial status when there is none.
fn check_queue_mail(findings: &mut Vec<Finding>, key: &QueueKey, queue: &Queue, statuses: &[&str]) {
    let at = queue
        .mail
        .reopen_status
        .as_ref()
        .map_or(queue.initial_status.referenced, |s| s.referenced);
    check_reopen(findings, key, queue, statuses, &at);
    check_closed_reply_days(findings, key, &queue.mail, &at);
    check_mail_templates(findings, key, &queue.mail, &at);
    check_allowed_senders(findings, key, &queue.mail, &at);
}

/// Replies to closed tickets of queue `key` can reopen them: the reopen
/// status exists, or without one the queue has a status of category open
/// (unless such replies always open a new ticket).
fn check_reopen(
    findings: &mut Vec<Finding>,
    key: &QueueKey,
    queue: &Queue,
    statuses: &[&str],
    at: &serde_saphyr::Location,
) {
    let mail = &queue.mail;
    if let Some(status) = &mail.reopen_status {
        check_name(
            findings,
            status,
            "status",
            &format!("as reopen status of queue {key}"),
            &format!("statuses of queue {key}"),
            statuses,
        );
    } else if mail.closed_reply != super::model::ClosedPolicy::NewLinked
        && !queue
            .statuses
            .iter()
            .any(|s| s.category == super::model::StatusCategory::Open)
    {
        findings.push(
            Finding::at(
                at,
                format!("queue {key} has no status of category open to reopen tickets into"),
            )
            .hint("add one, or set mail.reopen_status"),
        );
    }
}

/// `closed_reply: new_after_days` comes with `closed_reply_days`.
fn check_closed_reply_days(
    findings: &mut Vec<Finding>,
    key: &QueueKey,
    mail: &QueueMail,
    at: &serde_saphyr::Location,
) {
    if mail.closed_reply == super::model::ClosedPolicy::NewAfterDays
        && mail.closed_reply_days.is_none()
    {
        findings.push(
            Finding::at(
                at,
                format!("queue {key}: closed_reply new_after_days needs closed_reply_days"),
            )
            .hint("for example closed_reply_days: 14"),
        );
    }
}

/// An acknowledgement template is set when acknowledging is on, and the
/// subject and body of the acknowledgement and rejection templates parse.
fn check_mail_templates(
    findings: &mut Vec<Finding>,
    key: &QueueKey,
    mail: &QueueMail,
    at: &serde_saphyr::Location,
) {
    if mail.acknowledge && mail.acknowledgement.is_none() {
        findings.push(
            Finding::at(
                at,
                format!("queue {key}: acknowledge is on but no acknowledgement template is set"),
            )
            .hint("add mail.acknowledgement with subject and body"),
        );
    }
    for (name, template) in [
        ("acknowledgement", &mail.acknowledgement),
        ("rejection", &mail.rejection),
    ] {
        if let Some(template) = template {
            check_template(
                findings,
                &format!("queue {key} {name} subject"),
                at,
                &template.subject,
            );
            check_template(
                findings,
                &format!("queue {key} {name} body"),
                at,
                &template.body,
            );
        }
    }
}

/// Every allowed sender pattern of queue `key` is `*`, `*@domain` or an
/// address.
fn check_allowed_senders(
    findings: &mut Vec<Finding>,
    key: &QueueKey,
    mail: &QueueMail,
    at: &serde_saphyr::Location,
) {
    for pattern in &mail.allowed_senders {
        let valid = pattern == "*"
            || pattern.strip_prefix("*@").map_or_else(
                || crate::domain::EmailAddress::parse(pattern).is_ok(),
                |domain| !domain.is_empty() && !domain.contains('@'),
            );
        if !valid {
            findings.push(
                Finding::at(
                    at,
                    format!("queue {key}: sender pattern {pattern:?} is not valid"),
                )
                .hint("use an address, *@domain, or *"),
            );
        }
    }
}
