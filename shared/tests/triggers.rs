//! The trigger engine's pure core: conditions, ordering, the merged update,
//! side effects, the depth limit, config parsing and validation. Every test
//! builds a change by hand and evaluates the triggers written in YAML, as
//! they appear under `queues.SUP.triggers` in `helpdesk.yaml`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use helpdesk::config::MailTemplate;
use helpdesk::domain::{
    Actor, Channel, EmailAddress, QueueKey, Requester, Ticket, TicketKey, TimelineEntry,
    TimelineEvent,
};
use helpdesk::triggers::{
    ActorKind, AssignStrategy, Change, ChangeEvent, Effect, EvalContext, EventKind, Plan, SlaAlert,
    SlaKind, Trigger, WebhookFormat, WebhookTarget, evaluate,
};
use serde_json::json;

// ---------------------------------------------------------------- helpers

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, hour, 0, 0).unwrap()
}

fn ticket() -> Ticket {
    Ticket {
        key: TicketKey::parse("SUP-1").unwrap(),
        queue: QueueKey::parse("SUP").unwrap(),
        summary: "Invoice is wrong".into(),
        description: "The March invoice charges us twice.".into(),
        description_blob: None,
        status: "New".into(),
        resolution: None,
        priority: "normal".into(),
        line: None,
        components: vec![],
        tags: vec![],
        assignee: None,
        requester: Requester {
            contact_id: None,
            email: Some(EmailAddress::parse("customer@example.org").unwrap()),
            name: Some("Casey Customer".into()),
            phone: None,
            organization: None,
        },
        participants: vec![],
        channel: Channel::Form,
        custom_fields: BTreeMap::new(),
        created_at: at(9),
        updated_at: at(9),
        first_response_at: None,
        resolved_at: None,
        reopen_count: 0,
        trigger_depth: 0,
        sla: Default::default(),
        satisfaction: Default::default(),
        version: 1,
    }
}

fn customer() -> Actor {
    Actor::Customer {
        email: EmailAddress::parse("customer@example.org").unwrap(),
    }
}

fn agent() -> Actor {
    Actor::Agent {
        login: "boris".into(),
        via: None,
    }
}

fn created(ticket: Ticket) -> Change {
    Change::new(None, ticket, customer())
}

/// An agent's edit of `before`.
fn edited(before: &Ticket, edit: impl FnOnce(&mut Ticket)) -> Change {
    let mut after = before.clone();
    edit(&mut after);
    after.version += 1;
    after.updated_at = at(10);
    Change::new(Some(before.clone()), after, agent())
}

/// A comment added to `ticket` without changing a field.
fn commented(ticket: &Ticket, public: bool, actor: Actor) -> Change {
    let mut change = Change::new(Some(ticket.clone()), ticket.clone(), actor.clone());
    change.entry = Some(TimelineEntry {
        ticket: ticket.key.clone(),
        seq: 2001,
        at: at(11),
        actor,
        event: TimelineEvent::Comment {
            public,
            body: "Any news?".into(),
            body_blob: None,
        },
    });
    change
}

fn triggers(yaml: &str) -> Vec<Trigger> {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}"))
}

/// One trigger named `t` on created and fields_changed with `when` and an
/// action that tags the ticket `fired`.
fn when(condition: &str) -> Vec<Trigger> {
    triggers(&format!(
        "- name: t\n  on: [created, fields_changed, comment_added, sla_warning]\n  when: {condition}\n  do: [{{ set: {{ tags: {{ add: [fired] }} }} }}]\n"
    ))
}

fn fires(condition: &str, change: &Change) -> bool {
    !evaluate(&when(condition), change, &ctx()).fired.is_empty()
}

fn ctx() -> EvalContext<'static> {
    let mut ctx = EvalContext::default();
    ctx.component_owners.insert("Billing".into(), "anna".into());
    ctx.component_owners
        .insert("Outages".into(), "dmitri".into());
    ctx.agent_emails.insert(
        "anna".into(),
        EmailAddress::parse("anna@example.com").unwrap(),
    );
    ctx
}

fn field<'p>(plan: &'p Plan, name: &str) -> Option<&'p serde_json::Value> {
    plan.changes
        .iter()
        .find(|c| c.field == name)
        .map(|c| &c.new)
}

/// Evaluates `change` and every change the plans write, until a plan writes
/// nothing (the way the stream would deliver them).
fn chain(triggers: &[Trigger], change: Change, ctx: &EvalContext<'_>) -> Vec<Plan> {
    let mut plans = Vec::new();
    let mut next = Some(change);
    while let Some(change) = next {
        let plan = evaluate(triggers, &change, ctx);
        next = plan.next_change(&change);
        plans.push(plan);
        assert!(plans.len() < 50, "the chain does not end");
    }
    plans
}

fn webhooks(plan: &Plan) -> Vec<&serde_json::Value> {
    plan.effects
        .iter()
        .filter_map(|e| match &e.effect {
            Effect::Webhook { body, .. } => Some(body),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------- events

#[test]
fn a_change_without_before_is_created_and_lists_every_field_with_a_value() {
    let change = created(ticket());
    assert_eq!(change.events(), [ChangeEvent::Created]);
    let fields = change.changed_fields();
    assert!(fields.contains(&"status".to_owned()));
    assert!(!fields.contains(&"assignee".to_owned()));
}

#[test]
fn an_edit_is_fields_changed_naming_exactly_the_fields_that_differ() {
    let mut before = ticket();
    before
        .custom_fields
        .insert("customer_id".into(), json!("C-1"));
    let change = edited(&before, |t| {
        t.status = "Open".into();
        t.tags.push("vip".into());
        t.custom_fields.insert("customer_id".into(), json!("C-2"));
    });
    assert_eq!(
        change.events(),
        [ChangeEvent::FieldsChanged {
            fields: vec!["status".into(), "tags".into(), "custom.customer_id".into()]
        }]
    );
}

#[test]
fn comments_mails_and_sla_signals_become_their_own_events() {
    let t = ticket();
    assert_eq!(
        commented(&t, false, agent()).events(),
        [ChangeEvent::CommentAdded {
            public: false,
            by: ActorKind::Agent
        }]
    );
    let mut mail = Change::new(Some(t.clone()), t.clone(), customer());
    mail.entry = Some(TimelineEntry {
        ticket: t.key.clone(),
        seq: 3000,
        at: at(12),
        actor: customer(),
        event: TimelineEvent::EmailIn {
            message_id: "<m1@example.org>".into(),
            from: "customer@example.org".into(),
            subject: "Re: invoice".into(),
            subject_blob: None,
            raw_key: None,
            text: None,
            text_blob: None,
            html: None,
            html_blob: None,
            skipped: vec![],
            skipped_unlisted: 0,
            participants_left_out: 0,
            automatic: vec![],
            authentication: None,
        },
    });
    assert_eq!(mail.events(), [ChangeEvent::EmailReceived]);
    let mut sla = Change::new(Some(t.clone()), t, Actor::System);
    sla.sla = Some(SlaAlert {
        kind: SlaKind::Breach,
        metric: "reaction".into(),
        rule: "Reaction".into(),
        cycle: 1,
    });
    assert_eq!(
        sla.events(),
        [ChangeEvent::SlaBreach {
            metric: "reaction".into()
        }]
    );
}

#[test]
fn a_trigger_only_fires_on_the_events_it_lists() {
    let t = triggers(
        "- name: on comments\n  on: [comment_added]\n  do: [{ set: { tags: { add: [seen] } } }]\n",
    );
    let edit = edited(&ticket(), |t| t.status = "Open".into());
    assert!(evaluate(&t, &edit, &ctx()).fired.is_empty());
    let comment = commented(&ticket(), true, customer());
    assert_eq!(evaluate(&t, &comment, &ctx()).fired, ["on comments"]);
}

// ---------------------------------------------------------------- operators

#[test]
fn equals_tests_the_value_after_the_change_ignoring_case() {
    let change = edited(&ticket(), |t| t.status = "First line".into());
    assert!(fires("{ field: status, equals: first LINE }", &change));
    assert!(!fires("{ field: status, equals: New }", &change));
}

#[test]
fn not_equals_holds_when_the_value_differs() {
    let change = edited(&ticket(), |t| t.priority = "high".into());
    assert!(fires("{ field: priority, not_equals: low }", &change));
    assert!(!fires("{ field: priority, not_equals: high }", &change));
}

#[test]
fn in_holds_when_the_value_is_one_of_the_options() {
    let change = edited(&ticket(), |t| t.priority = "critical".into());
    assert!(fires("{ field: priority, in: [critical, high] }", &change));
    assert!(!fires("{ field: priority, in: [normal, low] }", &change));
}

#[test]
fn contains_finds_text_in_a_value_and_an_element_in_a_list() {
    let change = edited(&ticket(), |t| t.components.push("Billing".into()));
    assert!(fires("{ field: summary, contains: INVOICE }", &change));
    assert!(!fires("{ field: summary, contains: refund }", &change));
    assert!(fires("{ field: components, contains: billing }", &change));
    assert!(!fires("{ field: components, contains: Bill }", &change));
}

#[test]
fn empty_true_and_false_test_for_a_missing_value() {
    let change = edited(&ticket(), |t| t.priority = "high".into());
    assert!(fires("{ field: assignee, empty: true }", &change));
    assert!(!fires("{ field: assignee, empty: false }", &change));
    assert!(fires("{ field: requester.email, empty: false }", &change));
    assert!(fires("{ field: custom.customer_id, empty: true }", &change));
    assert!(fires("{ field: components, empty: true }", &change));
}

#[test]
fn became_does_not_fire_for_a_ticket_that_already_had_the_value_but_equals_does() {
    let mut before = ticket();
    before.line = Some(1);
    let priority_change = edited(&before, |t| t.priority = "high".into());
    assert!(!fires("{ field: line, became: 1 }", &priority_change));
    assert!(fires("{ field: line, equals: 1 }", &priority_change));

    let line_change = edited(&ticket(), |t| t.line = Some(1));
    assert!(fires("{ field: line, became: 1 }", &line_change));
}

#[test]
fn became_fires_on_a_new_ticket_created_with_the_value() {
    let mut t = ticket();
    t.line = Some(1);
    assert!(fires("{ field: line, became: 1 }", &created(t)));
    assert!(!fires("{ field: line, became: 2 }", &created(ticket())));
}

#[test]
fn became_on_a_list_means_the_element_was_added() {
    let mut before = ticket();
    before.components = vec!["Accounts".into()];
    let added = edited(&before, |t| t.components.push("Billing".into()));
    assert!(fires("{ field: components, became: Billing }", &added));
    assert!(!fires("{ field: components, became: Accounts }", &added));
}

#[test]
fn changed_from_and_changed_to_describe_a_transition_from_a_to_b() {
    let mut before = ticket();
    before.status = "Resolved".into();
    let reopened = edited(&before, |t| t.status = "Open".into());
    assert!(fires(
        "{ field: status, changed_from: Resolved, changed_to: Open }",
        &reopened
    ));
    assert!(fires(
        "{ field: status, changed_from: Resolved }",
        &reopened
    ));
    assert!(fires("{ field: status, changed_to: open }", &reopened));
    assert!(!fires(
        "{ field: status, changed_from: Closed, changed_to: Open }",
        &reopened
    ));
    assert!(!fires(
        "{ field: status, changed_from: Resolved, changed_to: Closed }",
        &reopened
    ));
}

#[test]
fn changed_tells_whether_the_field_changed_at_all() {
    let change = edited(&ticket(), |t| t.status = "Open".into());
    assert!(fires("{ field: status, changed: true }", &change));
    assert!(!fires("{ field: priority, changed: true }", &change));
    assert!(fires("{ field: priority, changed: false }", &change));
}

#[test]
fn changed_combines_with_a_value_test_on_the_same_field() {
    let mut before = ticket();
    before.components = vec!["Billing".into()];
    let other_edit = edited(&before, |t| t.priority = "high".into());
    assert!(!fires(
        "{ field: components, contains: Billing, changed: true }",
        &other_edit
    ));
    let added = edited(&ticket(), |t| t.components.push("Billing".into()));
    assert!(fires(
        "{ field: components, contains: Billing, changed: true }",
        &added
    ));
}

#[test]
fn custom_fields_are_tested_as_custom_dot_id_with_numbers_compared_as_text() {
    let change = edited(&ticket(), |t| {
        t.custom_fields
            .insert("customer_id".into(), json!("ACME-7"));
        t.custom_fields.insert("feedback_score".into(), json!(5));
        t.custom_fields
            .insert("regions".into(), json!(["eu", "us"]));
    });
    assert!(fires(
        "{ field: custom.customer_id, equals: acme-7 }",
        &change
    ));
    assert!(fires(
        "{ field: custom.customer_id, became: ACME-7 }",
        &change
    ));
    assert!(fires(
        "{ field: custom.feedback_score, in: [4, 5] }",
        &change
    ));
    assert!(fires("{ field: custom.regions, contains: us }", &change));
    assert!(!fires("{ field: custom.other, empty: false }", &change));
}

#[test]
fn all_any_and_not_combine_conditions() {
    let change = edited(&ticket(), |t| {
        t.priority = "critical".into();
        t.line = Some(2);
    });
    assert!(fires(
        "{ all: [ { field: priority, equals: critical }, { field: line, equals: 2 } ] }",
        &change
    ));
    assert!(!fires(
        "{ all: [ { field: priority, equals: critical }, { field: line, equals: 1 } ] }",
        &change
    ));
    assert!(fires(
        "{ any: [ { field: priority, equals: low }, { field: line, equals: 2 } ] }",
        &change
    ));
    assert!(!fires(
        "{ any: [ { field: priority, equals: low }, { field: line, equals: 1 } ] }",
        &change
    ));
    assert!(fires("{ not: { field: status, equals: Closed } }", &change));
    assert!(!fires("{ not: { field: line, equals: 2 } }", &change));
}

#[test]
fn by_restricts_a_trigger_to_who_made_the_change() {
    let by_agent = edited(&ticket(), |t| t.status = "Open".into());
    assert!(fires("{ by: [agent] }", &by_agent));
    assert!(!fires("{ by: [customer, system] }", &by_agent));
    let mut by_trigger = by_agent.clone();
    by_trigger.actor = Actor::Trigger { name: "x".into() };
    assert!(fires("{ by: [trigger] }", &by_trigger));
    assert!(fires("{ by: [customer] }", &created(ticket())));
}

#[test]
fn the_comment_condition_tells_public_from_internal_comments() {
    let public = commented(&ticket(), true, customer());
    let internal = commented(&ticket(), false, agent());
    assert!(fires("{ comment: public }", &public));
    assert!(!fires("{ comment: internal }", &public));
    assert!(fires("{ comment: internal }", &internal));
    assert!(!fires(
        "{ comment: public }",
        &edited(&ticket(), |t| t.line = Some(1))
    ));
}

#[test]
fn business_hours_asks_the_calendar_port_once_and_records_the_answer() {
    let calls = std::cell::Cell::new(0);
    let office = |calendar: &str, at: DateTime<Utc>| {
        calls.set(calls.get() + 1);
        (calendar == "office").then(|| {
            use chrono::Timelike;
            (9..18).contains(&at.hour())
        })
    };
    let ctx = ctx().with_calendars(&office);
    let t = triggers(
        "- name: inside\n  on: [comment_added]\n  when: { business_hours: { calendar: office } }\n  do: [{ set: { tags: { add: [day] } } }]\n\
         - name: outside\n  on: [comment_added]\n  when: { business_hours: { calendar: office, inside: false } }\n  do: [{ set: { tags: { add: [night] } } }]\n",
    );
    let plan = evaluate(&t, &commented(&ticket(), true, customer()), &ctx);
    assert_eq!(plan.fired, ["inside"]);
    assert_eq!(calls.get(), 1, "one question per calendar and change");
    assert_eq!(plan.calendar_checks.len(), 1);
    assert_eq!(plan.calendar_checks[0].calendar, "office");
    assert_eq!(plan.calendar_checks[0].at, at(11));
    assert_eq!(plan.calendar_checks[0].open, Some(true));
}

#[test]
fn an_unknown_calendar_makes_business_hours_false_and_says_so() {
    let t = when("{ business_hours: { calendar: moon } }");
    let plan = evaluate(&t, &commented(&ticket(), true, customer()), &ctx());
    assert!(plan.fired.is_empty());
    assert_eq!(plan.calendar_checks[0].open, None);
    assert!(
        plan.problems[0]
            .message
            .contains("calendar \"moon\" is unknown")
    );
}

// ---------------------------------------------------------------- actions

#[test]
fn set_changes_fields_and_the_plan_lists_old_and_new_values_with_the_trigger() {
    let t = triggers(
        "- name: escalate\n  on: [fields_changed]\n  when: { field: priority, became: critical }\n  do:\n    - set:\n        status: In progress\n        line: 2\n        assignee: anna\n        components: { add: [Outages] }\n        tags: { add: [urgent], remove: [LATER] }\n        custom: { customer_id: C-9, topic: null }\n",
    );
    let mut before = ticket();
    before.tags = vec!["later".into()];
    before
        .custom_fields
        .insert("topic".into(), json!("billing"));
    let change = edited(&before, |t| t.priority = "critical".into());
    let plan = evaluate(&t, &change, &ctx());
    assert_eq!(plan.fired, ["escalate"]);
    assert_eq!(field(&plan, "status"), Some(&json!("In progress")));
    assert_eq!(field(&plan, "line"), Some(&json!(2)));
    assert_eq!(field(&plan, "assignee"), Some(&json!("anna")));
    assert_eq!(field(&plan, "components"), Some(&json!(["Outages"])));
    assert_eq!(field(&plan, "tags"), Some(&json!(["urgent"])));
    assert_eq!(field(&plan, "custom.customer_id"), Some(&json!("C-9")));
    assert_eq!(field(&plan, "custom.topic"), Some(&json!(null)));
    let status = plan.changes.iter().find(|c| c.field == "status").unwrap();
    assert_eq!(status.old, json!("New"));
    assert_eq!(status.by, "escalate");
    let updated = plan.updated.as_ref().unwrap();
    assert_eq!(updated.status, "In progress");
    assert_eq!(updated.version, change.after.version, "the store bumps it");
    assert_eq!(plan.version, change.after.version);
}

#[test]
fn clear_empties_optional_fields() {
    let t = triggers(
        "- name: back to the queue\n  on: [fields_changed]\n  when: { field: status, became: New }\n  do: [{ set: { clear: [assignee, line, custom.topic] } }]\n",
    );
    let mut before = ticket();
    before.status = "Open".into();
    before.assignee = Some("anna".into());
    before.line = Some(2);
    before.custom_fields.insert("topic".into(), json!("x"));
    let plan = evaluate(&t, &edited(&before, |t| t.status = "New".into()), &ctx());
    let updated = plan.updated.unwrap();
    assert_eq!(updated.assignee, None);
    assert_eq!(updated.line, None);
    assert!(updated.custom_fields.is_empty());
}

#[test]
fn component_owner_assigns_the_default_assignee_of_the_first_component_that_has_one() {
    let t = triggers("- name: owner\n  on: [created]\n  do: [{ assign: component_owner }]\n");
    let mut with = ticket();
    with.components = vec!["Accounts".into(), "Outages".into(), "Billing".into()];
    let plan = evaluate(&t, &created(with), &ctx());
    assert_eq!(field(&plan, "assignee"), Some(&json!("dmitri")));
    assert!(plan.problems.is_empty());
}

#[test]
fn component_owner_with_no_owned_component_assigns_nobody_and_says_why() {
    let t = triggers("- name: owner\n  on: [created]\n  do: [{ assign: component_owner }]\n");
    let mut without = ticket();
    without.components = vec!["Accounts".into()];
    let plan = evaluate(&t, &created(without), &ctx());
    assert!(plan.changes.is_empty());
    assert!(plan.problems[0].message.contains("Accounts"));
}

#[test]
fn component_owner_sees_components_added_by_an_earlier_action() {
    let t = triggers(
        "- name: outage words\n  on: [created]\n  when: { field: summary, contains: down }\n  do: [{ set: { components: { add: [Outages] } } }]\n\
         - name: owner\n  on: [created]\n  do: [{ assign: component_owner }]\n",
    );
    let mut down = ticket();
    down.summary = "Site is down".into();
    let plan = evaluate(&t, &created(down), &ctx());
    assert_eq!(field(&plan, "assignee"), Some(&json!("dmitri")));
}

#[test]
fn group_assignments_are_planned_with_members_and_cap_and_the_last_assignment_wins() {
    let t = triggers(
        "- name: spread\n  on: [created]\n  do: [{ assign: { least_loaded: [anna, boris], cap: 5 } }]\n",
    );
    let plan = evaluate(&t, &created(ticket()), &ctx());
    let group = plan.assignment.as_ref().unwrap();
    assert_eq!(group.strategy, AssignStrategy::LeastLoaded);
    assert_eq!(group.members, ["anna", "boris"]);
    assert_eq!(group.cap, Some(5));
    assert_eq!(group.trigger, "spread");
    assert!(plan.writes_ticket());

    let t = triggers(
        "- name: spread\n  on: [created]\n  do: [{ assign: { round_robin: [anna, boris] } }]\n\
         - name: vip\n  on: [created]\n  do: [{ set: { assignee: carla } }]\n",
    );
    let plan = evaluate(&t, &created(ticket()), &ctx());
    assert_eq!(plan.assignment, None);
    assert_eq!(field(&plan, "assignee"), Some(&json!("carla")));
}

// ---------------------------------------------------------------- ordering

#[test]
fn triggers_fire_in_order_and_a_later_set_overrides_an_earlier_one() {
    let t = triggers(
        "- name: first\n  on: [created]\n  do: [{ set: { status: Open, tags: { add: [a] } } }]\n\
         - name: second\n  on: [created]\n  do: [{ set: { status: In progress, tags: { add: [b] } } }]\n",
    );
    let plan = evaluate(&t, &created(ticket()), &ctx());
    assert_eq!(plan.fired, ["first", "second"]);
    let status = plan.changes.iter().find(|c| c.field == "status").unwrap();
    assert_eq!(status.new, json!("In progress"));
    assert_eq!(status.by, "second");
    assert_eq!(field(&plan, "tags"), Some(&json!(["a", "b"])));
}

#[test]
fn each_trigger_fires_at_most_once_per_change_even_when_several_of_its_events_happened() {
    let t = triggers(
        "- name: notify\n  on: [fields_changed, comment_added]\n  do: [{ webhook: { url: \"https://hooks.example.com/x\", format: slack, text: \"{{ ticket.key }}\" } }]\n",
    );
    let mut change = commented(&ticket(), true, agent());
    change.after.status = "Open".into();
    assert_eq!(
        change
            .events()
            .iter()
            .map(ChangeEvent::kind)
            .collect::<Vec<_>>(),
        [EventKind::FieldsChanged, EventKind::CommentAdded]
    );
    let plan = evaluate(&t, &change, &ctx());
    assert_eq!(plan.fired, ["notify"]);
    assert_eq!(plan.effects.len(), 1);
}

#[test]
fn conditions_see_the_incoming_change_not_the_changes_of_earlier_triggers() {
    let t = triggers(
        "- name: sets line\n  on: [created]\n  do: [{ set: { line: 1 } }]\n\
         - name: reacts to line\n  on: [created]\n  when: { field: line, became: 1 }\n  do: [{ set: { status: First line } }]\n",
    );
    let first = evaluate(&t, &created(ticket()), &ctx());
    assert_eq!(
        first.fired,
        ["sets line"],
        "line 1 is not part of the incoming change"
    );
    let next = first.next_change(&created(ticket())).unwrap();
    assert_eq!(next.depth, 1);
    assert_eq!(
        next.actor,
        Actor::Trigger {
            name: "sets line".into()
        }
    );
}

#[test]
fn a_field_set_back_to_where_it_started_is_not_written() {
    let t = triggers(
        "- name: there\n  on: [created]\n  do: [{ set: { status: Open } }]\n\
         - name: and back\n  on: [created]\n  do: [{ set: { status: New } }]\n",
    );
    let plan = evaluate(&t, &created(ticket()), &ctx());
    assert_eq!(plan.fired, ["there", "and back"]);
    assert!(plan.changes.is_empty());
    assert!(plan.updated.is_none());
    assert!(plan.is_noop());
}

// ---------------------------------------------------------------- effects

#[test]
fn side_effects_are_rendered_in_order_with_their_trigger_against_the_final_ticket() {
    let t = triggers(
        r#"
- name: triage
  on: [created]
  do:
    - set: { status: Open }
    - comment: { template: "Triaged {{ ticket.key }} as {{ ticket.priority }} ({{ trigger }})" }
    - event: { detail_type: TicketTriaged }
- name: acknowledge
  on: [created]
  do:
    - set: { priority: high }
    - comment: { public: true, template: "Hello {{ ticket.requester.name }}, status {{ ticket.status }}" }
    - email: { to: requester, template: "We are on {{ ticket.summary }}" }
"#,
    );
    let plan = evaluate(&t, &created(ticket()), &ctx());
    let order: Vec<(&str, &str)> = plan
        .effects
        .iter()
        .map(|e| {
            let kind = match e.effect {
                Effect::Comment { .. } => "comment",
                Effect::Email { .. } => "email",
                Effect::Webhook { .. } => "webhook",
                Effect::Event { .. } => "event",
            };
            (e.trigger.as_str(), kind)
        })
        .collect();
    assert_eq!(
        order,
        [
            ("triage", "comment"),
            ("triage", "event"),
            ("acknowledge", "comment"),
            ("acknowledge", "email")
        ]
    );
    assert_eq!(
        plan.effects[0].effect,
        Effect::Comment {
            public: false,
            body: "Triaged SUP-1 as high (triage)".into()
        },
        "templates see the ticket as the whole evaluation leaves it"
    );
    assert_eq!(
        plan.effects[2].effect,
        Effect::Comment {
            public: true,
            body: "Hello Casey Customer, status Open".into()
        }
    );
    assert_eq!(
        plan.effects[3].effect,
        Effect::Email {
            to: "customer@example.org".into(),
            subject: "[SUP-1] Invoice is wrong".into(),
            body: "We are on Invoice is wrong".into()
        }
    );
    let Effect::Event {
        detail_type,
        detail,
    } = &plan.effects[1].effect
    else {
        panic!("an event")
    };
    assert_eq!(detail_type, "TicketTriaged");
    assert_eq!(detail["ticket"], "SUP-1");
    assert_eq!(detail["status"], "Open");
}

#[test]
fn effect_ids_are_the_same_for_the_same_change_and_differ_per_action() {
    let t = triggers(
        "- name: twice\n  on: [comment_added]\n  do:\n    - comment: { template: one }\n    - comment: { template: two }\n",
    );
    let change = commented(&ticket(), true, customer());
    let a = evaluate(&t, &change, &ctx());
    let b = evaluate(&t, &change, &ctx());
    assert_eq!(a, b, "evaluation is deterministic");
    assert_eq!(a.effects[0].id, "SUP-1/v1/e2001/twice/0");
    assert_eq!(a.effects[1].id, "SUP-1/v1/e2001/twice/1");
}

#[test]
fn mail_goes_to_the_assignee_or_an_address_and_a_missing_address_is_a_problem() {
    let t = triggers(
        "- name: tell\n  on: [fields_changed]\n  do:\n    - email: { to: assignee, template: \"{{ ticket.key }} is yours\", subject: \"Assigned: {{ ticket.key }}\" }\n    - email: { to: boss@example.com, template: fyi }\n",
    );
    let plan = evaluate(
        &t,
        &edited(&ticket(), |t| t.assignee = Some("anna".into())),
        &ctx(),
    );
    assert_eq!(
        plan.effects[0].effect,
        Effect::Email {
            to: "anna@example.com".into(),
            subject: "Assigned: SUP-1".into(),
            body: "SUP-1 is yours".into()
        }
    );
    assert!(
        matches!(&plan.effects[1].effect, Effect::Email { to, .. } if to == "boss@example.com")
    );

    let plan = evaluate(
        &t,
        &edited(&ticket(), |t| t.assignee = Some("zed".into())),
        &ctx(),
    );
    assert_eq!(plan.effects.len(), 1);
    assert!(
        plan.problems[0]
            .message
            .contains("\"zed\" has no configured address")
    );
}

#[test]
fn a_template_key_naming_a_configured_template_uses_it() {
    let mut ctx = ctx();
    ctx.templates.insert(
        "resolved".into(),
        MailTemplate {
            subject: "Solved: {{ ticket.summary }}".into(),
            body: "Your request {{ ticket.key }} is resolved.".into(),
        },
    );
    let t = triggers(
        "- name: bye\n  on: [fields_changed]\n  when: { field: status, became: Resolved }\n  do: [{ email: { to: requester, template: resolved } }]\n",
    );
    let plan = evaluate(
        &t,
        &edited(&ticket(), |t| t.status = "Resolved".into()),
        &ctx,
    );
    assert_eq!(
        plan.effects[0].effect,
        Effect::Email {
            to: "customer@example.org".into(),
            subject: "Solved: Invoice is wrong".into(),
            body: "Your request SUP-1 is resolved.".into()
        }
    );
}

#[test]
fn slack_and_telegram_webhooks_get_ready_message_bodies() {
    let env = |name: &str| (name == "TELEGRAM_CHAT_ID").then(|| "-1001234".to_owned());
    let ctx = ctx().with_env(&env);
    let t = triggers(
        r#"
- name: chat
  on: [fields_changed]
  do:
    - webhook: { url_env: SLACK_URL, format: slack, text: "{{ ticket.key }} is {{ ticket.status }}" }
    - webhook: { url_env: TELEGRAM_WEBHOOK_URL, format: telegram, chat_id_env: TELEGRAM_CHAT_ID, parse_mode: HTML, text: "<b>{{ ticket.key }}</b>: {{ old.status }} -> {{ ticket.status }}" }
    - webhook: { url: "https://bots.example.com/hook", format: telegram, chat_id: "@support", text: "{{ actor.login }}" }
"#,
    );
    let plan = evaluate(&t, &edited(&ticket(), |t| t.status = "Open".into()), &ctx);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    assert_eq!(
        plan.effects[0].effect,
        Effect::Webhook {
            target: WebhookTarget::Env("SLACK_URL".into()),
            format: WebhookFormat::Slack,
            body: json!({"text": "SUP-1 is Open"})
        }
    );
    assert_eq!(
        plan.effects[1].effect,
        Effect::Webhook {
            target: WebhookTarget::Env("TELEGRAM_WEBHOOK_URL".into()),
            format: WebhookFormat::Telegram,
            body: json!({"chat_id": -1001234, "text": "<b>SUP-1</b>: New -> Open", "parse_mode": "HTML"})
        }
    );
    assert_eq!(
        webhooks(&plan)[2],
        &json!({"chat_id": "@support", "text": "boris"})
    );
}

#[test]
fn a_telegram_webhook_without_its_chat_id_variable_is_a_problem_not_a_call() {
    let t = triggers(
        "- name: chat\n  on: [fields_changed]\n  do: [{ webhook: { url_env: TG, format: telegram, chat_id_env: TELEGRAM_CHAT_ID, text: hi } }]\n",
    );
    let plan = evaluate(&t, &edited(&ticket(), |t| t.status = "Open".into()), &ctx());
    assert!(plan.effects.is_empty());
    assert!(plan.problems[0].message.contains("TELEGRAM_CHAT_ID"));
}

#[test]
fn a_json_webhook_carries_the_ticket_the_old_ticket_and_the_change() {
    let t = triggers(
        "- name: crm\n  on: [fields_changed]\n  do: [{ webhook: { url: \"https://crm.example.com/hook\" } }]\n",
    );
    let plan = evaluate(&t, &edited(&ticket(), |t| t.status = "Open".into()), &ctx());
    let body = webhooks(&plan)[0];
    assert_eq!(body["trigger"], "crm");
    assert_eq!(body["ticket"]["status"], "Open");
    assert_eq!(body["old"]["status"], "New");
    assert_eq!(body["actor"], json!({"kind": "agent", "login": "boris"}));
    assert_eq!(body["events"], json!(["fields_changed"]));
    assert_eq!(body["fields"], json!(["status"]));
    assert!(body.get("text").is_none());
}

#[test]
fn a_template_that_fails_to_render_is_a_problem_and_the_rest_still_happens() {
    let t = triggers(
        "- name: broken\n  on: [created]\n  do:\n    - comment: { template: \"{{ ticket.key | nosuchfilter }}\" }\n    - set: { status: Open }\n",
    );
    let plan = evaluate(&t, &created(ticket()), &ctx());
    assert!(plan.effects.is_empty());
    assert_eq!(plan.problems.len(), 1);
    assert_eq!(field(&plan, "status"), Some(&json!("Open")));
}

// ---------------------------------------------------------------- scenario

const SUPPORT_LINES: &str = r#"
- name: Line 1 goes to First line
  on: [created, fields_changed]
  when: { field: line, became: 1 }
  do:
    - set: { status: First line }
- name: Line 2 goes to Second line
  on: [created, fields_changed]
  when: { field: line, became: 2 }
  do:
    - set: { status: Second line }
- name: Billing owner takes billing tickets
  on: [created, fields_changed]
  when: { field: components, contains: Billing, changed: true }
  do: [ { assign: component_owner } ]
- name: Tell the team about status changes
  on: [fields_changed]
  when: { field: status, changed: true }
  do: [ { webhook: { url_env: TELEGRAM_WEBHOOK_URL, format: telegram, chat_id_env: TELEGRAM_CHAT_ID, text: "{{ ticket.key }}: {{ old.status }} -> {{ ticket.status }}" } } ]
"#;

#[test]
fn support_lines_a_form_ticket_on_line_1_with_billing_gets_first_line_and_the_billing_owner_in_one_plan()
 {
    let t = triggers(SUPPORT_LINES);
    let mut form_ticket = ticket();
    form_ticket.line = Some(1);
    form_ticket.components = vec!["Billing".into()];
    let plan = evaluate(&t, &created(form_ticket), &ctx());
    assert_eq!(
        plan.fired,
        [
            "Line 1 goes to First line",
            "Billing owner takes billing tickets"
        ]
    );
    assert_eq!(plan.changes.len(), 2);
    assert_eq!(field(&plan, "status"), Some(&json!("First line")));
    assert_eq!(field(&plan, "assignee"), Some(&json!("anna")));
    assert!(
        plan.effects.is_empty(),
        "a new ticket is not a status change"
    );
}

#[test]
fn support_lines_every_status_change_plans_the_telegram_message_exactly_once() {
    let env = |name: &str| (name == "TELEGRAM_CHAT_ID").then(|| "42".to_owned());
    let ctx = ctx().with_env(&env);
    let t = triggers(SUPPORT_LINES);
    let mut form_ticket = ticket();
    form_ticket.line = Some(1);
    form_ticket.components = vec!["Billing".into()];

    // The form ticket: routing at depth 0, the status change it made at depth 1.
    let plans = chain(&t, created(form_ticket), &ctx);
    assert_eq!(plans.len(), 2);
    let messages: Vec<_> = plans.iter().flat_map(webhooks).collect();
    assert_eq!(
        messages,
        [&json!({"chat_id": 42, "text": "SUP-1: New -> First line"})]
    );
    let now = plans[0].updated.clone().unwrap();

    // An agent moves it to line 2: status Second line, one message.
    let plans = chain(&t, edited(&now, |t| t.line = Some(2)), &ctx);
    assert_eq!(plans[0].fired, ["Line 2 goes to Second line"]);
    assert_eq!(field(&plans[0], "status"), Some(&json!("Second line")));
    let messages: Vec<_> = plans.iter().flat_map(webhooks).collect();
    assert_eq!(
        messages,
        [&json!({"chat_id": 42, "text": "SUP-1: First line -> Second line"})]
    );

    // An agent changes the status directly: one message, at depth 0.
    let mut now = now;
    now.status = "Second line".into();
    now.line = Some(2);
    let plans = chain(&t, edited(&now, |t| t.status = "In progress".into()), &ctx);
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].effects.len(), 1);
    assert_eq!(
        webhooks(&plans[0]),
        [&json!({"chat_id": 42, "text": "SUP-1: Second line -> In progress"})]
    );
}

// ---------------------------------------------------------------- depth

#[test]
fn two_triggers_that_undo_each_other_stop_at_the_depth_limit_with_a_recorded_reason() {
    let t = triggers(
        "- name: A takes Open tickets into work\n  on: [fields_changed]\n  when: { field: status, became: Open }\n  do: [{ set: { status: In progress } }]\n\
         - name: B sends work back to Open\n  on: [fields_changed]\n  when: { field: status, became: In progress }\n  do: [{ set: { status: Open } }]\n",
    );
    let plans = chain(&t, edited(&ticket(), |t| t.status = "Open".into()), &ctx());
    assert_eq!(plans.len(), 6, "depths 0 to 5");
    for (depth, plan) in plans.iter().enumerate() {
        assert_eq!(usize::from(plan.depth), depth);
    }
    assert!(
        plans[..5]
            .iter()
            .all(|p| p.stopped.is_none() && p.fired.len() == 1)
    );
    let last = &plans[5];
    assert!(last.fired.is_empty());
    assert!(last.changes.is_empty() && last.effects.is_empty());
    let stop = last.stopped.as_ref().unwrap();
    assert_eq!((stop.depth, stop.limit), (5, 5));
    assert_eq!(stop.would_fire, ["B sends work back to Open"]);
    assert!(stop.message().contains("depth limit 5"));
    assert!(!last.is_noop(), "a stop must still be recorded");
}

#[test]
fn the_depth_limit_is_configurable_and_a_quiet_change_at_the_limit_records_nothing() {
    let t = triggers(
        "- name: tag\n  on: [fields_changed]\n  when: { field: status, became: Open }\n  do: [{ set: { tags: { add: [x] } } }]\n",
    );
    let mut ctx = ctx();
    ctx.depth_limit = 1;
    let mut change = edited(&ticket(), |t| t.status = "Open".into());
    change.depth = 1;
    assert!(evaluate(&t, &change, &ctx).stopped.is_some());
    change.after.status = "Closed".into();
    let plan = evaluate(&t, &change, &ctx);
    assert!(plan.stopped.is_none());
    assert!(plan.is_noop());
}

// ---------------------------------------------------------------- config

const CONFIG: &str = r#"
priorities: { levels: [critical, high, normal, low], default: normal }
agents:
  anna: { name: Anna, email: anna@example.com }
  boris: { name: Boris, email: boris@example.com }
queues:
  SUP:
    name: Support
    statuses:
      - { name: New, category: new }
      - { name: Open, category: open }
      - { name: First line, category: open }
    initial_status: New
    lines: [1, 2]
    components:
      Billing: { assignee: anna }
    custom_fields:
      customer_id: { label: Customer }
"#;

fn findings(yaml: &str) -> Vec<String> {
    let config = helpdesk::config::load_str(CONFIG, "helpdesk.yaml").unwrap();
    let key = QueueKey::parse("SUP").unwrap();
    helpdesk::triggers::validate(&config, &key, &triggers(yaml))
        .into_iter()
        .map(|f| {
            format!(
                "{}: {} ({})",
                f.line.unwrap_or(0),
                f.message,
                f.hint.unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn the_example_triggers_parse_and_validate_cleanly() {
    let yaml = r#"
- name: Line 1 goes to First line
  on: [created, fields_changed]
  when: { field: line, became: 1 }
  do:
    - set: { status: First line }
- name: Billing owner takes billing tickets
  on: [created, fields_changed]
  when: { field: components, contains: Billing, changed: true }
  do: [ { assign: component_owner } ]
- name: Tell the team about status changes
  on: [fields_changed]
  when: { all: [ { field: status, changed: true }, { by: [agent, trigger] }, { not: { field: custom.customer_id, empty: true } } ] }
  do: [ { webhook: { url_env: TELEGRAM_WEBHOOK_URL, format: telegram, chat_id_env: TELEGRAM_CHAT_ID, text: "{{ ticket.key }}: {{ old.status }} -> {{ ticket.status }}" } } ]
- name: Spread the rest
  on: [created]
  when: { field: assignee, empty: true }
  do:
    - assign: { round_robin: [anna, boris], cap: 10 }
    - event: { detail_type: TicketSpread }
    - email: { to: requester, template: "Thanks" }
"#;
    assert_eq!(findings(yaml), Vec::<String>::new());
}

#[test]
fn a_condition_with_two_shapes_or_two_tests_or_no_test_is_refused_with_its_line() {
    let yaml = "- name: bad\n  on: [created]\n  when:\n    all:\n      - { field: line, equals: 1, became: 1 }\n      - { field: status }\n      - { by: [agent], comment: public }\n      - { equals: 1 }\n  do: [{ set: { line: 1 } }]\n";
    let found = findings(yaml);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("5: ") && f.contains("one value test"))
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("6: ") && f.contains("needs a test"))
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("exactly one of all, any, not, by"))
    );
    assert!(found.iter().any(|f| f.contains("need a `field`")));
}

#[test]
fn unknown_fields_statuses_agents_and_components_are_reported_with_a_suggestion() {
    let yaml = r#"
- name: typos
  on: [created]
  when: { any: [ { field: stauts, equals: New }, { field: custom.customer, empty: true }, { field: status, became: Frist line } ] }
  do:
    - set: { status: Opne, line: 3, assignee: ana, components: { add: [Biling] }, custom: { nope: 1 } }
    - assign: { least_loaded: [anna, borris] }
"#;
    let found = findings(yaml).join("\n");
    for expected in [
        "unknown field \"stauts\" (did you mean \"status\"?",
        "unknown custom field \"customer\" (did you mean \"customer_id\"?",
        "\"Frist line\" is not a status of queue SUP (did you mean \"First line\"?",
        "unknown status \"Opne\" (did you mean \"Open\"?",
        "line 3 is not a line of queue SUP",
        "unknown agent \"ana\" (did you mean \"anna\"?",
        "unknown component \"Biling\" (did you mean \"Billing\"?",
        "unknown custom field \"nope\"",
        "unknown agent \"borris\" (did you mean \"boris\"?",
    ] {
        assert!(found.contains(expected), "missing {expected:?} in\n{found}");
    }
}

#[test]
fn webhooks_names_and_templates_are_checked() {
    let yaml = r#"
- name: dup
  on: [created]
  do: [{ webhook: { format: telegram, text: "{{ ticket.key" } }]
- name: dup
  on: []
  do: [{ webhook: { url: "ftp://x", url_env: X, format: slack } }]
"#;
    let found = findings(yaml).join("\n");
    for expected in [
        "exactly one of url and url_env",
        "template does not parse",
        "needs exactly one of chat_id and chat_id_env",
        "two triggers named \"dup\"",
        "`on` is empty",
        "needs text",
    ] {
        assert!(found.contains(expected), "missing {expected:?} in\n{found}");
    }
}

#[test]
fn yaml_mistakes_in_actions_fail_to_parse_with_a_clear_message() {
    let cases = [
        (
            "- name: x\n  on: [created]\n  do: [{ sett: { status: New } }]\n",
            "sett",
        ),
        (
            "- name: x\n  on: [created]\n  do: [{ assign: everyone }]\n",
            "component_owner",
        ),
        (
            "- name: x\n  on: [created]\n  do: [{ email: { to: \"not an address\", template: hi } }]\n",
            "requester, assignee or an email address",
        ),
        ("- name: x\n  on: [opened]\n  do: []\n", "opened"),
        (
            "- name: x\n  on: [created]\n  when: { field: line, equals: [1] }\n  do: []\n",
            "empty: true",
        ),
    ];
    for (yaml, expected) in cases {
        let error = serde_saphyr::from_str::<Vec<Trigger>>(yaml)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{expected:?} not in {error}");
    }
}
