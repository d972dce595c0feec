//! Evaluating a queue's triggers against one change, producing a [`Plan`].
//!
//! 1. The change's events are derived once. A trigger is a candidate when
//!    one of its `on` events happened; it matches when its `when` holds on
//!    the incoming change (see the `condition` module).
//! 2. At or beyond the depth limit nothing is applied: when any trigger
//!    matched, the plan records a [`Stop`] naming them.
//! 3. Matching triggers fire in configured order, each once. Their field
//!    actions apply cumulatively to one working copy of the ticket (a later
//!    `set` overrides an earlier one; list edits stack; `component_owner`
//!    reads the components as earlier actions left them), and the result is
//!    one merged update.
//! 4. Side effects are rendered last, in trigger and action order, against
//!    the ticket as the whole evaluation leaves it.

use super::change::Change;
use super::condition::{Facts, holds};
use super::context::EvalContext;
use super::field::{Field, changed_fields, same_text};
use super::model::{Action, Assign, AssignGroup, EventKind, ListEdit, SetFields, Trigger};
use super::plan::{
    AssignStrategy, FieldChange, GroupAssignment, Plan, PlannedEffect, Problem, Stop,
};
use super::render::Renderer;
use crate::domain::Ticket;

/// Evaluates `triggers` (one queue's, in order) against `change`.
pub fn evaluate(triggers: &[Trigger], change: &Change, ctx: &EvalContext<'_>) -> Plan {
    let bits = change.event_bits();
    let events: Vec<EventKind> = EventKind::ALL
        .into_iter()
        .filter(|k| bits & k.bit() != 0)
        .collect();
    let mut plan = Plan::empty(change, events);
    if bits == 0 {
        return plan;
    }

    let facts = Facts::new(change);
    let mut matched: Vec<&Trigger> = Vec::new();
    for trigger in triggers {
        if !trigger.on.iter().any(|k| bits & k.bit() != 0) {
            continue;
        }
        let checked = plan.calendar_checks.len();
        let fires = trigger
            .when
            .as_ref()
            .is_none_or(|c| holds(c, &facts, ctx, &mut plan.calendar_checks));
        for check in &plan.calendar_checks[checked..] {
            if check.open.is_none() {
                plan.problems.push(Problem {
                    trigger: trigger.name().to_owned(),
                    message: format!(
                        "calendar {:?} is unknown, so its business_hours condition is false",
                        check.calendar
                    ),
                });
            }
        }
        if fires {
            matched.push(trigger);
        }
    }
    if matched.is_empty() {
        return plan;
    }
    if change.depth >= ctx.depth_limit {
        plan.stopped = Some(Stop {
            depth: change.depth,
            limit: ctx.depth_limit,
            would_fire: matched.iter().map(|t| t.name().to_owned()).collect(),
        });
        return plan;
    }

    let mut work = Work {
        ticket: change.after.clone(),
        setters: Vec::new(),
        plan: &mut plan,
        ctx,
    };
    let mut deferred: Vec<(&Trigger, usize, &Action)> = Vec::new();
    for trigger in &matched {
        work.plan.fired.push(trigger.name().to_owned());
        for (index, action) in trigger.actions.iter().enumerate() {
            match action {
                Action::Set(set) => work.set(trigger.name(), set),
                Action::Assign(Assign::ComponentOwner) => work.component_owner(trigger.name()),
                Action::Assign(Assign::Group(group)) => work.group(trigger.name(), group),
                _ => deferred.push((trigger, index, action)),
            }
        }
    }
    let Work {
        ticket, setters, ..
    } = work;

    for name in changed_fields(Some(&change.after), &ticket) {
        let Some(field) = Field::parse(&name) else {
            continue;
        };
        let by = setters
            .iter()
            .rev()
            .find(|(f, _)| *f == name)
            .map_or_else(|| plan.fired[0].clone(), |(_, t)| (*t).to_owned());
        plan.changes.push(FieldChange {
            old: field.json(&change.after),
            new: field.json(&ticket),
            field: name,
            by,
        });
    }

    if !deferred.is_empty() {
        let fields = change.changed_fields();
        let pending = plan.assignment.is_some();
        let events = plan.events.clone();
        let renderer = Renderer::new(change, &ticket, &events, &fields, ctx);
        let id_base = effect_id_base(change);
        for (trigger, index, action) in deferred {
            let name = trigger.name();
            let effect = match action {
                Action::Comment(a) => renderer.comment(name, a),
                Action::Email(a) => renderer.email(name, a, pending),
                Action::Webhook(a) => renderer.webhook(name, a),
                Action::Event(a) => renderer.event(name, a),
                Action::Set(_) | Action::Assign(_) => continue,
            };
            match effect {
                Ok(effect) => plan.effects.push(PlannedEffect {
                    id: format!("{id_base}/{name}/{index}"),
                    trigger: name.to_owned(),
                    effect,
                }),
                Err(message) => plan.problems.push(Problem {
                    trigger: name.to_owned(),
                    message,
                }),
            }
        }
    }
    if !plan.changes.is_empty() {
        plan.updated = Some(ticket);
    }
    plan
}

/// `SUP-17/v4`, plus the entry's sequence number and the SLA signal when
/// the change has them: the same change always gives the same ids.
fn effect_id_base(change: &Change) -> String {
    let mut id = format!("{}/v{}", change.after.key, change.after.version);
    if let Some(entry) = &change.entry {
        id.push_str(&format!("/e{}", entry.seq));
    }
    if let Some(sla) = &change.sla {
        let kind = match sla.kind {
            super::change::SlaKind::Warning => "warning",
            super::change::SlaKind::Breach => "breach",
        };
        id.push_str(&format!("/sla-{kind}-{}", sla.metric));
    }
    id
}

/// The working copy of one evaluation.
struct Work<'p, 't, 'c> {
    ticket: Ticket,
    /// (field name, trigger) for every field a trigger set, in order.
    setters: Vec<(String, &'t str)>,
    plan: &'p mut Plan,
    ctx: &'c EvalContext<'c>,
}

impl<'t> Work<'_, 't, '_> {
    fn touched(&mut self, field: &str, trigger: &'t str) {
        self.setters.push((field.to_owned(), trigger));
    }

    fn problem(&mut self, trigger: &str, message: String) {
        self.plan.problems.push(Problem {
            trigger: trigger.to_owned(),
            message,
        });
    }

    fn set(&mut self, trigger: &'t str, set: &SetFields) {
        if let Some(status) = &set.status {
            self.ticket.status.clone_from(&status.value);
            self.touched("status", trigger);
        }
        if let Some(line) = &set.line {
            self.ticket.line = Some(line.value);
            self.touched("line", trigger);
        }
        if let Some(priority) = &set.priority {
            self.ticket.priority.clone_from(&priority.value);
            self.touched("priority", trigger);
        }
        if let Some(assignee) = &set.assignee {
            self.assign(trigger, assignee.value.clone());
        }
        if let Some(edit) = &set.components {
            edit_list(&mut self.ticket.components, edit);
            self.touched("components", trigger);
        }
        if let Some(edit) = &set.tags {
            edit_list(&mut self.ticket.tags, edit);
            self.touched("tags", trigger);
        }
        for (id, value) in &set.custom {
            if value.is_null() {
                self.ticket.custom_fields.remove(id);
            } else {
                self.ticket.custom_fields.insert(id.clone(), value.clone());
            }
            self.touched(&format!("custom.{id}"), trigger);
        }
        for name in &set.clear {
            match Field::parse(&name.value) {
                Some(Field::Assignee) => {
                    self.ticket.assignee = None;
                    self.plan.assignment = None;
                }
                Some(Field::Line) => self.ticket.line = None,
                Some(Field::Resolution) => self.ticket.resolution = None,
                Some(Field::Components) => self.ticket.components.clear(),
                Some(Field::Tags) => self.ticket.tags.clear(),
                Some(Field::Custom(id)) => {
                    self.ticket.custom_fields.remove(id);
                }
                _ => {
                    self.problem(trigger, format!("field {:?} cannot be cleared", name.value));
                    continue;
                }
            }
            self.touched(&name.value, trigger);
        }
    }

    fn assign(&mut self, trigger: &'t str, login: String) {
        self.ticket.assignee = Some(login);
        self.plan.assignment = None;
        self.touched("assignee", trigger);
    }

    fn component_owner(&mut self, trigger: &'t str) {
        let owner = self
            .ticket
            .components
            .iter()
            .find_map(|c| self.ctx.component_owner(c));
        match owner {
            Some(login) => self.assign(trigger, login.to_owned()),
            None => {
                let message = if self.ticket.components.is_empty() {
                    "assign component_owner: the ticket has no components".to_owned()
                } else {
                    format!(
                        "assign component_owner: none of the components ({}) has a default assignee",
                        self.ticket.components.join(", ")
                    )
                };
                self.problem(trigger, message);
            }
        }
    }

    fn group(&mut self, trigger: &str, group: &AssignGroup) {
        let (strategy, members) = match (&group.round_robin, &group.least_loaded) {
            (Some(members), None) => (AssignStrategy::RoundRobin, members),
            (None, Some(members)) => (AssignStrategy::LeastLoaded, members),
            _ => {
                self.problem(
                    trigger,
                    "assign needs exactly one of round_robin and least_loaded".into(),
                );
                return;
            }
        };
        self.plan.assignment = Some(GroupAssignment {
            trigger: trigger.to_owned(),
            strategy,
            members: members.iter().map(|m| m.value.clone()).collect(),
            cap: group.cap,
        });
    }
}

/// Removes (ignoring case), then adds what is not there yet.
fn edit_list(list: &mut Vec<String>, edit: &ListEdit) {
    if !edit.remove.is_empty() {
        list.retain(|item| !edit.remove.iter().any(|r| same_text(item, &r.value)));
    }
    for add in &edit.add {
        if !list.iter().any(|item| same_text(item, &add.value)) {
            list.push(add.value.clone());
        }
    }
}
