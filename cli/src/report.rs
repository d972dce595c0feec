//! `helpdesk report NAME`: a report over the metric events of the queues'
//! tickets (`helpdesk::reports::run`), as a table, JSON (`{"report",
//! "from", "to", "by", "zone", "queues", "columns", "rows": [...]}`, as the
//! API answers) or CSV.

use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use helpdesk::app::Services;
use helpdesk::domain::QueueKey;
use helpdesk::reports::Asked;
use helpdesk::reports::run::{self, Document, Name, RunError};
use serde_json::Value;

/// The reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportName {
    /// Created, resolved and reopened per period (--by day, week or
    /// month), and the backlog at each period's end.
    Volume,
    /// Created, resolved and open by a field's value (--by component,
    /// channel, line, priority, organization, assignee or status).
    Breakdown,
    /// Open tickets at the end of the range, and those created in it
    /// (as they are now), by assignee x status.
    AssigneeStatus,
    /// First response, next response and resolution times in business
    /// and calendar time: median, p90, mean (--by month, assignee or
    /// channel).
    ResponseTimes,
    /// SLA timers met, breached and running, and the compliance, per
    /// metric and rule (--by rule, month or assignee).
    Sla,
    /// Tickets resolved and reopened, who reopened them, the reopen rate
    /// (--by a field; default assignee).
    Reopens,
    /// Business and calendar time spent in each status (--by a field,
    /// such as a request type; default none).
    TimeInStatus,
    /// Per agent: tickets taken, answers, resolved, reopened, median first
    /// response.
    Agents,
    /// Not a report: recomputes the rollups reports read from every
    /// ticket's timeline, repairs what differs, and says what differed
    /// (after changing `desk.zone`, statuses or a queue's calendar, or to
    /// verify them).
    Rebuild,
}

impl ReportName {
    /// The report (`None`: `rebuild`).
    fn report(self) -> Option<Name> {
        Some(match self {
            ReportName::Rebuild => return None,
            ReportName::Volume => Name::Volume,
            ReportName::Breakdown => Name::Breakdown,
            ReportName::AssigneeStatus => Name::AssigneeStatus,
            ReportName::ResponseTimes => Name::ResponseTimes,
            ReportName::Sla => Name::Sla,
            ReportName::Reopens => Name::Reopens,
            ReportName::TimeInStatus => Name::TimeInStatus,
            ReportName::Agents => Name::Agents,
        })
    }
}

/// `helpdesk report` options.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    name: ReportName,
    /// The first day (YYYY-MM-DD; default: 29 days before --to).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// The last day (YYYY-MM-DD; default: today in --zone).
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Only this queue (default: every queue).
    #[arg(long)]
    queue: Option<QueueKey>,
    /// What rows group by: day, week or month (volume; default day), a
    /// field (breakdown, reopens, time-in-status: component, channel,
    /// line, priority, organization, assignee, status, tag or a select
    /// custom field), month, assignee or channel (response-times), rule,
    /// month or assignee (sla).
    #[arg(long)]
    by: Option<String>,
    /// The zone whose calendar days the report counts (IANA name;
    /// default: the configuration's `desk.zone`, else UTC).
    #[arg(long)]
    zone: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Print CSV (for spreadsheets).
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

/// Runs the report; exit 2 for options that cannot be used.
pub async fn run(services: &Services, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let queues: Vec<QueueKey> = match &args.queue {
        Some(queue) if services.config.queues.contains_key(queue) => vec![queue.clone()],
        Some(queue) => {
            eprintln!("--queue: no queue {queue} in the configuration");
            return Ok(ExitCode::from(2));
        }
        None => services.config.queues.keys().cloned().collect(),
    };
    let Some(name) = args.name.report() else {
        return rebuild(services, &queues, args.json).await;
    };
    let asked = Asked {
        from: args.from,
        to: args.to,
        by: args.by.clone(),
        zone: args.zone.clone(),
    };
    let store = services.store.as_ref();
    let now = services.clock.now();
    let document = match run::from_store(&services.config, store, name, queues, &asked, now).await {
        Ok(document) => document,
        Err(RunError::Invalid(option, problem)) => {
            eprintln!("--{option}: {problem}");
            return Ok(ExitCode::from(2));
        }
        Err(RunError::Store(e)) => return Err(e.into()),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else if args.csv {
        print!("{}", document.csv());
    } else {
        print!("{}", table(&document));
    }
    Ok(ExitCode::SUCCESS)
}

/// `helpdesk report rebuild`: what differed, as text or JSON.
async fn rebuild(services: &Services, queues: &[QueueKey], json: bool) -> anyhow::Result<ExitCode> {
    let store = services.store.as_ref();
    let rebuilt = helpdesk::reports::keep::rebuild(&services.config, store, queues).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rebuilt)?);
    } else {
        println!(
            "{} tickets read; {} had report counters that differed from their timeline; {} rollup counters repaired",
            rebuilt.tickets, rebuilt.tickets_changed, rebuilt.counters_repaired
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The document as a text table: a column per field, as wide as its
/// widest cell.
fn table(document: &Document) -> String {
    let cell = |value: &Value| match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = document
        .rows
        .iter()
        .map(|row| document.columns.iter().map(|c| cell(&row[*c])).collect())
        .collect();
    let widths: Vec<usize> = document
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(document.columns.iter().map(|c| (*c).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}
