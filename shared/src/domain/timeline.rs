//! The timeline: every change to a ticket is an entry, in order. Reports and
//! SLA timers are derived from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bounds::BlobRef;
use super::ids::{EmailAddress, TicketKey};
use super::satisfaction::Score;
use super::sla::SlaEventKind;
use super::ticket::Channel;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The requester or another customer.
    Customer {
        /// Their address.
        email: EmailAddress,
    },
    /// A team member.
    Agent {
        /// Their login.
        login: String,
        /// How they were signed in, when it was through the API
        /// (`token:<label>`, `session`, `jwt`) or the `helpdesk` command
        /// (`cli`): the audit trail of who made the change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    /// The helpdesk itself (routing, SLA).
    System,
    /// A trigger rule.
    Trigger {
        /// The trigger's name.
        name: String,
    },
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The ticket came into being.
    Created {
        /// Where it came from.
        channel: Channel,
    },
    /// A form submission, with every answer as received.
    FormSubmitted {
        /// The form's id in the config.
        form: String,
        /// The provider's submission id, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        submission_id: Option<String>,
        /// Answers by question id, each cut to [`super::bounds::ANSWER_INLINE`]
        /// bytes and all to [`super::bounds::ANSWERS_INLINE`].
        answers: BTreeMap<String, String>,
        /// Where every answer is kept whole (a JSON object) when some were
        /// cut or left out above.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answers_blob: Option<BlobRef>,
        /// Names of the routing rules that matched, in order.
        #[serde(default)]
        routing_rules: Vec<String>,
        /// The answers no field of the form took, by their names as
        /// delivered (at most 50): a mapping that names none of a
        /// provider's answers shows here.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unmatched: Vec<String>,
    },
    /// A comment.
    Comment {
        /// Public comments are sent to the customer; internal ones are not.
        public: bool,
        /// The text, up to [`super::bounds::TEXT_INLINE`] bytes.
        body: String,
        /// Where the whole text is kept when it is longer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body_blob: Option<BlobRef>,
    },
    /// A field changed.
    FieldChanged {
        /// The field's name (`status`, `assignee`, `custom.customer_id`, ...).
        field: String,
        /// The value before.
        old: serde_json::Value,
        /// The value after.
        new: serde_json::Value,
    },
    /// A file was attached.
    AttachmentAdded {
        /// The file name as given.
        file_name: String,
        /// Its media type.
        content_type: String,
        /// Its size in bytes.
        size: u64,
        /// Where it is stored (an S3 key or a relative path).
        blob_key: String,
    },
    /// A mail came in. The raw message is kept at `raw_key`.
    EmailIn {
        /// Its Message-ID.
        message_id: String,
        /// The sender.
        from: String,
        /// The subject, up to [`super::bounds::SUBJECT_INLINE`] bytes.
        subject: String,
        /// Where the whole subject is kept when it is longer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject_blob: Option<BlobRef>,
        /// Where the raw message is stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw_key: Option<String>,
        /// The full text, quotes and signature included, up to
        /// [`super::bounds::TEXT_INLINE`] bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Where the whole text is kept when it is longer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text_blob: Option<BlobRef>,
        /// The HTML body, sanitized, when the mail had one of at most
        /// [`super::bounds::HTML_INLINE`] bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        html: Option<String>,
        /// Where a longer HTML body is kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        html_blob: Option<BlobRef>,
        /// Parts left out (over a limit), each with the reason; at most
        /// [`super::bounds::SKIPPED_LISTED`].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skipped: Vec<String>,
        /// How many more parts were left out than `skipped` lists.
        #[serde(default, skip_serializing_if = "is_zero")]
        skipped_unlisted: u64,
        /// How many of its Cc addresses did not become participants because
        /// the ticket has [`super::bounds::PARTICIPANTS_MAX`].
        #[serde(default, skip_serializing_if = "is_zero")]
        participants_left_out: u64,
        /// Why it counts as automatic mail (empty: a person wrote it).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        automatic: Vec<String>,
        /// The receiving server's SPF, DKIM and DMARC verdicts, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authentication: Option<super::Authentication>,
    },
    /// A mail went out.
    EmailOut {
        /// Its Message-ID.
        message_id: String,
        /// The recipients.
        to: Vec<String>,
        /// The subject.
        subject: String,
        /// Sent by the helpdesk itself (acknowledgement, notification).
        #[serde(default)]
        automatic: bool,
    },
    /// An automatic mail was not sent, and why (loop protection).
    EmailSuppressed {
        /// The intended recipients.
        to: Vec<String>,
        /// Its subject.
        subject: String,
        /// Why it was held back.
        reason: String,
    },
    /// A note from the trigger engine, so automation is never silent: a
    /// chain stopped at the depth limit, an action that could not be
    /// planned, a side effect that failed for good.
    TriggerNote {
        /// What kind of note.
        kind: TriggerNoteKind,
        /// The triggers concerned.
        #[serde(default)]
        triggers: Vec<String>,
        /// What happened, in words.
        message: String,
    },
    /// An SLA timer's metric event. The entry's `at` is the exact instant
    /// it happened (a breach at its deadline, even when recorded later).
    Sla {
        /// The timer's metric.
        metric: String,
        /// The rule in force.
        rule: String,
        /// Which event.
        event: SlaEventKind,
        /// The timer's cycle.
        cycle: u32,
        /// Business time spent at that instant, in seconds.
        business_seconds: i64,
        /// The deadline in force afterwards, while running.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
    },
    /// The requester rated the help (`rating_received`): a later rating
    /// replaces an earlier one.
    Rated {
        /// The score.
        score: Score,
        /// What they added, up to [`super::bounds::RATING_COMMENT`] bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// The score it replaces, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Score>,
    },
    /// An agent rated the help line 2 gave on an escalation (a later
    /// rating of the same escalation replaces it).
    EscalationRated {
        /// The entry of the line change that escalated the ticket.
        escalation: u64,
        /// The line-2 agent rated.
        agent: String,
        /// The score.
        score: Score,
        /// What the rater added, up to [`super::bounds::RATING_COMMENT`] bytes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// The score it replaces, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Score>,
    },
    /// Another ticket was linked to this one.
    Linked {
        /// The other ticket.
        other: TicketKey,
        /// How they relate (`follow_up_of`, `followed_up_by`).
        relation: String,
    },
}

/// The kind of a [`TimelineEvent::TriggerNote`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerNoteKind {
    /// Triggers would have fired but the chain reached the depth limit.
    Stopped,
    /// An action could not be planned as written (a missing address, a
    /// template that does not render).
    Problem,
    /// A side effect failed and will not be retried.
    Failed,
    /// A group assignment found every member at their cap; the ticket stays
    /// unassigned in the queue.
    Unassigned,
}

/// One entry on a ticket's timeline. `seq` orders a ticket's entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The ticket.
    pub ticket: TicketKey,
    /// Order within the ticket's timeline; see [`super::ticket::entry_seq`].
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What happened.
    #[serde(flatten)]
    pub event: TimelineEvent,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}
