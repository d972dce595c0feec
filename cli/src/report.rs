//! `helpdesk report NAME`: a report over the metric events of the queues'
//! tickets, as a table, JSON (`{"report", "from", "to", "by", "zone",
//! "queues", "rows": [...]}`, as the API answers) or CSV. Built so far:
//! `volume`.

use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use helpdesk::app::Services;
use helpdesk::domain::QueueKey;
use helpdesk::reports::Asked;
use helpdesk::reports::volume::{self, VolumeReport};

/// The reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportName {
    /// Created, resolved and reopened per period, and the backlog at each
    /// period's end.
    Volume,
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
    /// Rows per day, week or month.
    #[arg(long, default_value = "day")]
    by: String,
    /// The zone whose calendar days the periods are (IANA name).
    #[arg(long, default_value = "UTC")]
    zone: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Print CSV (for spreadsheets).
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

/// Runs the report; exit 2 for options that cannot be used.
pub async fn run(services: &Services, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let asked = Asked {
        from: args.from,
        to: args.to,
        by: Some(args.by.clone()),
        zone: Some(args.zone.clone()),
    };
    let span = match asked.span(services.clock.now()) {
        Ok(span) => span,
        Err((option, problem)) => {
            eprintln!("--{option}: {problem}");
            return Ok(ExitCode::from(2));
        }
    };
    let queues: Vec<QueueKey> = match &args.queue {
        Some(queue) if services.config.queues.contains_key(queue) => vec![queue.clone()],
        Some(queue) => {
            eprintln!("--queue: no queue {queue} in the configuration");
            return Ok(ExitCode::from(2));
        }
        None => services.config.queues.keys().cloned().collect(),
    };
    let report = match args.name {
        ReportName::Volume => {
            volume::volume_of_queues(&services.config, services.store.as_ref(), queues, span)
                .await?
        }
    };
    print(args, &report)?;
    Ok(ExitCode::SUCCESS)
}

fn print(args: &ReportArgs, report: &VolumeReport) -> anyhow::Result<()> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else if args.csv {
        print!("{}", volume::csv(&report.rows));
    } else {
        println!(
            "{:<12} {:>8} {:>8} {:>8} {:>8}",
            "period", "created", "resolved", "reopened", "backlog"
        );
        for r in &report.rows {
            println!(
                "{:<12} {:>8} {:>8} {:>8} {:>8}",
                r.period, r.created, r.resolved, r.reopened, r.backlog
            );
        }
    }
    Ok(())
}
