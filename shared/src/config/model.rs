//! The typed shape of `helpdesk.yaml`. Unknown keys are errors
//! (`deny_unknown_fields`); names that other parts refer to keep their
//! source location ([`Spanned`]) so broken references point at a line.

use std::collections::BTreeMap;

use serde::Deserialize;
pub use serde_saphyr::Spanned;

use crate::calendar::{Calendar, CalendarConfig};
use crate::domain::{EmailAddress, QueueKey};
use crate::triggers::Trigger;

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
    /// Business calendars by name, for SLA rules and `business_hours`
    /// trigger conditions.
    #[serde(default)]
    pub calendars: BTreeMap<String, CalendarConfig>,
    /// Named message templates that triggers refer to by name.
    #[serde(default)]
    pub templates: BTreeMap<String, MailTemplate>,
    /// The calendars built from `calendars` (holiday files read) by
    /// [`super::load()`]; empty on a config that was only deserialized.
    #[serde(skip)]
    pub built_calendars: BTreeMap<String, Calendar>,
}

impl Config {
    /// The zone whose calendar days reports count: `desk.zone`, else UTC.
    pub fn report_zone(&self) -> crate::calendar::TimeZone {
        self.desk
            .zone
            .as_ref()
            .and_then(|z| crate::calendar::TimeZone::parse(&z.value).ok())
            .unwrap_or(crate::calendar::TimeZone::UTC)
    }

    /// The built calendar called `name`.
    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.built_calendars.get(name)
    }
}

impl crate::triggers::BusinessHours for Config {
    fn is_open(&self, calendar: &str, at: chrono::DateTime<chrono::Utc>) -> Option<bool> {
        self.calendar(calendar).map(|c| c.is_open(at))
    }
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
    /// Mail settings shared by every queue.
    #[serde(default)]
    pub mail: MailSettings,
    /// The IANA zone whose calendar days reports count (default UTC).
    #[serde(default)]
    pub zone: Option<Spanned<String>>,
    /// The desk's public base URL (`https://help.example.com`), where the
    /// pages customers open from mail live (the rating page, `/csat/...`).
    #[serde(default)]
    pub public_url: Option<Spanned<String>>,
}

/// A length of time written like `10m`, `2h 30m` or `1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub std::time::Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Span).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration like 10m or 2h 30m: {e}"
            ))
        })
    }
}

impl Span {
    /// As a chrono duration.
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

/// At most `count` per `window` (fixed windows from the epoch).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// How many.
    pub count: u64,
    /// Per how long.
    pub window: Span,
}

impl RateLimit {
    /// The window `now` falls in: its number (counters are kept per
    /// window) and when it ends.
    pub fn window_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (i64, chrono::DateTime<chrono::Utc>) {
        let window = i64::try_from(self.window.0.as_secs().max(1)).unwrap_or(i64::MAX);
        let index = now.timestamp().div_euclid(window);
        let ends = index
            .checked_add(1)
            .and_then(|next| next.checked_mul(window))
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .unwrap_or(now);
        (index, ends)
    }
}

/// Limits on automatic outbound mail.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Per ticket and recipient.
    #[serde(default = "default_per_ticket")]
    pub per_ticket_recipient: RateLimit,
    /// Per recipient over all tickets.
    #[serde(default = "default_per_recipient")]
    pub per_recipient: RateLimit,
}

fn default_per_ticket() -> RateLimit {
    RateLimit {
        count: 10,
        window: Span(std::time::Duration::from_secs(600)),
    }
}
fn default_per_recipient() -> RateLimit {
    RateLimit {
        count: 30,
        window: Span(std::time::Duration::from_secs(600)),
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_ticket_recipient: default_per_ticket(),
            per_recipient: default_per_recipient(),
        }
    }
}

/// What to do with mail SES marked as spam or carrying a virus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictAction {
    /// Keep the raw message, record the reason, create nothing.
    Drop,
    /// Keep it for review (recorded, no ticket, no answer).
    Quarantine,
    /// Accept it with a tag (`spam` or `virus`), without an automatic answer.
    Tag,
}

/// SES verdict handling.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdicts {
    /// Spam verdict FAIL.
    #[serde(default = "default_spam")]
    pub spam: VerdictAction,
    /// Virus verdict FAIL.
    #[serde(default = "default_virus")]
    pub virus: VerdictAction,
}

fn default_spam() -> VerdictAction {
    VerdictAction::Quarantine
}
fn default_virus() -> VerdictAction {
    VerdictAction::Drop
}

impl Default for Verdicts {
    fn default() -> Self {
        Self {
            spam: default_spam(),
            virus: default_virus(),
        }
    }
}

/// Mail settings of the desk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// Display name on outbound mail.
    #[serde(default)]
    pub from_name: Option<String>,
    /// The domain of the Message-IDs we create (mail carrying it is ours).
    #[serde(default = "default_message_id_domain")]
    pub message_id_domain: String,
    /// The value of our loop header `X-Helpdesk-Loop`.
    #[serde(default = "default_instance")]
    pub instance: String,
    /// The environment variable holding the Reply-To token secret.
    #[serde(default = "default_token_env")]
    pub reply_token_secret_env: String,
    /// Largest attachment kept, in bytes.
    #[serde(default = "default_mail_attachment")]
    pub max_attachment_bytes: usize,
    /// Limits on automatic answers.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// SES spam and virus verdicts.
    #[serde(default)]
    pub verdicts: Verdicts,
    /// The `authserv-id` under which the local MTA writes the
    /// `Authentication-Results` header the mailgate and `POST /mail` trust
    /// (SES's verdicts come with its events); none: no verdicts locally.
    #[serde(default)]
    pub trusted_authserv_id: Option<String>,
}

fn default_message_id_domain() -> String {
    "helpdesk.invalid".into()
}
fn default_instance() -> String {
    "helpdesk".into()
}
fn default_token_env() -> String {
    "HELPDESK_REPLY_TOKEN_SECRET".into()
}
fn default_mail_attachment() -> usize {
    25 * 1024 * 1024
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            from_name: None,
            message_id_domain: default_message_id_domain(),
            instance: default_instance(),
            reply_token_secret_env: default_token_env(),
            max_attachment_bytes: default_mail_attachment(),
            rate_limits: RateLimits::default(),
            verdicts: Verdicts::default(),
            trusted_authserv_id: None,
        }
    }
}

/// A mail template: minijinja subject and body over `ticket`, `requester`
/// and `desk`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailTemplate {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// What mail naming a ticket (by Message-ID or subject key) does when its
/// sender is not on the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrangerPolicy {
    /// Add the sender as a participant.
    Accept,
    /// Open a new ticket (the key may be a guess).
    #[default]
    NewTicket,
    /// Keep the mail for review, create nothing.
    Hold,
}

/// What mail whose From fails authentication does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnauthenticatedPolicy {
    /// Take it as if it had passed.
    Accept,
    /// Its sender is a stranger to every ticket, whatever it names (the
    /// stranger policy applies).
    #[default]
    Stranger,
    /// Keep it for an agent to look at; create nothing.
    Hold,
}

/// What a reply to a resolved or closed ticket does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedPolicy {
    /// Reopen it (counting a reopen).
    #[default]
    Reopen,
    /// Open a new ticket that links to it.
    NewLinked,
    /// Reopen within `days` of resolution, otherwise open a new linked one.
    NewAfterDays,
}

/// Per-queue mail behaviour.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMail {
    /// Send the acknowledgement on a new ticket from mail.
    #[serde(default)]
    pub acknowledge: bool,
    /// The acknowledgement.
    #[serde(default)]
    pub acknowledgement: Option<MailTemplate>,
    /// Mail from someone not on the ticket (not the requester, a
    /// participant or another address of the requester's contact) that
    /// names it by a Message-ID or a key in the subject; the signed Reply-To
    /// token is the only signal that vouches for a new address.
    #[serde(default)]
    pub subject_key_from_stranger: StrangerPolicy,
    /// Mail whose From fails authentication (DMARC fails, or SPF and DKIM
    /// both do).
    #[serde(default)]
    pub unauthenticated: UnauthenticatedPolicy,
    /// A reply to a resolved or closed ticket.
    #[serde(default)]
    pub closed_reply: ClosedPolicy,
    /// Days for `new_after_days`.
    #[serde(default)]
    pub closed_reply_days: Option<u32>,
    /// The status a reopened ticket gets (default: the first `open` status).
    #[serde(default)]
    pub reopen_status: Option<Spanned<String>>,
    /// Sender patterns allowed to write (`*@company.com`); empty: everyone.
    #[serde(default)]
    pub allowed_senders: Vec<String>,
    /// The answer to a refused sender; none: silence.
    #[serde(default)]
    pub rejection: Option<MailTemplate>,
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

/// A team member. The queues an agent works in are those whose `team`
/// names them (an admin works in every queue).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Full name.
    pub name: String,
    /// Work address.
    pub email: EmailAddress,
    /// What the agent may do.
    #[serde(default)]
    pub role: Role,
    /// Appended to their public answers in the mail, below `-- `.
    #[serde(default)]
    pub signature: Option<String>,
}

/// An agent's role: what they may do in the queues they work in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works tickets: takes unassigned ones, changes and answers them.
    #[default]
    Agent,
    /// Also reassigns tickets that someone else holds.
    Lead,
    /// A lead of every queue.
    Admin,
}

impl Role {
    /// Its name in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Lead => "lead",
            Self::Admin => "admin",
        }
    }
}

impl Config {
    /// Whether agent `login` works in `queue`: named in its team, or an
    /// admin.
    pub fn works_in(&self, login: &str, queue: &QueueKey) -> bool {
        let Some(agent) = self.agents.get(login) else {
            return false;
        };
        agent.role == Role::Admin
            || self
                .queues
                .get(queue)
                .is_some_and(|q| q.team.iter().any(|m| m.value == login))
    }

    /// The queues agent `login` works in, in key order.
    pub fn queues_of(&self, login: &str) -> Vec<&QueueKey> {
        self.queues
            .keys()
            .filter(|key| self.works_in(login, key))
            .collect()
    }
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

impl StatusCategory {
    /// The name as configured and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Open => "open",
            Self::Waiting => "waiting",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    /// Resolved or closed: the work is done (until a reopen).
    pub fn is_done(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed)
    }
}

/// What agents may add to a closed ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedComments {
    /// Public answers and internal notes.
    Any,
    /// Internal notes only: a public answer needs the ticket reopened.
    #[default]
    Internal,
    /// Nothing: the ticket is archived.
    None,
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
    /// One of the field's `options`.
    Select,
}

impl CustomFieldType {
    /// Its name in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Select => "select",
        }
    }
}

/// A custom field of a queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomField {
    /// Its label (where it is, for findings about the field).
    pub label: Spanned<String>,
    /// Its type.
    #[serde(rename = "type", default = "default_custom_type")]
    pub field_type: CustomFieldType,
    /// The values a `select` field takes.
    #[serde(default)]
    pub options: Vec<String>,
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
    /// Addresses that forward mail to us (a group alias, another system):
    /// never participants, never a reason for a second ticket.
    #[serde(default)]
    pub forwarding_addresses: Vec<EmailAddress>,
    /// Mail behaviour.
    #[serde(default)]
    pub mail: QueueMail,
    /// Statuses in workflow order.
    pub statuses: Vec<Status>,
    /// The status of a new ticket.
    pub initial_status: Spanned<String>,
    /// Support lines, such as `[1, 2, 3]`.
    #[serde(default)]
    pub lines: Vec<u8>,
    /// What agents may add to a ticket in a `closed` status (default:
    /// internal notes only; reopen it to answer the customer).
    #[serde(default)]
    pub closed_comments: ClosedComments,
    /// Logins of the queue's team.
    #[serde(default)]
    pub team: Vec<Spanned<String>>,
    /// Components by name.
    #[serde(default)]
    pub components: BTreeMap<String, Component>,
    /// Custom fields by id.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, CustomField>,
    /// Rules that react to ticket changes, in the order they run.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// SLA rules: timers over business calendars.
    #[serde(default)]
    pub sla: Vec<crate::sla::SlaRule>,
    /// The calendar whose business time reports measure the queue's
    /// response times and time in status by (default: around the clock).
    #[serde(default)]
    pub calendar: Option<Spanned<String>>,

    /// Asking requesters to rate the help once their ticket is resolved.
    #[serde(default)]
    pub csat: Option<Csat>,
}

/// A queue's satisfaction survey: when a ticket enters one of `on`, its
/// requester gets one mail (after `delay`, if the ticket is still in such
/// a status then) with a link per score to the desk's rating page. Never
/// for tickets opened by automatic mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Csat {
    /// The statuses whose entry asks, such as `[Resolved]`.
    pub on: Vec<Spanned<String>>,
    /// How long after entering one the mail goes out (default: at once).
    #[serde(default)]
    pub delay: Option<Span>,
    /// The answers offered: `good_bad` (default) or `five` (1 to 5).
    #[serde(default)]
    pub scale: crate::domain::Scale,
    /// How long the links work after the mail went out (default 30 days).
    #[serde(default = "default_csat_expiry")]
    pub expires: Span,
}

fn default_csat_expiry() -> Span {
    Span(std::time::Duration::from_secs(30 * 24 * 3600))
}

impl Csat {
    /// Whether entering `status` asks.
    pub fn asks_on(&self, status: &str) -> bool {
        self.on.iter().any(|s| s.value == status)
    }
}

impl Queue {
    /// Whether `name` is one of the queue's statuses.
    pub fn has_status(&self, name: &str) -> bool {
        self.statuses.iter().any(|s| s.name == name)
    }

    /// What status `name` means, when the queue has it.
    pub fn category_of(&self, name: &str) -> Option<StatusCategory> {
        self.statuses
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.category)
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

/// The most a form's files may add up to (and so the most one file may
/// be): a synchronous Lambda request carries at most 6 MB, and API Gateway
/// hands the function a multipart body in base64, 4 bytes for every 3, so
/// 4.5 MiB of body; 4 MiB of files leaves room for the answers, the MIME
/// framing and the rest of the event. `helpdesk config check` refuses more.
pub const MAX_FORM_UPLOAD_BYTES: usize = 4 * 1024 * 1024;

fn default_max_file() -> usize {
    MAX_FORM_UPLOAD_BYTES
}
fn default_max_total() -> usize {
    MAX_FORM_UPLOAD_BYTES
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
    /// How many posts the form takes per client and per requester address
    /// (none: no limit).
    #[serde(default)]
    pub rate_limit: FormRateLimit,
}

/// A form's rate limits; a post over one is answered 429 with
/// `Retry-After`, and nothing is stored.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormRateLimit {
    /// Posts per client address (the HTTP API's source IP, the peer of
    /// `helpdesk serve`). Not applied to signed deliveries: a form
    /// provider posts every customer's submission from its own addresses.
    #[serde(default)]
    pub per_client: Option<RateLimit>,
    /// Submissions per requester address (after the answers are mapped).
    #[serde(default)]
    pub per_email: Option<RateLimit>,
}

impl Config {
    /// The idempotency retention.
    pub fn idempotency_retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.desk.idempotency_days.unwrap_or(7)))
    }
}
