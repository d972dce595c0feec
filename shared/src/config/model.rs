//! The typed shape of `helpdesk.yaml`. Unknown keys are errors
//! (`deny_unknown_fields`); names that other parts refer to keep their
//! source location ([`Spanned`]) so broken references point at a line.

use std::collections::BTreeMap;

use serde::Deserialize;
pub use serde_saphyr::Spanned;

use crate::domain::{EmailAddress, QueueKey};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The desk's own settings.
    #[serde(default)]
    pub desk: Desk,
    /// Priority levels, most urgent first.
    pub priorities: Priorities,
    /// Team members by login.
    #[serde(default)]
    pub agents: BTreeMap<String, Agent>,
    /// Queues by key.
    pub queues: BTreeMap<QueueKey, Queue>,
    /// Web forms by id (the `{form_id}` in `POST /forms/{form_id}`).
    #[serde(default)]
    pub forms: BTreeMap<String, Form>,
}

/// The desk's own settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desk {
    /// The company's name as shown to customers.
    #[serde(default)]
    pub name: Option<String>,
    /// How long idempotency records are kept, in days (default 7).
    #[serde(default)]
    pub idempotency_days: Option<u32>,
}

/// Priority levels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Priorities {
    /// The levels, most urgent first, such as `[critical, high, normal, low]`.
    pub levels: Vec<String>,
    /// The level a ticket gets when nothing sets one.
    pub default: Spanned<String>,
}

/// A team member.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Full name.
    pub name: String,
    /// Work address.
    pub email: EmailAddress,
}

/// What a status means for reports and timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCategory {
    /// Not yet looked at.
    New,
    /// Being worked on.
    Open,
    /// Waiting for the customer.
    Waiting,
    /// Solved, may still be reopened.
    Resolved,
    /// Done.
    Closed,
}

/// One status of a queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// Its name, such as `First line`.
    pub name: String,
    /// What it means.
    pub category: StatusCategory,
}

/// A component (topic) of a queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Who takes its tickets by default.
    #[serde(default)]
    pub assignee: Option<Spanned<String>>,
    /// What it covers.
    #[serde(default)]
    pub description: Option<String>,
}

/// The type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    /// Free text.
    Text,
    /// A number.
    Number,
    /// A date or date-time as text.
    Date,
}

/// A custom field of a queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomField {
    /// Its label.
    pub label: String,
    /// Its type.
    #[serde(rename = "type", default = "default_custom_type")]
    pub field_type: CustomFieldType,
}

fn default_custom_type() -> CustomFieldType {
    CustomFieldType::Text
}

/// A queue: one team's tickets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Human name.
    pub name: String,
    /// Support addresses that feed this queue.
    #[serde(default)]
    pub addresses: Vec<EmailAddress>,
    /// Statuses in workflow order.
    pub statuses: Vec<Status>,
    /// The status of a new ticket.
    pub initial_status: Spanned<String>,
    /// Support lines, such as `[1, 2, 3]`.
    #[serde(default)]
    pub lines: Vec<u8>,
    /// Logins of the queue's team.
    #[serde(default)]
    pub team: Vec<Spanned<String>>,
    /// Components by name.
    #[serde(default)]
    pub components: BTreeMap<String, Component>,
    /// Custom fields by id.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, CustomField>,
}

impl Queue {
    /// Whether `name` is one of the queue's statuses.
    pub fn has_status(&self, name: &str) -> bool {
        self.statuses.iter().any(|s| s.name == name)
    }
}

/// The type of a form field, which decides how its answer is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Long text.
    Textarea,
    /// An email address.
    Email,
    /// One of `options`.
    Choice,
    /// A number.
    Number,
}

/// One question of a form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// How the answer is checked.
    #[serde(rename = "type", default = "default_field_type")]
    pub field_type: FieldType,
    /// A submission without it is refused.
    #[serde(default)]
    pub required: bool,
    /// Longest accepted answer in characters (default 200 for text, 20000 for textarea).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Allowed answers for `choice`.
    #[serde(default)]
    pub options: Vec<String>,
    /// Other names the provider may use for this question: a Typeform field
    /// ref or id, a Tally key or label, a Jotform `q3_name` or label.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Shown in the ticket description.
    #[serde(default)]
    pub label: Option<String>,
}

fn default_field_type() -> FieldType {
    FieldType::Text
}

impl FormField {
    /// The longest accepted answer.
    pub fn max_len(&self) -> usize {
        self.max_length.unwrap_or(match self.field_type {
            FieldType::Textarea => 20_000,
            _ => 200,
        })
    }
}

/// How answers become ticket fields. A value naming a field takes that
/// answer; a value containing `{{` is a template over the answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormMapping {
    /// The ticket's summary.
    pub summary: Spanned<String>,
    /// The ticket's description; by default every answer, labelled.
    #[serde(default)]
    pub description: Option<Spanned<String>>,
    /// The requester's address; a form without one makes tickets with no
    /// contact (nobody to answer by mail).
    #[serde(default)]
    pub requester_email: Option<Spanned<String>>,
    /// The requester's name.
    #[serde(default)]
    pub requester_name: Option<Spanned<String>>,
    /// Custom field id -> field or template.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, Spanned<String>>,
    /// Fields whose answers are component names.
    #[serde(default)]
    pub components: Option<Spanned<String>>,
    /// A field whose answer is a priority level.
    #[serde(default)]
    pub priority: Option<Spanned<String>>,
}

/// A condition on the answers. Exactly one of: `all`, `any`, `not`, or
/// `field` with one test (`equals`, `not_equals`, `in`, `contains`, `empty`).
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
    /// The form field tested.
    #[serde(default)]
    pub field: Option<Spanned<String>>,
    /// The answer equals this (case-insensitive).
    #[serde(default)]
    pub equals: Option<String>,
    /// The answer differs from this (case-insensitive).
    #[serde(default)]
    pub not_equals: Option<String>,
    /// The answer is one of these (case-insensitive).
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<String>>,
    /// The answer contains this text (case-insensitive).
    #[serde(default)]
    pub contains: Option<String>,
    /// The answer is empty (`true`) or not (`false`).
    #[serde(default)]
    pub empty: Option<bool>,
}

/// What a routing rule sets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingAction {
    /// Support line.
    #[serde(default)]
    pub line: Option<Spanned<u8>>,
    /// Assignee login.
    #[serde(default)]
    pub assignee: Option<Spanned<String>>,
    /// Components to add.
    #[serde(default)]
    pub components: Vec<Spanned<String>>,
    /// Priority level.
    #[serde(default)]
    pub priority: Option<Spanned<String>>,
    /// Tags to add.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One routing rule: when the condition holds, apply the action. Rules run
/// in order; each matching rule applies, a later one overriding single
/// values set by an earlier one, until a matching rule says `stop`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// Shown on the timeline.
    pub name: String,
    /// When it applies.
    pub when: Condition,
    /// What it sets.
    pub set: RoutingAction,
    /// Stop evaluating later rules when this one matched.
    #[serde(default)]
    pub stop: bool,
}

/// Signature schemes for form webhooks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    /// Which header and format.
    pub scheme: crate::forms::signature::Scheme,
    /// The environment variable holding the shared secret (secrets stay out
    /// of git).
    pub secret_env: String,
}

/// Upload limits of a form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentLimits {
    /// Largest single file in bytes.
    #[serde(default = "default_max_file")]
    pub max_file_bytes: usize,
    /// Largest total of all files in bytes.
    #[serde(default = "default_max_total")]
    pub max_total_bytes: usize,
    /// Most files in one submission.
    #[serde(default = "default_max_files")]
    pub max_files: usize,
}

fn default_max_file() -> usize {
    10 * 1024 * 1024
}
fn default_max_total() -> usize {
    20 * 1024 * 1024
}
fn default_max_files() -> usize {
    10
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: default_max_file(),
            max_total_bytes: default_max_total(),
            max_files: default_max_files(),
        }
    }
}

/// A web form or a form provider's webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// The queue its tickets go to.
    pub queue: Spanned<String>,
    /// Human title.
    #[serde(default)]
    pub title: Option<String>,
    /// Questions by id.
    pub fields: BTreeMap<String, FormField>,
    /// How answers become ticket fields.
    pub map: FormMapping,
    /// Routing rules in order.
    #[serde(default)]
    pub routing: Vec<RoutingRule>,
    /// Webhook signature check; none for plain browser forms.
    #[serde(default)]
    pub signature: Option<SignatureConfig>,
    /// Origins allowed to post from a browser (CORS); empty means none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where a browser goes after a plain HTML form post.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// A field that humans leave empty; a filled one marks a bot.
    #[serde(default)]
    pub honeypot: Option<String>,
    /// Upload limits.
    #[serde(default)]
    pub attachments: AttachmentLimits,
}

impl Config {
    /// The idempotency retention.
    pub fn idempotency_retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.desk.idempotency_days.unwrap_or(7)))
    }
}
