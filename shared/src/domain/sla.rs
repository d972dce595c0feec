//! SLA timers as a ticket stores them: one [`SlaTimer`] per metric (such as
//! `first_response` or `resolution`), kept in [`SlaState`] on the ticket so
//! that a timer and the ticket it measures are written together, and the
//! metric events ([`SlaEventKind`]) that the timeline records.
//!
//! Durations are business time in microseconds (the precision every store
//! keeps instants in); instants are UTC. How timers move is decided in
//! [`crate::sla`]; this module only holds their state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a timer's clock is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerState {
    /// Counting business time.
    Running,
    /// Stopped for now (a pause condition holds, or no rule applies);
    /// business time spent is kept.
    Paused,
    /// Stopped within its limit.
    Met,
    /// Stopped after its limit.
    Breached,
}

impl TimerState {
    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Met => "met",
            Self::Breached => "breached",
        }
    }

    /// Whether the timer is stopped for good (until a start re-arms it).
    pub fn is_stopped(self) -> bool {
        matches!(self, Self::Met | Self::Breached)
    }
}

/// One SLA timer of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTimer {
    /// What it measures (`first_response`); a ticket has one timer per
    /// metric, whichever rule applies to it at the moment.
    pub metric: String,
    /// The rule that set its current target.
    pub rule: String,
    /// The calendar it counts in.
    pub calendar: String,
    /// What its clock is doing.
    pub state: TimerState,
    /// 1 for the first run; a start after a stop re-arms the timer as the
    /// next cycle (a next-response timer after each customer reply).
    pub cycle: u32,
    /// When this cycle started.
    pub started_at: DateTime<Utc>,
    /// While running: since when (business time before it is in `spent_us`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_since: Option<DateTime<Utc>>,
    /// Business time spent before `running_since` (all of it when not
    /// running), in microseconds.
    pub spent_us: i64,
    /// The target: business time allowed, in microseconds.
    pub limit_us: i64,
    /// Business time spent at which the warning goes out, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_us: Option<i64>,
    /// While running: the instant the limit is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// While running and not yet warned: the instant the warning is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<DateTime<Utc>>,
    /// The warning of this cycle was recorded.
    #[serde(default)]
    pub warned: bool,
    /// The breach of this cycle was recorded.
    #[serde(default)]
    pub breached: bool,
    /// When it stopped (met or breached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
}

impl SlaTimer {
    /// The next instant the checker has something to record for this
    /// timer: the warning, then the breach; none unless running.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        if self.state != TimerState::Running {
            return None;
        }
        let warn = self.warn_at.filter(|_| !self.warned);
        let breach = self.deadline.filter(|_| !self.breached);
        match (warn, breach) {
            (Some(w), Some(b)) => Some(w.min(b)),
            (w, b) => w.or(b),
        }
    }
}

/// The SLA timers of a ticket and how far the timeline has been read for
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaState {
    /// One timer per metric, in the order the rules name them.
    #[serde(default)]
    pub timers: Vec<SlaTimer>,
    /// The ticket version up to which the timers account for the timeline
    /// (every entry of a later version is still to be read).
    #[serde(default)]
    pub seen_version: u64,
    /// The fields the rules look at, as of `seen_version`: a later change
    /// that no timeline entry records is still noticed (at the ticket's
    /// `updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<SlaFields>,
}

/// The fields SLA rules look at, as of some version of a ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaFields {
    /// The status.
    pub status: String,
    /// The priority.
    pub priority: String,
    /// The support line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u8>,
    /// The components.
    #[serde(default)]
    pub components: Vec<String>,
    /// The assignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The custom fields.
    #[serde(default)]
    pub custom_fields: std::collections::BTreeMap<String, serde_json::Value>,
}

impl SlaState {
    /// Whether nothing is stored (no timer, nothing read).
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty() && self.seen_version == 0 && self.fields.is_none()
    }

    /// The earliest instant any timer has something due (the ticket's
    /// place in the due index); none when nothing is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.timers.iter().filter_map(SlaTimer::next_due).min()
    }

    /// The timer of `metric`.
    pub fn timer(&self, metric: &str) -> Option<&SlaTimer> {
        self.timers.iter().find(|t| t.metric == metric)
    }
}

/// A metric event of a timer, as the timeline records it; the single
/// source for SLA reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaEventKind {
    /// A cycle started (or the timer was re-armed).
    Started,
    /// The clock stopped for now.
    Paused,
    /// The clock runs again.
    Resumed,
    /// The warning time was reached.
    Warned,
    /// The limit was reached while running.
    Breached,
    /// Stopped within the limit.
    Met,
    /// Stopped after the limit (the breach was recorded before).
    Stopped,
    /// The target changed (another rule or priority); time spent is kept.
    Retargeted,
}

impl SlaEventKind {
    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Paused => "paused",
            Self::Resumed => "resumed",
            Self::Warned => "warned",
            Self::Breached => "breached",
            Self::Met => "met",
            Self::Stopped => "stopped",
            Self::Retargeted => "retargeted",
        }
    }

    /// Whether this event is a signal people are told about.
    pub fn is_alert(self) -> bool {
        matches!(self, Self::Warned | Self::Breached)
    }
}
