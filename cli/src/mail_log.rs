//! `helpdesk mail log|raw|release`: the messages that did not become part
//! of a ticket (refused, held, quarantined, dropped, delivery reports about
//! mail we do not know), each with why; a message's raw bytes; and an
//! agent releasing a held message into a ticket of its own.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use helpdesk::app::Services;
use helpdesk::display;
use helpdesk::domain::{EmailAddress, MailLogEntry, MailLogQuery, Refusal};
use helpdesk::mail::ingest::{self, Release, ReleaseError};

/// Mail log subcommands.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the messages not accepted, newest first, each with why.
    Log {
        /// Only this outcome: rejected, held, quarantined, dropped or bounce
        /// (a delivery report).
        #[arg(long)]
        outcome: Option<Outcome>,
        /// Since when: a number of days (`7d`), hours (`12h`), or a date
        /// (`2026-03-01`, UTC). Default: 7 days.
        #[arg(long, default_value = "7d")]
        since: Since,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Write a logged message's raw bytes to stdout.
    Raw {
        /// The message's id, as the log shows it.
        id: String,
    },
    /// Let a held message in: it opens a ticket of its own, with a note
    /// that says who released it and why it was held.
    Release {
        /// The message's id, as the log shows it.
        id: String,
        /// The agent's login.
        #[arg(long = "as")]
        agent: String,
        /// The requester, for a message that names no usable sender.
        #[arg(long)]
        requester: Option<EmailAddress>,
    },
}

/// An outcome to filter by (`bounce` is a delivery report).
#[derive(Debug, Clone, Copy)]
pub struct Outcome(Refusal);

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.parse::<Refusal>()? {
            Refusal::Duplicate => Err("duplicates are not logged".to_owned()),
            refusal => Ok(Self(refusal)),
        }
    }
}

/// How far back `mail log` looks.
#[derive(Debug, Clone, Copy)]
pub enum Since {
    /// A span before now.
    Ago(Duration),
    /// From an instant.
    At(DateTime<Utc>),
}

impl std::str::FromStr for Since {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let number = |digits: &str| digits.parse::<i64>().ok().filter(|n| *n >= 0);
        let too_far = || format!("{text:?} is further back than this command looks");
        if let Some(days) = text.strip_suffix('d').and_then(number) {
            return Duration::try_days(days).map(Self::Ago).ok_or_else(too_far);
        }
        if let Some(hours) = text.strip_suffix('h').and_then(number) {
            return Duration::try_hours(hours)
                .map(Self::Ago)
                .ok_or_else(too_far);
        }
        if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Self::At(date.and_time(chrono::NaiveTime::MIN).and_utc()));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|at| Self::At(at.with_timezone(&Utc)))
            .map_err(|_| format!("{text:?} is not 7d, 12h, 2026-03-01 or an RFC 3339 time"))
    }
}

impl Since {
    fn instant(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Ago(span) => now
                .checked_sub_signed(span)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            Self::At(at) => at,
        }
    }
}

/// Runs a mail subcommand.
pub async fn run(services: &Services, command: &MailCommand) -> anyhow::Result<ExitCode> {
    match command {
        MailCommand::Log {
            outcome,
            since,
            limit,
            json,
        } => {
            let now = services.clock.now();
            let query = MailLogQuery {
                since: since.instant(now),
                until: now,
                outcome: outcome.map(|o| o.0),
                limit: *limit,
            };
            let entries = services.store.mail_log(&query).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                print_log(&entries);
            }
            Ok(ExitCode::SUCCESS)
        }
        MailCommand::Raw { id } => raw(services, id).await,
        MailCommand::Release {
            id,
            agent,
            requester,
        } => release(services, id, agent, requester.clone()).await,
    }
}

/// One line per message: when, outcome, id, sender and subject, then why.
fn print_log(entries: &[MailLogEntry]) {
    if entries.is_empty() {
        println!("no messages in that time");
        return;
    }
    for entry in entries {
        let released = entry
            .released
            .as_ref()
            .map(|ticket| format!(" -> released into {ticket}"))
            .unwrap_or_default();
        println!(
            "{}  {:<11} {}{released}",
            entry.at.format("%Y-%m-%d %H:%M:%S"),
            entry.outcome.as_str(),
            display::line(&entry.id)
        );
        println!(
            "    from {} · {}",
            display::line(entry.from.as_deref().unwrap_or("-")),
            display::line(entry.subject.as_deref().unwrap_or("(no subject)"))
        );
        println!("    {}", display::line(&entry.reason));
    }
}

/// Writes the raw bytes of a logged message to stdout.
async fn raw(services: &Services, id: &str) -> anyhow::Result<ExitCode> {
    let Some(entry) = services.store.mail_log_entry(id).await? else {
        eprintln!("error: no message {id:?} in the mail log");
        return Ok(ExitCode::from(1));
    };
    let bytes = services
        .blobs
        .get(&entry.raw_key)
        .await?
        .with_context(|| format!("the raw message is missing at {}", entry.raw_key))?;
    std::io::stdout().write_all(&bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// Releases a held message, saying which ticket it opened.
async fn release(
    services: &Services,
    id: &str,
    login: &str,
    requester: Option<EmailAddress>,
) -> anyhow::Result<ExitCode> {
    if !services.config.agents.contains_key(login) {
        eprintln!("error: {login:?} is not an agent");
        return Ok(ExitCode::from(2));
    }
    let release = Release {
        id: id.to_owned(),
        login: login.to_owned(),
        sender: requester,
    };
    match ingest::release_held(services, release).await {
        Ok(ticket) => {
            println!("released {id} into {ticket}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ReleaseError::Ingest(_)) => Err(e.into()),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
