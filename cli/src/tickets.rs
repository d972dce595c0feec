//! `helpdesk tickets list|show`: a table for people, `--json` for scripts;
//! `helpdesk tickets comment|set`: an agent working a ticket.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use helpdesk::app::Services;
use helpdesk::auth::{Principal, Via};
use helpdesk::display;
use helpdesk::domain::{BlobRef, QueueKey, Ticket, TicketKey, TimelineEntry, TimelineEvent};
use helpdesk::mail::send::SendOutcome;
use helpdesk::store::TicketQuery;
use helpdesk::tickets::agent::{self, AgentError, AgentUpdate};
use serde_json::{Value, json};

/// Ticket subcommands.
#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets, newest first.
    List {
        /// Only this queue.
        #[arg(long)]
        queue: Option<QueueKey>,
        /// At most this many per queue.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket with its timeline.
    Show {
        /// The ticket's key, such as SUP-17.
        key: TicketKey,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Comment as an agent; a public comment is mailed to the customer.
    Comment {
        /// The ticket's key.
        key: TicketKey,
        /// The agent's login.
        #[arg(long = "as")]
        agent: String,
        /// Send it to the customer (otherwise an internal note).
        #[arg(long)]
        public: bool,
        /// The text.
        text: String,
    },
    /// Rate the help line 2 gave on the ticket's latest escalation from
    /// line 1 (as an agent other than the one rated); rating it again
    /// replaces the rating.
    RateEscalation {
        /// The ticket's key.
        key: TicketKey,
        /// The rating agent's login.
        #[arg(long = "as")]
        agent: String,
        /// `good` or `bad` (`1` to `5` on a queue whose survey has `scale: five`).
        #[arg(long)]
        score: String,
        /// What to add.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Change fields as an agent.
    Set {
        /// The ticket's key.
        key: TicketKey,
        /// The agent's login.
        #[arg(long = "as")]
        agent: String,
        /// A status of the ticket's queue.
        #[arg(long)]
        status: Option<String>,
        /// A priority level.
        #[arg(long)]
        priority: Option<String>,
        /// An agent's login, or `-` to unassign.
        #[arg(long)]
        assignee: Option<String>,
        /// A support line of the queue, or `-` for none.
        #[arg(long)]
        line: Option<String>,
        /// The components (repeat the option for several; replaces the
        /// ticket's; `--component -` clears them).
        #[arg(long = "component")]
        components: Vec<String>,
        /// The tags (repeat for several; replaces the ticket's; `--tag -`
        /// clears them).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// A custom field, `NAME=VALUE` (a number field takes a number;
        /// `NAME=` clears it); repeat for several.
        #[arg(long = "field", value_name = "NAME=VALUE")]
        fields: Vec<String>,
    },
}

/// The JSON shape of a ticket in listings.
pub fn ticket_json(ticket: &Ticket) -> Value {
    json!({
        "key": ticket.key,
        "queue": ticket.queue,
        "summary": ticket.summary,
        "description": ticket.description,
        "status": ticket.status,
        "resolution": ticket.resolution,
        "line": ticket.line,
        "priority": ticket.priority,
        "assignee": ticket.assignee,
        "components": ticket.components,
        "tags": ticket.tags,
        "requester_email": ticket.requester.email,
        "requester_name": ticket.requester.name,
        "participants": ticket.participants,
        "channel": ticket.channel,
        "custom_fields": ticket.custom_fields,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "reopen_count": ticket.reopen_count,
        "version": ticket.version,
    })
}

fn dash(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("-")
}

fn print_table(tickets: &[Ticket]) {
    let rows: Vec<[String; 8]> = tickets
        .iter()
        .map(|t| {
            [
                t.key.to_string(),
                t.status.clone(),
                t.priority.clone(),
                t.line.map_or("-".into(), |l| l.to_string()),
                dash(t.assignee.as_deref()).to_owned(),
                display::line(dash(t.requester.email.as_ref().map(|e| e.as_str()))).into_owned(),
                t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                display::line(&t.summary.chars().take(50).collect::<String>()).into_owned(),
            ]
        })
        .collect();
    let header = [
        "KEY",
        "STATUS",
        "PRIORITY",
        "LINE",
        "ASSIGNEE",
        "REQUESTER",
        "CREATED (UTC)",
        "SUMMARY",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        println!("(no tickets)");
    }
}

/// Applies an agent's update and says what happened.
/// What an agent's refused change exits with: 2 and the reason for what
/// the agent can correct, the error for a failure on our side.
fn refused(e: AgentError) -> anyhow::Result<ExitCode> {
    match e {
        AgentError::Invalid { .. }
        | AgentError::NotFound(_)
        | AgentError::Forbidden(_)
        | AgentError::Closed(_)
        | AgentError::Stale { .. } => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        e => Err(e.into()),
    }
}

/// `tickets rate-escalation`: exit 0 rated, 2 refused (with the reason).
async fn rate_escalation(
    services: &Services,
    key: &TicketKey,
    login: &str,
    score: &str,
    comment: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let Some(agent) = Principal::of(&services.config, login, Via::Cli) else {
        eprintln!("error: {login:?} is not an agent of the configuration");
        return Ok(ExitCode::from(2));
    };
    match helpdesk::csat::escalation::rate_escalation(services, key, &agent, score, comment).await {
        Ok((ticket, rated)) => {
            println!(
                "{} is at version {}: line 2's help of {} on the escalation of {} rated {}",
                ticket.key,
                ticket.version,
                dash(rated.helper.as_deref()),
                rated.at.format("%Y-%m-%d %H:%M UTC"),
                rated.rating.map(|s| s.to_string()).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

async fn agent_update(
    services: &Services,
    key: &TicketKey,
    login: &str,
    update: AgentUpdate,
) -> anyhow::Result<ExitCode> {
    let Some(agent) = Principal::of(&services.config, login, Via::Cli) else {
        eprintln!("error: {login:?} is not an agent of the configuration");
        return Ok(ExitCode::from(2));
    };
    match agent::update(services, key, &agent, update).await {
        Ok(updated) => {
            let mail = match &updated.mail {
                Some(
                    SendOutcome::Sent { message_id } | SendOutcome::AlreadySent { message_id },
                ) => {
                    format!(", mailed to the customer as {message_id}")
                }
                Some(SendOutcome::Suppressed { reason }) => format!(", mail held back: {reason}"),
                None => String::new(),
            };
            println!(
                "{} is at version {} (status {}, priority {}, assignee {}){mail}",
                updated.ticket.key,
                updated.ticket.version,
                updated.ticket.status,
                updated.ticket.priority,
                dash(updated.ticket.assignee.as_deref())
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

/// The update `tickets set` asks for. Custom field values are typed by the
/// queue's configuration (a number field's value is parsed as a number;
/// the use case then checks every value).
async fn set_update(
    services: &Services,
    key: &TicketKey,
    (status, priority, assignee, line): (
        &Option<String>,
        &Option<String>,
        &Option<String>,
        &Option<String>,
    ),
    (components, tags, fields): (&[String], &[String], &[String]),
) -> anyhow::Result<AgentUpdate> {
    let list = |values: &[String]| -> Option<Vec<String>> {
        match values {
            [] => None,
            [only] if only == "-" => Some(Vec::new()),
            many => Some(many.to_vec()),
        }
    };
    let line = match line.as_deref() {
        None => None,
        Some("-") => Some(None),
        Some(text) => {
            Some(Some(text.parse::<u8>().with_context(|| {
                format!("--line {text:?} is not a line number")
            })?))
        }
    };
    let queue = services.config.queues.get(key.queue());
    let mut custom_fields = std::collections::BTreeMap::new();
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .with_context(|| format!("--field {field:?} is not NAME=VALUE"))?;
        let number = queue
            .and_then(|q| q.custom_fields.get(name))
            .is_some_and(|f| f.field_type == helpdesk::config::CustomFieldType::Number);
        let value = match value {
            "" => None,
            text if number => Some(
                text.parse::<serde_json::Number>()
                    .map(Value::Number)
                    .unwrap_or_else(|_| Value::String(text.to_owned())),
            ),
            text => Some(Value::String(text.to_owned())),
        };
        custom_fields.insert(name.to_owned(), value);
    }
    Ok(AgentUpdate {
        status: status.clone(),
        priority: priority.clone(),
        assignee: assignee.as_ref().map(|a| (a != "-").then(|| a.clone())),
        line,
        components: list(components),
        tags: list(tags),
        custom_fields,
        ..AgentUpdate::default()
    })
}

/// Runs a ticket subcommand.
pub async fn run(services: &Services, command: &TicketsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TicketsCommand::Comment {
            key,
            agent,
            public,
            text,
        } => {
            let update = AgentUpdate {
                comment: Some((*public, text.clone())),
                ..AgentUpdate::default()
            };
            agent_update(services, key, agent, update).await
        }
        TicketsCommand::RateEscalation {
            key,
            agent,
            score,
            comment,
        } => rate_escalation(services, key, agent, score, comment.as_deref()).await,
        TicketsCommand::Set {
            key,
            agent,
            status,
            priority,
            assignee,
            line,
            components,
            tags,
            fields,
        } => {
            let update = match set_update(
                services,
                key,
                (status, priority, assignee, line),
                (components, tags, fields),
            )
            .await
            {
                Ok(update) => update,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            agent_update(services, key, agent, update).await
        }
        TicketsCommand::List { queue, limit, json } => {
            list(services, queue.as_ref(), *limit, *json).await
        }
        TicketsCommand::Show { key, json } => show(services, key, *json).await,
    }
}

/// `tickets list`: the tickets as a table, or as one JSON array.
async fn list(
    services: &Services,
    queue: Option<&QueueKey>,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let tickets = newest_first(services, queue, limit).await?;
    if json {
        let array: Vec<Value> = tickets.iter().map(ticket_json).collect();
        println!("{}", serde_json::to_string_pretty(&array)?);
    } else {
        print_table(&tickets);
    }
    Ok(ExitCode::SUCCESS)
}

/// Up to `limit` tickets of `queue` (of every queue without one), newest
/// first.
async fn newest_first(
    services: &Services,
    queue: Option<&QueueKey>,
    limit: usize,
) -> anyhow::Result<Vec<Ticket>> {
    let queues: Vec<QueueKey> = match queue {
        Some(queue) => vec![queue.clone()],
        None => services.config.queues.keys().cloned().collect(),
    };
    let mut tickets = Vec::new();
    for queue in queues {
        let query = TicketQuery::newest(queue, limit);
        tickets.extend(services.store.list_tickets(&query).await?);
    }
    tickets.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.key.cmp(&a.key)));
    Ok(tickets)
}

/// `tickets show`: one ticket with its timeline, as text or JSON; fails
/// when there is no such ticket.
async fn show(services: &Services, key: &TicketKey, json: bool) -> anyhow::Result<ExitCode> {
    let Some(ticket) = services.store.get_ticket(key).await? else {
        eprintln!("no ticket {key}");
        return Ok(ExitCode::FAILURE);
    };
    let timeline = services
        .store
        .timeline(key)
        .await
        .context("reading the timeline")?;
    if json {
        let mut value = ticket_json(&ticket);
        value["timeline"] = serde_json::to_value(&timeline)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_ticket(&ticket);
        print_timeline(&timeline)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The ticket's fields for people, then its description.
fn print_ticket(ticket: &Ticket) {
    println!("{}  {}", ticket.key, display::line(&ticket.summary));
    println!(
        "status {} · priority {} · line {} · assignee {}",
        ticket.status,
        ticket.priority,
        ticket.line.map_or("-".into(), |l| l.to_string()),
        dash(ticket.assignee.as_deref())
    );
    println!(
        "requester {} {}",
        display::line(dash(ticket.requester.email.as_ref().map(|e| e.as_str()))),
        display::line(ticket.requester.name.as_deref().unwrap_or(""))
    );
    println!(
        "components {} · channel {}",
        if ticket.components.is_empty() {
            "-".into()
        } else {
            ticket.components.join(", ")
        },
        ticket.channel.as_str()
    );
    for (name, value) in &ticket.custom_fields {
        let value = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        println!("{name}: {}", display::line(&value));
    }
    println!("\n{}\n", display::text(&ticket.description));
    if let Some(blob) = &ticket.description_blob {
        println!("{}\n", whole_at(blob));
    }
}

/// Where the whole of a text shown as an excerpt is.
fn whole_at(blob: &BlobRef) -> String {
    format!(
        "[an excerpt: the whole ({} bytes) is at {}]",
        blob.size,
        display::line(&blob.blob_key)
    )
}

/// The timeline, one line an entry: when, the kind of event, who, and
/// what (a mail's sender and subject, a file's name, a comment's first
/// line), every control and bidi character of it made visible.
fn print_timeline(timeline: &[TimelineEntry]) -> anyhow::Result<()> {
    println!("timeline:");
    for entry in timeline {
        let event = serde_json::to_value(&entry.event)?;
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let what = what_happened(&entry.event)
            .map(|what| format!("  {}", display::line(&what)))
            .unwrap_or_default();
        println!(
            "  {}  {:<16} {}{what}",
            entry.at.format("%Y-%m-%d %H:%M:%S"),
            kind,
            display::line(&serde_json::to_string(&entry.actor)?)
        );
    }
    Ok(())
}

/// The gist of an entry people look for in a timeline, when it has one.
fn what_happened(event: &TimelineEvent) -> Option<String> {
    match event {
        TimelineEvent::EmailIn {
            from,
            subject,
            text_blob,
            skipped,
            skipped_unlisted,
            ..
        } => {
            let mut what = format!("from {from}: {subject}");
            if let Some(blob) = text_blob {
                what.push_str(&format!(" {}", whole_at(blob)));
            }
            if !skipped.is_empty() {
                what.push_str(&format!(" [left out: {}", skipped.join("; ")));
                if *skipped_unlisted > 0 {
                    what.push_str(&format!("; and {skipped_unlisted} more"));
                }
                what.push(']');
            }
            Some(what)
        }
        TimelineEvent::FormSubmitted {
            form,
            answers,
            answers_blob,
            unmatched,
            ..
        } => {
            let mut what = format!("{form}: {} answers", answers.len());
            if let Some(blob) = answers_blob {
                what.push_str(&format!(" {}", whole_at(blob)));
            }
            if !unmatched.is_empty() {
                what.push_str(&format!(" [no field took: {}]", unmatched.join(", ")));
            }
            Some(what)
        }
        TimelineEvent::EmailOut { to, subject, .. } => {
            Some(format!("to {}: {subject}", to.join(", ")))
        }
        TimelineEvent::AttachmentAdded {
            file_name, size, ..
        } => Some(format!("{file_name} ({size} bytes)")),
        TimelineEvent::Comment {
            public,
            body,
            body_blob,
        } => {
            let first = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let first: String = first.chars().take(80).collect();
            let whole = body_blob
                .as_ref()
                .map(|blob| format!(" {}", whole_at(blob)))
                .unwrap_or_default();
            Some(format!(
                "{}: {first}{whole}",
                if *public { "public" } else { "internal" }
            ))
        }
        _ => None,
    }
}
