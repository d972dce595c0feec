//! `helpdesk agents`: an agent's credentials. `token LOGIN [--name LABEL]`
//! prints a new personal API token once, alone on its line (only its hash
//! is stored); `revoke LOGIN LABEL` revokes one; `tokens LOGIN` lists
//! them (labels and dates, never a secret); `password LOGIN` sets the
//! console password, read from stdin when stdin is not a terminal, else
//! asked for twice without echo.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use helpdesk::app::Services;
use helpdesk::auth::{self, AuthError};

/// Agents subcommands.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Make a personal API token and print it once.
    Token {
        /// The agent's login.
        login: String,
        /// The token's label, unique per agent (what revokes it and what
        /// the timeline names).
        #[arg(long = "name", default_value = "default")]
        label: String,
    },
    /// Revoke a personal API token.
    Revoke {
        /// The agent's login.
        login: String,
        /// The token's label.
        label: String,
    },
    /// List an agent's tokens (labels and dates).
    Tokens {
        /// The agent's login.
        login: String,
    },
    /// Set an agent's console password.
    Password {
        /// The agent's login.
        login: String,
    },
}

/// Runs an agents subcommand.
pub async fn run(services: &Services, command: &AgentsCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = (&services.config, services.store.as_ref());
    let now = services.clock.now();
    match command {
        AgentsCommand::Token { login, label } => {
            let issued = auth::issue_token(config, store, login, label, now)
                .await
                .map_err(explain)?;
            println!("{}", issued.secret);
            eprintln!(
                "token {label:?} of {login}: shown once, keep it now (revoke: helpdesk agents revoke {login} {label})"
            );
            Ok(ExitCode::SUCCESS)
        }
        AgentsCommand::Revoke { login, label } => {
            if auth::revoke_token(store, login, label).await? {
                println!("revoked token {label:?} of {login}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{login} has no token labelled {label:?}");
                Ok(ExitCode::FAILURE)
            }
        }
        AgentsCommand::Tokens { login } => {
            for token in store.api_tokens_of(login).await? {
                println!("{}\t{}", token.label, token.created_at.to_rfc3339());
            }
            Ok(ExitCode::SUCCESS)
        }
        AgentsCommand::Password { login } => {
            if !config.agents.contains_key(login) {
                bail!("{login:?} is not an agent of the configuration");
            }
            let password = read_password()?;
            auth::set_password(config, store, login, &password, now)
                .await
                .map_err(explain)?;
            eprintln!("password of {login} set");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn explain(e: AuthError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// The password: the first line of stdin when it is not a terminal (a
/// script, a pipe), else typed twice at the terminal without echo.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("New password: ")?;
    let second = rpassword::prompt_password("Again: ")?;
    if first != second {
        bail!("the two passwords differ");
    }
    Ok(first)
}
