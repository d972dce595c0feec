//! `helpdesk forms test FORM_ID DELIVERY`: a dry run of a saved form
//! delivery (a Typeform or Tally webhook body, a Jotform post, a plain
//! form): each answer with its names and the field that takes it, the
//! answers no field takes, and the ticket it would open or why it would be
//! refused. Nothing is stored; signatures and rate limits are not checked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use helpdesk::display;
use helpdesk::intake::preview::{Preview, preview};

use crate::config_check;

/// Form subcommands.
#[derive(Debug, Subcommand)]
pub enum FormsCommand {
    /// Read a saved delivery as the form would, storing nothing.
    Test {
        /// The form's id in the configuration.
        form: String,
        /// The delivery's body, as the provider posts it.
        delivery: PathBuf,
        /// Its content type (default: from the file's extension, `.json`
        /// JSON, else URL-encoded; a multipart body needs its boundary).
        #[arg(long)]
        content_type: Option<String>,
    },
}

/// Runs a forms subcommand: exit 0 when the delivery would open a ticket,
/// 1 when it would be refused, 2 when the configuration or file cannot be
/// read.
pub async fn run(config: &Path, command: &FormsCommand) -> ExitCode {
    let FormsCommand::Test {
        form,
        delivery,
        content_type,
    } = command;
    let config = match helpdesk::config::load(config) {
        Ok(config) => config,
        Err(e) => {
            config_check::print_findings(&e);
            return ExitCode::from(2);
        }
    };
    let body = match std::fs::read(delivery) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", delivery.display());
            return ExitCode::from(2);
        }
    };
    let content_type = content_type.clone().unwrap_or_else(|| {
        if delivery.extension().is_some_and(|ext| ext == "json") {
            "application/json".to_owned()
        } else {
            "application/x-www-form-urlencoded".to_owned()
        }
    });
    match preview(&config, form, &content_type, body.into()).await {
        Ok(preview) => report(form, &preview),
        Err(problem) => {
            println!(
                "refused ({}): {}: {}",
                problem.status, problem.title, problem.detail
            );
            ExitCode::FAILURE
        }
    }
}

/// Prints the answers and the ticket, or why it would be refused.
fn report(form: &str, preview: &Preview) -> ExitCode {
    println!("dry run of form {form}: nothing is stored");
    println!("answers ({}):", preview.answers.len());
    for answer in &preview.answers {
        let field = answer
            .field
            .as_deref()
            .map_or_else(|| "(no field)".to_owned(), |f| format!("-> {f}"));
        let value: String = answer.value.chars().take(60).collect();
        println!(
            "  {:<24} {:<18} {}",
            display::line(&answer.name),
            field,
            display::line(&value)
        );
        if !answer.aliases.is_empty() {
            println!(
                "  {:<24} also named: {}",
                "",
                display::line(&answer.aliases.join(", "))
            );
        }
    }
    let unmatched: Vec<&str> = preview
        .answers
        .iter()
        .filter(|a| a.field.is_none())
        .map(|a| a.name.as_str())
        .collect();
    if !unmatched.is_empty() {
        println!(
            "no field takes: {} (name them in a field's id or aliases)",
            display::line(&unmatched.join(", "))
        );
    }
    if preview.honeypot {
        println!("the honeypot is filled: a real delivery would be dropped");
    }
    match &preview.outcome {
        Ok(form) => {
            let draft = &form.draft;
            println!("would open a ticket in {}:", draft.queue);
            println!("  summary     {}", display::line(&draft.summary));
            println!(
                "  requester   {} {}",
                draft.requester_email.as_ref().map_or("-", |e| e.as_str()),
                display::line(draft.requester_name.as_deref().unwrap_or(""))
            );
            println!(
                "  priority {} · line {} · components {} · assignee {}",
                draft.priority.as_deref().unwrap_or("(default)"),
                draft.line.map_or("-".to_owned(), |l| l.to_string()),
                if draft.components.is_empty() {
                    "-".to_owned()
                } else {
                    draft.components.join(", ")
                },
                draft.assignee.as_deref().unwrap_or("-")
            );
            for (name, value) in &draft.custom_fields {
                println!("  {name}: {}", display::line(&value.to_string()));
            }
            if !form.routing_rules.is_empty() {
                println!("  routing rules: {}", form.routing_rules.join("; "));
            }
            println!("  description:\n{}", display::text(&draft.description));
            ExitCode::SUCCESS
        }
        Err(problem) => {
            println!(
                "would be refused ({}): {}: {}",
                problem.status, problem.title, problem.detail
            );
            for error in &problem.errors {
                println!("  {}: {}", error.field, error.message);
            }
            ExitCode::FAILURE
        }
    }
}
