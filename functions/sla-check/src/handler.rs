//! Turns one invocation (an EventBridge scheduled event, as raw JSON) into
//! one run of [`sla::check`] within the invocation's time budget, one log
//! line and the answer.
//!
//! | event | what happens |
//! |---|---|
//! | EventBridge `Scheduled Event` (source `aws.events`) | the check runs; the log line names the rule and the scheduled time |
//! | any other EventBridge event, or anything else (`{}`) | the check runs all the same, and the log line (at warn) names the source and detail-type, or says it was no EventBridge event |
//!
//! Any event runs the check because the check decides nothing from the
//! event: it reads what is due by the clock, and running it an extra time
//! is harmless (see the crate docs). So a manual `aws lambda invoke` with
//! `{}` is the way to catch up at once, and a rule that was pointed here by
//! mistake is visible in the log instead of failing silently.
//!
//! | outcome | answer | invocation |
//! |---|---|---|
//! | the check ran (finished or budget used up; some tickets may have failed) | the [`CheckReport`] as JSON | succeeds |
//! | the due index could not be read | error | fails: Lambda retries the asynchronous invocation, then sends it to the on-failure destination |
//!
//! Every invocation logs one `sla check` line (at info; at error when a
//! ticket failed) whose `report` field is the whole report as JSON: ticket
//! keys and error texts only, never a ticket's text or requester.

use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use helpdesk::app::Services;
use helpdesk::sla::{self, CheckReport};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

/// Time kept free before the invocation's deadline: the ticket being
/// refreshed when the budget runs out still finishes (a few store
/// requests, retried after a conflict), and the answer and the log line
/// still go out.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);

/// The budget when the runtime gave no usable deadline (the function's
/// 60 s timeout minus the margin, and more than a scheduled minute's work).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(50);

/// How long the check may take new tickets: until [`SAFETY_MARGIN`] before
/// the deadline (`deadline_ms`, milliseconds since the Unix epoch, as the
/// runtime API's `Lambda-Runtime-Deadline-Ms` gives it). A deadline nearer
/// than the margin leaves no budget: the check then reads the due index and
/// stops.
///
/// A deadline that is not in the future is no deadline, and gets
/// [`DEFAULT_BUDGET`]: Lambda ends an invocation at its deadline, so a
/// running handler never sees a real one passed, while 0 (absent) and
/// other values that are not an instant do come from local runtimes
/// (`cargo lambda watch` sends its timeout, `600000`, instead of an
/// instant).
pub fn budget(deadline_ms: u64, now: SystemTime) -> Duration {
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    match deadline.duration_since(now) {
        Ok(left) => left.saturating_sub(SAFETY_MARGIN),
        Err(_) => DEFAULT_BUDGET,
    }
}

/// What invoked the function, as far as the event tells.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Invoker {
    /// An EventBridge scheduled event.
    Schedule {
        /// The rule's ARN (the event's first resource).
        rule: String,
        /// The scheduled time, as the event gives it.
        time: String,
    },
    /// Another EventBridge event.
    OtherEvent {
        /// Its source.
        source: String,
        /// Its detail-type.
        detail_type: String,
    },
    /// Not an EventBridge event.
    Unknown,
}

impl Invoker {
    fn of(payload: &Value) -> Self {
        let Ok(event) = serde_json::from_value::<EventBridgeEvent<Value>>(payload.clone()) else {
            return Self::Unknown;
        };
        if event.source == "aws.events" && event.detail_type == "Scheduled Event" {
            Self::Schedule {
                rule: event
                    .resources
                    .unwrap_or_default()
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                time: event.time.map(|t| t.to_rfc3339()).unwrap_or_default(),
            }
        } else {
            Self::OtherEvent {
                source: event.source,
                detail_type: event.detail_type,
            }
        }
    }
}

/// Runs the check once (see the module docs).
pub async fn handle(services: &Services, event: LambdaEvent<Value>) -> Result<CheckReport, Error> {
    let invoker = Invoker::of(&event.payload);
    match &invoker {
        Invoker::Schedule { .. } => {}
        Invoker::OtherEvent {
            source,
            detail_type,
        } => tracing::warn!(
            %source,
            %detail_type,
            "not a scheduled event; running the SLA check anyway"
        ),
        Invoker::Unknown => {
            tracing::warn!("not an EventBridge event; running the SLA check anyway");
        }
    }
    let budget = budget(event.context.deadline, SystemTime::now());
    let started = std::time::Instant::now();
    let report = match sla::check(services, budget).await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!(
                error = %e,
                retryable = e.is_retryable(),
                budget_ms = millis(budget),
                "SLA check failed: the due index could not be read; the invocation fails and is retried"
            );
            return Err(Box::new(e));
        }
    };
    log(
        &invoker,
        event.context.deadline,
        budget,
        started.elapsed(),
        &report,
    );
    Ok(report)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The one `sla check` log line of an invocation.
fn log(
    invoker: &Invoker,
    deadline_ms: u64,
    budget: Duration,
    took: Duration,
    report: &CheckReport,
) {
    let json = serde_json::to_string(report)
        .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() }).to_string());
    let (invoked_by, rule, scheduled) = match invoker {
        Invoker::Schedule { rule, time } => ("schedule", rule.as_str(), time.as_str()),
        Invoker::OtherEvent { .. } => ("other_event", "", ""),
        Invoker::Unknown => ("unknown", "", ""),
    };
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                invoked_by,
                rule,
                scheduled,
                deadline_ms,
                budget_ms = millis(budget),
                took_ms = millis(took),
                due_read = report.due_read,
                tickets = report.tickets,
                written = report.written,
                warnings = report.warnings,
                breaches = report.breaches,
                failed = report.failed.len(),
                finished = report.finished,
                report = %json,
                "sla check"
            )
        };
    }
    if report.failed.is_empty() {
        line!(info);
    } else {
        line!(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    const NOW: u64 = 1_772_442_000_000; // 2026-03-02T09:00:00Z

    #[test]
    fn the_budget_is_the_time_left_minus_the_safety_margin() {
        assert_eq!(budget(NOW + 60_000, at(NOW)), Duration::from_secs(55));
        assert_eq!(budget(NOW + 12_345, at(NOW)), Duration::from_millis(7_345));
    }

    #[test]
    fn a_deadline_nearer_than_the_margin_leaves_no_budget() {
        assert_eq!(budget(NOW + 5_000, at(NOW)), Duration::ZERO);
        assert_eq!(budget(NOW + 1, at(NOW)), Duration::ZERO);
        assert_eq!(budget(NOW, at(NOW)), Duration::ZERO);
    }

    #[test]
    fn no_deadline_or_one_that_is_no_instant_means_the_default_budget() {
        assert_eq!(budget(0, at(NOW)), DEFAULT_BUDGET);
        // cargo lambda watch: its timeout in milliseconds, not an instant.
        assert_eq!(budget(600_000, at(NOW)), DEFAULT_BUDGET);
        assert_eq!(budget(NOW - 1_000, at(NOW)), DEFAULT_BUDGET);
    }

    #[test]
    fn the_sample_scheduled_event_is_read_as_the_schedule() {
        let event: Value =
            serde_json::from_str(include_str!("../../../events/sla-check/scheduled.json"))
                .unwrap_or_default();
        assert_eq!(
            Invoker::of(&event),
            Invoker::Schedule {
                rule: "arn:aws:events:eu-west-1:123456789012:rule/helpdesk-sla-check".into(),
                time: "2026-03-02T09:00:00+00:00".into(),
            }
        );
    }

    #[test]
    fn other_events_are_told_apart_but_not_refused() {
        let other = serde_json::json!({
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {}
        });
        assert_eq!(
            Invoker::of(&other),
            Invoker::OtherEvent {
                source: "aws.s3".into(),
                detail_type: "Object Created".into()
            }
        );
        assert_eq!(Invoker::of(&serde_json::json!({})), Invoker::Unknown);
        assert_eq!(Invoker::of(&Value::Null), Invoker::Unknown);
    }
}
