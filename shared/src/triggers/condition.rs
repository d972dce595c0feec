//! Whether a condition holds for a change. Conditions see the incoming
//! change only: `before` and `after` as delivered (a new ticket's `before`
//! is the empty ticket), never the field changes of triggers evaluated
//! earlier in the same evaluation.

use chrono::{DateTime, Utc};

use super::change::Change;
use super::context::EvalContext;
use super::field::{Field, FieldValue};
use super::model::{ActorKind, CommentVisibility, Condition};
use super::plan::CalendarCheck;

/// The facts about one change that every condition reads, computed once.
pub(crate) struct Facts<'c> {
    /// The change.
    pub change: &'c Change,
    /// Who made it.
    pub actor: ActorKind,
    /// The comment's visibility, when it added one.
    pub comment_public: Option<bool>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl<'c> Facts<'c> {
    /// The facts of `change`.
    pub fn new(change: &'c Change) -> Self {
        Self {
            change,
            actor: ActorKind::of(&change.actor),
            comment_public: change.comment_public(),
            at: change.at(),
        }
    }
}

/// Whether `condition` holds. Business-hours answers are asked once per
/// calendar and kept in `checks`. A condition of no known shape (which
/// validation refuses) does not hold; a field condition holds when every
/// test it carries holds.
pub(crate) fn holds(
    condition: &Condition,
    facts: &Facts<'_>,
    ctx: &EvalContext<'_>,
    checks: &mut Vec<CalendarCheck>,
) -> bool {
    if let Some(all) = &condition.all {
        return all.iter().all(|c| holds(c, facts, ctx, checks));
    }
    if let Some(any) = &condition.any {
        return any.iter().any(|c| holds(c, facts, ctx, checks));
    }
    if let Some(not) = &condition.not {
        return !holds(not, facts, ctx, checks);
    }
    if let Some(by) = &condition.by {
        return by.contains(&facts.actor);
    }
    if let Some(visibility) = condition.comment {
        return match facts.comment_public {
            Some(public) => public == (visibility == CommentVisibility::Public),
            None => false,
        };
    }
    if let Some(test) = &condition.business_hours {
        let calendar = test.calendar.value.as_str();
        let open = match checks.iter().find(|c| c.calendar == calendar) {
            Some(check) => check.open,
            None => {
                let open = ctx.calendars.is_open(calendar, facts.at);
                checks.push(CalendarCheck {
                    calendar: calendar.to_owned(),
                    at: facts.at,
                    open,
                });
                open
            }
        };
        return open == Some(test.inside);
    }
    let Some(field) = condition
        .field
        .as_ref()
        .and_then(|f| Field::parse(&f.value))
    else {
        return false;
    };
    field_holds(condition, field, facts.change)
}

fn field_holds(condition: &Condition, field: Field<'_>, change: &Change) -> bool {
    let after = field.value(&change.after);
    let before = || {
        change
            .before
            .as_ref()
            .map_or(FieldValue::Empty, |b| field.value(b))
    };
    let mut tested = false;
    if let Some(expected) = &condition.equals {
        tested = true;
        if !after.has(expected.as_str()) {
            return false;
        }
    }
    if let Some(unexpected) = &condition.not_equals {
        tested = true;
        if after.has(unexpected.as_str()) {
            return false;
        }
    }
    if let Some(options) = &condition.one_of {
        tested = true;
        if !options.iter().any(|o| after.has(o.as_str())) {
            return false;
        }
    }
    if let Some(part) = &condition.contains {
        tested = true;
        if !after.contains(part.as_str()) {
            return false;
        }
    }
    if let Some(empty) = condition.empty {
        tested = true;
        if after.is_empty() != empty {
            return false;
        }
    }
    let needs_before = condition.became.is_some()
        || condition.changed_from.is_some()
        || condition.changed_to.is_some()
        || condition.changed.is_some();
    if !needs_before {
        return tested;
    }
    let before = before();
    let arrived = |value: &str| after.has(value) && !before.has(value);
    for value in [&condition.became, &condition.changed_to]
        .into_iter()
        .flatten()
    {
        if !arrived(value.as_str()) {
            return false;
        }
    }
    if let Some(value) = &condition.changed_from
        && (!before.has(value.as_str()) || after.has(value.as_str()))
    {
        return false;
    }
    if let Some(changed) = condition.changed
        && (before != after) != changed
    {
        return false;
    }
    true
}
