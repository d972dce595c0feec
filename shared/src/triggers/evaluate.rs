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
    let mut plan = Plan::empty(change, events_of(bits));
    if bits == 0 {
        return plan;
    }
    let matched = matching(triggers, change, bits, ctx, &mut plan);
    if matched.is_empty() {
        return plan;
    }
    if change.depth >= ctx.depth_limit {
        plan.stopped = Some(stop(change, ctx, &matched));
        return plan;
    }
    let applied = apply_fields(&matched, change, ctx, &mut plan);
    record_changes(&mut plan, change, &applied);
    if !applied.deferred.is_empty() {
        render_effects(&mut plan, change, &applied, ctx);
    }
    if !plan.changes.is_empty() {
        plan.updated = Some(applied.ticket);
    }
    plan
}

/// The event kinds whose bits are set in `bits`, in their canonical order.
fn events_of(bits: u8) -> Vec<EventKind> {
    EventKind::ALL
        .into_iter()
        .filter(|k| bits & k.bit() != 0)
        .collect()
}

/// The candidate triggers whose `when` holds, in order; records the
/// calendar checks the conditions made and a problem for each unknown
/// calendar.
fn matching<'t>(
    triggers: &'t [Trigger],
    change: &Change,
    bits: u8,
    ctx: &EvalContext<'_>,
    plan: &mut Plan,
) -> Vec<&'t Trigger> {
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
        report_unknown_calendars(plan, trigger, checked);
        if fires {
            matched.push(trigger);
        }
    }
    matched
}

/// A problem for each calendar check from index `checked` on whose
/// calendar is unknown.
fn report_unknown_calendars(plan: &mut Plan, trigger: &Trigger, checked: usize) {
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
}

/// The record of the depth limit stopping the `matched` triggers.
fn stop(change: &Change, ctx: &EvalContext<'_>, matched: &[&Trigger]) -> Stop {
    Stop {
        depth: change.depth,
        limit: ctx.depth_limit,
        would_fire: matched.iter().map(|t| t.name().to_owned()).collect(),
    }
}

/// What applying the field actions left: the working ticket, who set which
/// field, and the side-effect actions still to render.
struct Applied<'t> {
    ticket: Ticket,
    /// (field name, trigger) for every field a trigger set, in order.
    setters: Vec<(String, &'t str)>,
    /// (trigger, action index, action) of every side-effect action, in order.
    deferred: Vec<(&'t Trigger, usize, &'t Action)>,
}

/// Fires the `matched` triggers in order, applying their field actions to
/// one working copy of the ticket and setting the rest aside.
fn apply_fields<'t>(
    matched: &[&'t Trigger],
    change: &Change,
    ctx: &EvalContext<'_>,
    plan: &mut Plan,
) -> Applied<'t> {
    let mut work = Work {
        ticket: change.after.clone(),
        setters: Vec::new(),
        plan,
        ctx,
    };
    let mut deferred: Vec<(&Trigger, usize, &Action)> = Vec::new();
    for &trigger in matched {
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
    Applied {
        ticket,
        setters,
        deferred,
    }
}

/// The merged field changes, each credited to the last trigger that set
/// the field (else the first that fired).
fn record_changes(plan: &mut Plan, change: &Change, applied: &Applied<'_>) {
    for name in changed_fields(Some(&change.after), &applied.ticket) {
        let Some(field) = Field::parse(&name) else {
            continue;
        };
        let by = applied
            .setters
            .iter()
            .rev()
            .find(|(f, _)| *f == name)
            .map_or_else(|| plan.fired[0].clone(), |(_, t)| (*t).to_owned());
        plan.changes.push(FieldChange {
            old: field.json(&change.after),
            new: field.json(&applied.ticket),
            field: name,
            by,
        });
    }
}

/// Renders the deferred side-effect actions, in order, against the ticket
/// as the evaluation leaves it; a failed rendering becomes a problem.
fn render_effects(plan: &mut Plan, change: &Change, applied: &Applied<'_>, ctx: &EvalContext<'_>) {
    let fields = change.changed_fields();
    let pending = plan.assignment.is_some();
    let events = plan.events.clone();
    let renderer = Renderer::new(change, &applied.ticket, &events, &fields, ctx);
    let id_base = effect_id_base(change);
    for &(trigger, index, action) in &applied.deferred {
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
