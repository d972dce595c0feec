//! A trigger [`Plan`] as text for people: the change, every trigger of the
//! queue in order with whether it fired, the field changes, the assignment,
//! each side effect with its rendered body, the depth stop and the
//! problems. Webhook URLs kept in environment variables are shown by the
//! variable's name, never by value.

use std::fmt::Write;

use helpdesk::config::Config;
use helpdesk::triggers::{
    AssignStrategy, Change, Effect, Environment, EventKind, Plan, Trigger, WebhookTarget,
};

/// Appends one line to a `String` (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// The report of one evaluation: `heading` names where the change came from.
pub fn render(
    config: &Config,
    heading: &str,
    change: &Change,
    plan: &Plan,
    env: &dyn Environment,
) -> String {
    let mut out = String::new();
    header(&mut out, heading, change, plan);
    let Some(queue) = config.queues.get(&change.after.queue) else {
        say!(
            out,
            "queue {} is not configured: it has no triggers",
            change.after.queue
        );
        return out;
    };
    triggers(
        &mut out,
        &change.after.queue.to_string(),
        &queue.triggers,
        plan,
    );
    calendar_checks(&mut out, plan);
    field_changes(&mut out, plan);
    assignment(&mut out, plan);
    effects(&mut out, plan, env);
    if let Some(stop) = &plan.stopped {
        say!(out, "STOPPED: {}", stop.message());
    }
    problems(&mut out, plan);
    out
}

/// What changed, at which version and depth, by whom, and the events it
/// raised.
fn header(out: &mut String, heading: &str, change: &Change, plan: &Plan) {
    let what = if change.before.is_some() {
        "a change of"
    } else {
        "new ticket"
    };
    say!(
        out,
        "== {heading}: {what} {} version {}, depth {}, by {}",
        plan.ticket,
        plan.version,
        plan.depth,
        actor(&change.actor)
    );
    say!(out, "events: {}", events(&plan.events));
}

/// Every business-hours answer the conditions used.
fn calendar_checks(out: &mut String, plan: &Plan) {
    for check in &plan.calendar_checks {
        let answer = match check.open {
            Some(true) => "open",
            Some(false) => "closed",
            None => "unknown calendar",
        };
        say!(
            out,
            "business hours: calendar {} at {}: {answer}",
            check.calendar,
            check.at.to_rfc3339()
        );
    }
}

/// The assignment a trigger asked for, if any: the engine chooses the
/// agent when it runs.
fn assignment(out: &mut String, plan: &Plan) {
    let Some(group) = &plan.assignment else {
        return;
    };
    let strategy = match group.strategy {
        AssignStrategy::RoundRobin => "round robin",
        AssignStrategy::LeastLoaded => "least loaded",
    };
    let cap = group
        .cap
        .map(|c| format!(", at most {c} tickets in work each"))
        .unwrap_or_default();
    say!(
        out,
        "assignment ({}): {strategy} among {}{cap}; the engine chooses from the store when it runs",
        group.trigger,
        group.members.join(", ")
    );
}

/// The problems found, or `none`.
fn problems(out: &mut String, plan: &Plan) {
    if plan.problems.is_empty() {
        say!(out, "problems: none");
    } else {
        say!(out, "problems:");
        for problem in &plan.problems {
            say!(out, "  - {}: {}", problem.trigger, problem.message);
        }
    }
}

fn actor(actor: &helpdesk::domain::Actor) -> String {
    use helpdesk::domain::Actor;
    match actor {
        Actor::Customer { email } => format!("customer {email}"),
        Actor::Agent { login, .. } => format!("agent {login}"),
        Actor::System => "system".into(),
        Actor::Trigger { name } => format!("trigger {name:?}"),
    }
}

fn events(events: &[EventKind]) -> String {
    if events.is_empty() {
        "none (nothing a trigger listens to changed)".into()
    } else {
        events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every trigger of the queue in order, with what became of it.
fn triggers(out: &mut String, queue: &str, triggers: &[Trigger], plan: &Plan) {
    if triggers.is_empty() {
        say!(out, "triggers of queue {queue}: none configured");
        return;
    }
    say!(out, "triggers of queue {queue}, in order:");
    let would_fire = plan
        .stopped
        .as_ref()
        .map(|s| s.would_fire.as_slice())
        .unwrap_or_default();
    for (i, trigger) in triggers.iter().enumerate() {
        let name = trigger.name();
        let verdict = if plan.fired.iter().any(|f| f == name) {
            "FIRED".to_owned()
        } else if would_fire.iter().any(|f| f == name) {
            "matched, not fired: depth limit".to_owned()
        } else if !trigger.on.iter().any(|k| plan.events.contains(k)) {
            format!("did not match (listens to {})", events(&trigger.on))
        } else {
            "did not match".to_owned()
        };
        say!(out, "  {}. {name}: {verdict}", i + 1);
    }
}

/// A field value for people: text as is, nothing as `(none)`, the rest as
/// JSON.
fn value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(none)".into(),
        serde_json::Value::String(text) if text.is_empty() => "\"\"".into(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn field_changes(out: &mut String, plan: &Plan) {
    if plan.changes.is_empty() {
        say!(out, "field changes: none");
        return;
    }
    say!(
        out,
        "field changes (one conditional write on version {}, a new change at depth {}):",
        plan.version,
        plan.depth.saturating_add(1)
    );
    for change in &plan.changes {
        say!(
            out,
            "  {}: {} → {} (by {})",
            change.field,
            value(&change.old),
            value(&change.new),
            change.by
        );
    }
}

/// Indents every line of `text` by `by` spaces.
fn indented(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{:by$}{l}", ""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn pretty(json: &serde_json::Value) -> String {
    serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
}

fn effects(out: &mut String, plan: &Plan, env: &dyn Environment) {
    if plan.effects.is_empty() {
        say!(out, "effects: none");
        return;
    }
    say!(out, "effects, in order:");
    for (i, planned) in plan.effects.iter().enumerate() {
        let n = i + 1;
        let by = &planned.trigger;
        match &planned.effect {
            Effect::Comment { public, body } => {
                let kind = if *public { "public" } else { "internal" };
                say!(out, "  {n}. {kind} comment ({by}):");
                say!(out, "{}", indented(body, 7));
            }
            Effect::Email { to, subject, body } => {
                say!(out, "  {n}. email to {to} ({by}), subject: {subject}");
                say!(out, "{}", indented(body, 7));
            }
            Effect::Webhook {
                target,
                format,
                body,
            } => {
                let target = match target {
                    WebhookTarget::Url(url) => url.clone(),
                    WebhookTarget::Env(name) => {
                        let set = if env.var(name).is_some() {
                            "set"
                        } else {
                            "NOT SET: the call would fail"
                        };
                        format!("the URL in ${name} ({set})")
                    }
                };
                let format = serde_json::to_value(format)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                say!(out, "  {n}. webhook ({by}): {format} POST to {target}");
                say!(out, "{}", indented(&pretty(body), 7));
            }
            Effect::Event {
                detail_type,
                detail,
            } => {
                say!(out, "  {n}. event {detail_type} ({by}):");
                say!(out, "{}", indented(&pretty(detail), 7));
            }
        }
    }
}
