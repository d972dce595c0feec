//! Routing rules: ordered conditions on the answers that set the support
//! line, assignee, components, priority and tags (the model of Yandex Forms'
//! conditional action groups).

use crate::config::{Condition, RoutingRule};

use super::answers::Answers;

/// What the matching rules decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// Support line.
    pub line: Option<u8>,
    /// Assignee login.
    pub assignee: Option<String>,
    /// Components, in the order rules added them, without repeats.
    pub components: Vec<String>,
    /// Priority level.
    pub priority: Option<String>,
    /// Tags, without repeats.
    pub tags: Vec<String>,
    /// Names of the rules that matched, in order.
    pub matched: Vec<String>,
}

/// Whether `condition` holds for `answers` (comparisons ignore case; a
/// missing answer is empty).
pub fn holds(condition: &Condition, answers: &Answers) -> bool {
    if let Some(all) = &condition.all {
        return all.iter().all(|c| holds(c, answers));
    }
    if let Some(any) = &condition.any {
        return any.iter().any(|c| holds(c, answers));
    }
    if let Some(not) = &condition.not {
        return !holds(not, answers);
    }
    let Some(field) = &condition.field else {
        return false;
    };
    let value = answers.get(&field.value).map(String::as_str).unwrap_or("");
    let value_lower = value.to_lowercase();
    if let Some(expected) = &condition.equals {
        return value.eq_ignore_ascii_case(expected) || value_lower == expected.to_lowercase();
    }
    if let Some(unexpected) = &condition.not_equals {
        return value_lower != unexpected.to_lowercase();
    }
    if let Some(options) = &condition.one_of {
        return options.iter().any(|o| o.to_lowercase() == value_lower);
    }
    if let Some(part) = &condition.contains {
        return value_lower.contains(&part.to_lowercase());
    }
    if let Some(empty) = condition.empty {
        return value.is_empty() == empty;
    }
    false
}

/// Applies the rules in order: each matching rule applies; single values
/// (line, assignee, priority) from a later rule replace earlier ones; lists
/// accumulate; a matching rule with `stop` ends the evaluation.
pub fn route(rules: &[RoutingRule], answers: &Answers) -> Routing {
    let mut routing = Routing::default();
    for rule in rules {
        if !holds(&rule.when, answers) {
            continue;
        }
        let set = &rule.set;
        if let Some(line) = &set.line {
            routing.line = Some(line.value);
        }
        if let Some(assignee) = &set.assignee {
            routing.assignee = Some(assignee.value.clone());
        }
        if let Some(priority) = &set.priority {
            routing.priority = Some(priority.value.clone());
        }
        for component in &set.components {
            if !routing.components.contains(&component.value) {
                routing.components.push(component.value.clone());
            }
        }
        for tag in &set.tags {
            if !routing.tags.contains(tag) {
                routing.tags.push(tag.clone());
            }
        }
        routing.matched.push(rule.name.clone());
        if rule.stop {
            break;
        }
    }
    routing
}
