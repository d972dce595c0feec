//! The typed shape of a queue's triggers in `helpdesk.yaml`
//! (`queues.SUP.triggers: [...]`). Unknown keys are errors; names that must
//! resolve (fields, statuses, agents, components) keep their source location
//! so [`super::validate()`] can point at a line.
//!
//! Conditions and assignment groups are structs with optional keys, like the
//! form routing [`crate::config::Condition`]: serde accepts any combination
//! and [`super::validate()`] says clearly which combination is wrong.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::config::Spanned;
use crate::domain::EmailAddress;

/// One trigger: on one of `on`'s events, when `when` holds, do `do`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Unique within the queue; shown on the timeline and in the plan.
    pub name: Spanned<String>,
    /// The events it reacts to; a change with none of them never fires it.
    pub on: Vec<EventKind>,
    /// The condition; none: every change with a matching event fires it.
    #[serde(default)]
    pub when: Option<Condition>,
    /// The actions, in order.
    #[serde(rename = "do")]
    pub actions: Vec<Action>,
}

impl Trigger {
    /// The trigger's name.
    pub fn name(&self) -> &str {
        &self.name.value
    }
}

/// What happened to a ticket, as a trigger's `on` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The ticket was created.
    Created,
    /// One or more fields of an existing ticket changed.
    FieldsChanged,
    /// A comment (public or internal) was added.
    CommentAdded,
    /// A mail came in on the ticket.
    EmailReceived,
    /// A mail went out from the ticket.
    EmailSent,
    /// An SLA timer reached its warning time.
    SlaWarning,
    /// An SLA timer ran out.
    SlaBreach,
    /// The requester rated the help (or changed their rating).
    RatingReceived,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 8] = [
        Self::Created,
        Self::FieldsChanged,
        Self::CommentAdded,
        Self::EmailReceived,
        Self::EmailSent,
        Self::SlaWarning,
        Self::SlaBreach,
        Self::RatingReceived,
    ];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::FieldsChanged => "fields_changed",
            Self::CommentAdded => "comment_added",
            Self::EmailReceived => "email_received",
            Self::EmailSent => "email_sent",
            Self::SlaWarning => "sla_warning",
            Self::SlaBreach => "sla_breach",
            Self::RatingReceived => "rating_received",
        }
    }

    /// A one-bit mask, for fast membership tests.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Who made a change, as a `by` condition names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A team member.
    Agent,
    /// The requester or another customer.
    Customer,
    /// The helpdesk itself (routing, SLA).
    System,
    /// A trigger (a change made by an earlier evaluation).
    Trigger,
}

impl ActorKind {
    /// The kind of `actor`.
    pub fn of(actor: &crate::domain::Actor) -> Self {
        use crate::domain::Actor;
        match actor {
            Actor::Agent { .. } => Self::Agent,
            Actor::Customer { .. } => Self::Customer,
            Actor::System => Self::System,
            Actor::Trigger { .. } => Self::Trigger,
        }
    }
}

/// Which comments a `comment` condition accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentVisibility {
    /// Comments sent to the customer.
    Public,
    /// Comments only the team sees.
    Internal,
}

/// A value in a condition. YAML text, numbers and booleans are all accepted
/// and compared as text (`became: 1` matches line 1), ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl Scalar {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a text, a number or true/false (to test for no value, use `empty: true`)",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

/// A condition on a change. Exactly one of: `all`, `any`, `not`, `by`,
/// `comment`, `business_hours`, or `field` with exactly one value test
/// (`equals`, `not_equals`, `in`, `contains`, `empty`, `became`, or
/// `changed_from` and/or `changed_to`), optionally together with `changed`,
/// or with `changed` alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Every sub-condition holds.
    #[serde(default)]
    pub all: Option<Vec<Condition>>,
    /// At least one sub-condition holds.
    #[serde(default)]
    pub any: Option<Vec<Condition>>,
    /// The sub-condition does not hold.
    #[serde(default)]
    pub not: Option<Box<Condition>>,
    /// The change was made by one of these.
    #[serde(default)]
    pub by: Option<Vec<ActorKind>>,
    /// The change adds a comment of this visibility.
    #[serde(default)]
    pub comment: Option<CommentVisibility>,
    /// The change happened inside (or outside) a calendar's working hours.
    #[serde(default)]
    pub business_hours: Option<BusinessHoursTest>,
    /// The ticket field tested: `status`, `line`, `components`,
    /// `custom.customer_id`, ... (see [`super::field::FIELD_NAMES`]).
    #[serde(default)]
    pub field: Option<Spanned<String>>,
    /// The value after the change equals this (lists: contain it).
    #[serde(default)]
    pub equals: Option<Scalar>,
    /// The value after the change does not equal this (lists: lack it).
    #[serde(default)]
    pub not_equals: Option<Scalar>,
    /// The value after the change is one of these (lists: share one).
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Scalar>>,
    /// The value after the change contains this text (lists: this element).
    #[serde(default)]
    pub contains: Option<Scalar>,
    /// The value after the change is empty (`true`) or not (`false`).
    #[serde(default)]
    pub empty: Option<bool>,
    /// The value now equals this and did not before the change (lists: the
    /// element was added).
    #[serde(default)]
    pub became: Option<Scalar>,
    /// The value equalled this before the change and does not now.
    #[serde(default)]
    pub changed_from: Option<Scalar>,
    /// The value equals this now and did not before the change.
    #[serde(default)]
    pub changed_to: Option<Scalar>,
    /// The value changed at all (`true`) or did not (`false`).
    #[serde(default)]
    pub changed: Option<bool>,
}

/// A `business_hours` condition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursTest {
    /// The calendar's name.
    pub calendar: Spanned<String>,
    /// Holds inside working hours (`true`, the default) or outside (`false`).
    #[serde(default = "yes")]
    pub inside: bool,
}

fn yes() -> bool {
    true
}

/// One action of a trigger: a YAML map with exactly one key.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Set ticket fields.
    Set(Box<SetFields>),
    /// Assign the ticket.
    Assign(Assign),
    /// Add a comment.
    Comment(CommentAction),
    /// Send an email.
    Email(EmailAction),
    /// Call a webhook.
    Webhook(WebhookAction),
    /// Publish an event (EventBridge; locally the events log).
    Event(EventAction),
}

/// Field changes of a `set` action. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFields {
    /// One of the queue's statuses.
    #[serde(default)]
    pub status: Option<Spanned<String>>,
    /// One of the queue's lines.
    #[serde(default)]
    pub line: Option<Spanned<u8>>,
    /// One of the priority levels.
    #[serde(default)]
    pub priority: Option<Spanned<String>>,
    /// An agent's login.
    #[serde(default)]
    pub assignee: Option<Spanned<String>>,
    /// Components to add and remove.
    #[serde(default)]
    pub components: Option<ListEdit>,
    /// Tags to add and remove.
    #[serde(default)]
    pub tags: Option<ListEdit>,
    /// Custom field id -> new value (`null` clears it).
    #[serde(default)]
    pub custom: BTreeMap<String, serde_json::Value>,
    /// Fields to empty: `assignee`, `line`, `resolution`, `components`,
    /// `tags`, `custom.ID`.
    #[serde(default)]
    pub clear: Vec<Spanned<String>>,
}

/// Additions to and removals from a list field. Removals apply first.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEdit {
    /// Elements to add (kept once).
    #[serde(default)]
    pub add: Vec<Spanned<String>>,
    /// Elements to remove (ignoring case).
    #[serde(default)]
    pub remove: Vec<Spanned<String>>,
}

/// How to choose the assignee.
#[derive(Debug, Clone)]
pub enum Assign {
    /// `component_owner`: the default assignee of the first of the ticket's
    /// components that has one.
    ComponentOwner,
    /// `{round_robin: [...]}` or `{least_loaded: [...], cap: N}`: one member
    /// of a group, chosen by the store-backed part of the engine.
    Group(AssignGroup),
}

/// The map form of `assign`. Exactly one of `round_robin` and
/// `least_loaded`; `cap` is optional with either.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignGroup {
    /// Take turns among these logins.
    #[serde(default)]
    pub round_robin: Option<Vec<Spanned<String>>>,
    /// The member with the fewest tickets in work.
    #[serde(default)]
    pub least_loaded: Option<Vec<Spanned<String>>>,
    /// Most tickets in work per member (waiting tickets do not count); when
    /// everyone is at the cap, the ticket stays unassigned in the queue.
    #[serde(default)]
    pub cap: Option<u32>,
}

impl<'de> Deserialize<'de> for Assign {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AssignVisitor;
        impl<'de> Visitor<'de> for AssignVisitor {
            type Value = Assign;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`component_owner`, `{round_robin: [logins]}` or `{least_loaded: [logins], cap: N}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Assign, E> {
                if v == "component_owner" {
                    Ok(Assign::ComponentOwner)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Assign, A::Error> {
                AssignGroup::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Assign::Group)
            }
        }
        d.deserialize_any(AssignVisitor)
    }
}

/// Add a comment to the ticket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentAction {
    /// Sent to the customer (`true`) or internal (`false`, the default).
    #[serde(default)]
    pub public: bool,
    /// A template's name, or the text itself (a minijinja template).
    pub template: String,
}

/// Who an email goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The ticket's requester.
    Requester,
    /// The ticket's assignee (by the agent's configured address).
    Assignee,
    /// A fixed address.
    Address(EmailAddress),
}

impl<'de> Deserialize<'de> for Recipient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "requester" => Ok(Self::Requester),
            "assignee" => Ok(Self::Assignee),
            other => EmailAddress::parse(other).map(Self::Address).map_err(|e| {
                de::Error::custom(format!(
                    "`to` must be requester, assignee or an email address; {other:?}: {e}"
                ))
            }),
        }
    }
}

/// Send an email.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAction {
    /// `requester`, `assignee` or an address.
    pub to: Recipient,
    /// A mail template's name (subject and body), or the body itself.
    pub template: String,
    /// The subject, for an inline body (default `[{{ ticket.key }}] {{ ticket.summary }}`).
    #[serde(default)]
    pub subject: Option<String>,
}

/// The body format of a webhook call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The ticket, the change and the text as a JSON object.
    #[default]
    Json,
    /// A Slack incoming-webhook message: `{"text": ...}`.
    Slack,
    /// A Telegram Bot API `sendMessage` call: `{"chat_id", "text", "parse_mode"}`.
    Telegram,
}

/// Call a webhook. Exactly one of `url` and `url_env`; `text` or `template`
/// (required for Slack and Telegram).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookAction {
    /// The URL itself.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the URL (for URLs with secrets,
    /// such as a Telegram bot token).
    #[serde(default)]
    pub url_env: Option<String>,
    /// The body format.
    #[serde(default)]
    pub format: WebhookFormat,
    /// The message text, a minijinja template.
    #[serde(default)]
    pub text: Option<String>,
    /// A template's name, or the text itself.
    #[serde(default)]
    pub template: Option<String>,
    /// Telegram: the chat id.
    #[serde(default)]
    pub chat_id: Option<Scalar>,
    /// Telegram: the environment variable holding the chat id.
    #[serde(default)]
    pub chat_id_env: Option<String>,
    /// Telegram: `HTML`, `MarkdownV2` or `Markdown`; none: plain text.
    #[serde(default)]
    pub parse_mode: Option<String>,
}

/// Publish an event on the stack's bus.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventAction {
    /// The EventBridge `DetailType`, such as `TicketEscalated`.
    pub detail_type: String,
}
