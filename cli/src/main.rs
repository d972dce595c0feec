//! `helpdesk`: the local all-in-one server and the operator's tools.
//!
//! Every subcommand takes `--config FILE` and `--db FILE` (or
//! `HELPDESK_CONFIG` and `HELPDESK_DB`); `HELPDESK_STORE=dynamodb` with
//! `HELPDESK_TABLE` points the tools at a deployed table instead.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use helpdesk::app::{
    BlobChoice, EventsChoice, MailTransportChoice, Services, Settings, StoreChoice,
};
use helpdesk::telemetry::{self, LogFormat};
use helpdesk_cli::listen::Limits;
use helpdesk_cli::{
    agents, config_check, forms_test, mail_log, mailgate, report, serve, sla, tickets,
    triggers_test,
};

/// A serverless helpdesk, running locally over SQLite.
#[derive(Debug, Parser)]
#[command(name = "helpdesk", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// The options every subcommand takes.
#[derive(Debug, Args)]
struct Global {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "HELPDESK_CONFIG",
        default_value = "config/helpdesk.yaml"
    )]
    config: PathBuf,
    /// The SQLite database file.
    #[arg(
        long,
        global = true,
        env = "HELPDESK_DB",
        default_value = "helpdesk.db"
    )]
    db: PathBuf,
    /// Where attachments are kept: a directory or s3://bucket/prefix.
    #[arg(
        long,
        global = true,
        env = "HELPDESK_BLOBS",
        default_value = "data/blobs"
    )]
    blobs: String,
    /// Outbound mail: outbox:DIR (files, the local default), ses, or an SMTP
    /// relay, smtp://[user@]host[:port][?tls=required] or smtps://[user@]host[:port]
    /// (the password in HELPDESK_SMTP_PASSWORD).
    #[arg(
        long,
        global = true,
        env = "HELPDESK_MAIL_TRANSPORT",
        default_value = "outbox:data/outbox",
        hide_env_values = true
    )]
    // Parsed after clap, whose own error would print a password in the
    // value; ours masks it.
    mail_transport: String,
    /// The event bus triggers publish to: log:FILE (JSON lines, the local
    /// default) or eventbridge:BUS.
    #[arg(
        long,
        global = true,
        env = "HELPDESK_EVENTS",
        default_value = "log:data/events.jsonl"
    )]
    events: EventsChoice,
}

/// `helpdesk mailgate` parsed on its own: an MTA starts it for every
/// message, and building the whole command tree above would be a tenth of
/// its run (see docs/benchmarks.md). The same options, help and errors as
/// the subcommand.
#[derive(Debug, Parser)]
#[command(name = "helpdesk mailgate", version)]
struct MailgateCli {
    #[command(flatten)]
    global: Global,
    /// The queue when no recipient address names one.
    #[arg(long)]
    queue: Option<helpdesk::domain::QueueKey>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the form and mail intake over the local store, run the
    /// triggers and SLA timers on every ticket change, and the SLA check
    /// every minute.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds a client has to send a request's headers (also how long
        /// an idle kept-alive connection stays open).
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Seconds a client has to send a request's body.
        #[arg(long, default_value_t = 60)]
        body_timeout: u64,
        /// Connections open at once (default: what the process's open-file
        /// limit leaves room for, at most 10,000).
        #[arg(long)]
        max_connections: Option<usize>,
    },
    /// Take one raw message on stdin (for an MTA pipe alias); exit 0, 65, 70 or 75.
    Mailgate {
        /// The queue when no recipient address names one.
        #[arg(long)]
        queue: Option<helpdesk::domain::QueueKey>,
    },
    /// The mail log: messages not accepted (refused, held, delivery
    /// reports), their raw bytes, and releasing a held one.
    Mail {
        #[command(subcommand)]
        command: mail_log::MailCommand,
    },
    /// Agents' credentials: personal API tokens and console passwords.
    Agents {
        #[command(subcommand)]
        command: agents::AgentsCommand,
    },
    /// Look at tickets.
    Tickets {
        #[command(subcommand)]
        command: tickets::TicketsCommand,
    },
    /// Work with the configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Work with the forms: a dry run of a saved delivery.
    Forms {
        #[command(subcommand)]
        command: forms_test::FormsCommand,
    },
    /// Work with the queues' triggers.
    Triggers {
        #[command(subcommand)]
        command: triggers_test::TriggersCommand,
    },
    /// SLA timers: show a ticket's, or run the checker once.
    Sla {
        #[command(subcommand)]
        command: sla::SlaCommand,
    },
    /// A report of the queues' tickets (volume: created, resolved,
    /// reopened and backlog per day, week or month).
    Report(report::ReportArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: unknown keys, wrong types, broken references.
    Check {
        /// The file to check (default: --config).
        file: Option<PathBuf>,
        /// Also compare it with the stack's parameters, as given to `sam
        /// deploy --parameter-overrides` (MailDomain, MailRecipients,
        /// AllowedOrigins): queue addresses, sender domain, form origins.
        #[arg(long, value_name = "PARAMS")]
        against_stack: Option<String>,
    },
    /// Validate a configuration file and write its snapshot next to it
    /// (`helpdesk.snapshot.json`), which processes read instead of parsing
    /// the YAML while the YAML is unchanged.
    Compile {
        /// The file to compile (default: --config).
        file: Option<PathBuf>,
    },
}

fn settings(cli: &Global) -> anyhow::Result<Settings> {
    let store = match std::env::var("HELPDESK_STORE").ok().as_deref() {
        None | Some("") | Some("sqlite") => StoreChoice::Sqlite(cli.db.clone()),
        Some(_) => Settings::from_env()?.store,
    };
    Ok(Settings {
        config: cli.config.clone(),
        store,
        blobs: BlobChoice::parse(&cli.blobs),
        mail_transport: cli.mail_transport.parse::<MailTransportChoice>()?,
        events: cli.events.clone(),
        secrets: std::env::var(helpdesk::secrets::SECRETS_ENV)
            .ok()
            .filter(|s| !s.is_empty()),
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Config {
            command:
                ConfigCommand::Check {
                    file,
                    against_stack,
                },
        } => Ok(config_check::run(
            file.as_ref().unwrap_or(&cli.global.config),
            against_stack.as_deref(),
        )),
        Command::Config {
            command: ConfigCommand::Compile { file },
        } => Ok(config_check::compile(
            file.as_ref().unwrap_or(&cli.global.config),
        )),
        Command::Triggers { command } => Ok(triggers_test::run(&cli.global.config, command)),
        Command::Forms { command } => Ok(forms_test::run(&cli.global.config, command).await),
        Command::Serve {
            listen,
            header_timeout,
            body_timeout,
            max_connections,
        } => {
            let services = Services::build(&settings(&cli.global)?).await?;
            let defaults = Limits::defaults();
            let limits = Limits {
                header_read: Duration::from_secs(*header_timeout),
                body_read: Duration::from_secs(*body_timeout),
                max_connections: max_connections.unwrap_or(defaults.max_connections),
            };
            serve::run(services, listen, limits).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mailgate { queue } => {
            Ok(mailgate::run(&settings(&cli.global)?, queue.clone()).await)
        }
        Command::Agents { command } => {
            let services = Services::build(&settings(&cli.global)?).await?;
            agents::run(&services, command).await
        }
        Command::Tickets { command } => {
            let services = Services::build(&settings(&cli.global)?).await?;
            tickets::run(&services, command).await
        }
        Command::Mail { command } => {
            let services = Services::build(&settings(&cli.global)?).await?;
            mail_log::run(&services, command).await
        }
        Command::Sla { command } => {
            let services = Services::build(&settings(&cli.global)?).await?;
            sla::run(&services, command).await
        }
        Command::Report(args) => {
            let services = Services::build(&settings(&cli.global)?).await?;
            report::run(&services, args).await
        }
    }
}

fn main() -> ExitCode {
    telemetry::init(LogFormat::Text, "info");
    if std::env::args_os().nth(1).is_some_and(|a| a == "mailgate") {
        let cli = MailgateCli::parse_from(
            std::iter::once(std::ffi::OsString::from("helpdesk mailgate"))
                .chain(std::env::args_os().skip(2)),
        );
        return block_on(runtime(false), async move {
            Ok(mailgate::run(&settings(&cli.global)?, cli.queue).await)
        });
    }
    let cli = Cli::parse();
    // One message or one query: a single-threaded runtime starts faster;
    // the server gets worker threads.
    let runtime = runtime(matches!(cli.command, Command::Serve { .. }));
    block_on(runtime, run(cli))
}

/// The async runtime: worker threads for the server, one thread otherwise.
fn runtime(server: bool) -> std::io::Result<tokio::runtime::Runtime> {
    if server {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
}

/// Runs `work` to its exit code; an error is printed.
fn block_on(
    runtime: std::io::Result<tokio::runtime::Runtime>,
    work: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> ExitCode {
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(75);
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
