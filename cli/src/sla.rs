//! `helpdesk sla show KEY [--json]` (each timer with its state and the
//! business time left) and `helpdesk sla check [--json]` (one run of the
//! checker, as the `sla-check` function does every minute).

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use helpdesk::app::Services;
use helpdesk::domain::{TicketKey, TimerState};
use helpdesk::sla::{self, CheckReport, show::TimerView};

/// SLA subcommands.
#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Show a ticket's SLA timers: state, deadline, business time left.
    Show {
        /// The ticket's key, such as SUP-17.
        key: TicketKey,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Run the checker once: record every warning and breach that is due.
    Check {
        /// Stop taking tickets after this many seconds.
        #[arg(long, default_value_t = 50)]
        budget: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `1h 05m`, `-0h 10m` for business time in seconds.
pub fn hours_minutes(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{}h {:02}m", minutes / 60, minutes % 60)
}

/// Runs an SLA subcommand.
pub async fn run(services: &Services, command: &SlaCommand) -> anyhow::Result<ExitCode> {
    match command {
        SlaCommand::Show { key, json } => show(services, key, *json).await,
        SlaCommand::Check { budget, json } => check(services, *budget, *json).await,
    }
}

/// `sla show`: the ticket's timers as a table or one JSON array; fails when
/// there is no such ticket.
async fn show(services: &Services, key: &TicketKey, json: bool) -> anyhow::Result<ExitCode> {
    let Some(timers) = sla::show::timers(services, key).await? else {
        eprintln!("no ticket {key}");
        return Ok(ExitCode::FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&timers)?);
    } else if timers.is_empty() {
        println!("{key}: no SLA timers");
    } else {
        print_timers(&timers);
    }
    Ok(ExitCode::SUCCESS)
}

/// The timers as a table, one row a timer.
fn print_timers(timers: &[TimerView]) {
    println!(
        "{:<16} {:<16} {:<9} {:>5} {:<22} {:>10} {:>10}  FLAGS",
        "RULE", "METRIC", "STATE", "CYCLE", "DEADLINE (UTC)", "LIMIT", "LEFT"
    );
    for t in timers {
        let deadline = t.deadline.map_or_else(
            || "-".to_owned(),
            |d| d.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        println!(
            "{:<16} {:<16} {:<9} {:>5} {:<22} {:>10} {:>10}  {}",
            t.rule,
            t.metric,
            t.state.as_str(),
            t.cycle,
            deadline,
            hours_minutes(t.limit_seconds),
            hours_minutes(t.business_seconds_left),
            flags(t).join(",")
        );
    }
}

/// What has happened to a timer: warned, breached, and overdue while it
/// runs past its deadline.
fn flags(t: &TimerView) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if t.warned {
        flags.push("warned");
    }
    if t.breached {
        flags.push("breached");
    }
    if t.state == TimerState::Running && t.business_seconds_left < 0 {
        flags.push("overdue");
    }
    flags
}

/// `sla check`: one run of the checker, reported as text or JSON; fails
/// when a ticket failed.
async fn check(services: &Services, budget: u64, json: bool) -> anyhow::Result<ExitCode> {
    let report = sla::check(services, Duration::from_secs(budget)).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The checker's report for people: the counts, then each failure.
fn print_report(report: &CheckReport) {
    println!(
        "checked {} due ticket(s): {} written, {} warning(s), {} breach(es){}",
        report.tickets,
        report.written,
        report.warnings,
        report.breaches,
        if report.finished {
            ""
        } else {
            "; budget used up, the rest waits"
        }
    );
    for failure in &report.failed {
        println!("failed: {failure}");
    }
}
