//! `helpdesk triggers test`: the dry run. Evaluates the queue's triggers
//! against a stream event or a ticket change file with the same code the
//! engine runs ([`plan_for`]), and prints the plan. It reads no store,
//! writes nothing and sends nothing; webhook URLs and chat ids come from
//! the process environment, as in the engine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use helpdesk::automation::engine::plan_for;
use helpdesk::config::Config;
use helpdesk::triggers::{Change, Environment, Plan};

use crate::event_file::{self, Item, Kind};
use crate::{config_check, plan_report};

/// The exit code for an event file that cannot be read or decoded.
pub const EX_BAD_EVENT: u8 = 2;

/// How many simulated follow-up changes `--follow` evaluates at most (the
/// depth limit ends a chain earlier).
const MAX_FOLLOW: usize = 16;

const TEST_HELP: &str = "\
EVENT_FILE is either

  a DynamoDB stream event, as the ticket-triggers function receives it:
    {\"Records\": [{\"eventID\": \"1\", \"eventName\": \"INSERT\", \"dynamodb\": {\"NewImage\": {...}, ...}}]}
  (ticket items are evaluated; timeline and other items are skipped), or

  a ticket change file:
    {\"before\": TICKET or null, \"after\": TICKET,
     \"entry\": TIMELINE_ENTRY (optional: a comment or a mail the change wrote),
     \"actor\": {\"kind\": \"agent\", \"login\": \"boris\"} (optional; default: the entry's actor, else system),
     \"depth\": 0 (optional; default: after.trigger_depth, else 0)}
  where TICKET is a ticket as the store keeps it:
    {\"key\": \"SUP-1\", \"queue\": \"SUP\", \"summary\": \"...\", \"description\": \"...\",
     \"status\": \"New\", \"priority\": \"normal\", \"line\": 1, \"components\": [\"Billing\"], \"tags\": [],
     \"assignee\": \"anna\", \"requester\": {\"email\": \"jane@customer.org\", \"name\": \"Jane\"},
     \"channel\": \"form\", \"created_at\": \"2026-03-02T10:00:00Z\", \"updated_at\": \"2026-03-02T10:00:00Z\",
     \"version\": 1}

Nothing is written or sent. Exit codes: 0 evaluated, 1 invalid configuration,
2 event file unreadable or undecodable.";

/// Trigger subcommands.
#[derive(Debug, Subcommand)]
pub enum TriggersCommand {
    /// Dry run: evaluate the queue's triggers against a change and print
    /// what they would do; nothing is written or sent.
    #[command(after_long_help = TEST_HELP)]
    Test {
        /// A DynamoDB stream event or a ticket change file (see --help).
        event_file: PathBuf,
        /// Print a JSON array of the plans, one per evaluated change.
        #[arg(long)]
        json: bool,
        /// Also evaluate the change each planned write would make (depth + 1,
        /// and so on until nothing changes or the depth limit), as the engine
        /// does after writing. Simulated: comments and group assignments the
        /// write would add are not part of it.
        #[arg(long)]
        follow: bool,
    },
}

/// The process environment, as the engine's secrets see it (empty values
/// count as unset).
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Runs a trigger subcommand with the configuration file `config`.
pub fn run(config: &Path, command: &TriggersCommand) -> ExitCode {
    let TriggersCommand::Test {
        event_file,
        json,
        follow,
    } = command;
    let config_file = config;
    let config = match helpdesk::config::load(config_file) {
        Ok(config) => config,
        Err(e) => {
            config_check::print_findings(&e);
            return ExitCode::FAILURE;
        }
    };
    let file = match event_file::read(event_file) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EX_BAD_EVENT);
        }
    };
    let env = process_env;
    let mut plans = Vec::new();
    let mut text = String::new();
    text.push_str("dry run: nothing is written or sent\n");
    let kind = match file.kind {
        Kind::StreamEvent => match file.items.len() {
            1 => "DynamoDB stream event, 1 record".into(),
            n => format!("DynamoDB stream event, {n} records"),
        },
        Kind::ChangeFile => "ticket change file".into(),
    };
    text.push_str(&format!(
        "config {} · event file {} ({kind})\n",
        config_file.display(),
        event_file.display()
    ));
    for item in file.items {
        match item {
            Item::Skipped { label, reason } => {
                text.push_str(&format!("\n== {label}: skipped: {reason}\n"));
            }
            Item::Change { label, change } => {
                for (heading, change, plan) in evaluate(&config, &label, *change, *follow, &env) {
                    text.push('\n');
                    text.push_str(&plan_report::render(
                        &config, &heading, &change, &plan, &env,
                    ));
                    plans.push(plan);
                }
            }
        }
    }
    if *json {
        match serde_json::to_string_pretty(&plans) {
            Ok(out) => println!("{out}"),
            Err(e) => {
                eprintln!("error: cannot print the plans as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{text}");
    }
    ExitCode::SUCCESS
}

/// The plan for `change` and, with `follow`, the plans of the changes the
/// planned writes would make, each with its heading.
fn evaluate(
    config: &Config,
    label: &str,
    change: Change,
    follow: bool,
    env: &dyn Environment,
) -> Vec<(String, Change, Plan)> {
    let plan = plan_for(config, &change, env);
    let mut out = vec![(label.to_owned(), change, plan)];
    while follow && out.len() <= MAX_FOLLOW {
        let Some((_, change, plan)) = out.last() else {
            break;
        };
        let Some(next) = plan.next_change(change) else {
            break;
        };
        let plan = plan_for(config, &next, env);
        let heading = format!("{label}, then the planned write (simulated)");
        out.push((heading, next, plan));
    }
    out
}
