//! `helpdesk mailgate`: one raw message on stdin, the way an MTA pipes mail
//! (Postfix: `support: "|helpdesk mailgate --queue SUP"`). Exit codes follow
//! sysexits so the MTA does the right thing: 0 accepted or deliberately
//! ignored, 75 (EX_TEMPFAIL) try again later, 65 (EX_DATAERR) never
//! acceptable, 70 (EX_SOFTWARE) a failure on our side that retrying cannot
//! fix (stored data that cannot be read, a request the store refuses): the
//! raw message is kept all the same, and the reason is on stderr.

use std::io::Read;
use std::process::ExitCode;

use helpdesk::app::{Services, Settings};
use helpdesk::domain::QueueKey;
use helpdesk::mail::ingest::{self, Envelope, IngestError, Ingested};
use helpdesk::mail::send::SendOutcome;

/// Accepted, or deliberately ignored.
pub const EX_OK: u8 = 0;
/// The data can never be accepted.
pub const EX_DATAERR: u8 = 65;
/// A failure on our side that retrying cannot fix.
pub const EX_SOFTWARE: u8 = 70;
/// A temporary failure: the MTA should retry.
pub const EX_TEMPFAIL: u8 = 75;

/// The exit code for an ingestion result.
pub fn exit_code(result: &Result<Ingested, IngestError>) -> u8 {
    match result {
        Ok(_) => EX_OK,
        Err(IngestError::Temporary { .. }) => EX_TEMPFAIL,
        Err(IngestError::Permanent { .. }) => EX_SOFTWARE,
        Err(IngestError::Unacceptable { .. }) => EX_DATAERR,
    }
}

fn envelope_recipients() -> Vec<String> {
    // Postfix's pipe(8) and local(8) export these for the command.
    ["ORIGINAL_RECIPIENT", "RECIPIENT"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Reads stdin and ingests it.
pub async fn run(settings: &Settings, queue: Option<QueueKey>) -> ExitCode {
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        eprintln!("mailgate: cannot read the message: {e}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    let services = match Services::build(settings).await {
        Ok(services) => services,
        Err(e) => {
            eprintln!("mailgate: {e:#}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let envelope = Envelope {
        recipients: envelope_recipients(),
        queue,
        ..Envelope::default()
    };
    let result = ingest::ingest(&services, raw.into(), envelope).await;
    match &result {
        Ok(outcome) => eprintln!("mailgate: {}", describe(outcome)),
        Err(e) => eprintln!("mailgate: {e}"),
    }
    ExitCode::from(exit_code(&result))
}

/// One line saying what happened.
pub fn describe(outcome: &Ingested) -> String {
    match outcome {
        Ingested::NewTicket {
            ticket,
            acknowledgement,
        } => match acknowledgement {
            Some(SendOutcome::Sent { message_id } | SendOutcome::AlreadySent { message_id }) => {
                format!("new ticket {ticket}, acknowledged ({message_id})")
            }
            Some(SendOutcome::Suppressed { reason }) => {
                format!("new ticket {ticket}, acknowledgement suppressed: {reason}")
            }
            None => format!("new ticket {ticket}"),
        },
        Ingested::Reply {
            ticket,
            how,
            reopened,
        } => {
            format!(
                "reply on {ticket} (by {how}){}",
                if *reopened { ", reopened" } else { "" }
            )
        }
        Ingested::Duplicate { ticket } => format!("already recorded on {ticket}"),
        Ingested::Bounce {
            ticket: Some(ticket),
        } => format!("delivery report noted on {ticket}"),
        Ingested::Bounce { ticket: None } => {
            "delivery report about an unknown message, recorded".into()
        }
        Ingested::NotAccepted { outcome, reason } => format!("{outcome}: {reason}"),
    }
}
