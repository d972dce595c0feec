//! `GET /new` and `POST /new`: an agent opens a ticket by hand (a phone
//! call, a chat), through `tickets::agent::open_by_hand`, the path the
//! API's `POST /tickets` takes; the form offers the agent's queues and
//! what they allow, and comes back with the agent's values and what is
//! wrong when it cannot be opened.

use std::collections::BTreeMap;

use axum::extract::{RawForm, State};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk::auth::Session;
use helpdesk::domain::{Channel, EmailAddress, QueueKey};
use helpdesk::tickets::TicketDraft;
use helpdesk::tickets::agent::{self, AgentError, HandMade};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::session::{self, SignedIn};
use crate::show;
use crate::{Console, render};

/// Channels an agent records a hand-made ticket as.
const CHANNELS: [Channel; 4] = [Channel::Phone, Channel::Chat, Channel::Email, Channel::Api];

/// `GET /new`: the form.
pub async fn page(State(console): State<Console>, SignedIn(session): SignedIn) -> Response {
    form(&console, &session, &BTreeMap::new(), None, StatusCode::OK)
}

fn form(
    console: &Console,
    session: &Session,
    given: &BTreeMap<String, String>,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let config = &console.services.config;
    let queues: Vec<Value> = config
        .queues_of(&session.principal.login)
        .into_iter()
        .filter_map(|key| {
            config.queues.get(key).map(|q| {
                json!({
                    "key": key.to_string(),
                    "name": q.name,
                    "lines": q.lines,
                    "components": q.components.keys().collect::<Vec<_>>(),
                })
            })
        })
        .collect();
    let components: Vec<&String> = config
        .queues_of(&session.principal.login)
        .into_iter()
        .filter_map(|key| config.queues.get(key))
        .flat_map(|q| q.components.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let lines: Vec<u8> = config
        .queues_of(&session.principal.login)
        .into_iter()
        .filter_map(|key| config.queues.get(key))
        .flat_map(|q| q.lines.iter().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    render::page_with_status(
        status,
        "new.html",
        json!({
            "chrome": show::chrome(console, session),
            "queues": queues,
            "lines": lines,
            "components": components,
            "priorities": config.priorities.levels,
            "default_priority": config.priorities.default.value,
            "channels": CHANNELS.map(Channel::as_str).to_vec(),
            "given": given,
            "problem": problem,
            "idempotency": given.get("idempotency").cloned().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        }),
    )
}

/// `POST /new`: opens the ticket and goes to it.
pub async fn submit(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default();
    let mut given: BTreeMap<String, String> = BTreeMap::new();
    let mut components = Vec::new();
    for (name, value) in pairs {
        if name == "components" {
            components.push(value);
        } else {
            given.insert(name, value);
        }
    }
    let csrf = given.get("csrf").map(String::as_str).unwrap_or_default();
    if let Err(refused) = session::check_form(&headers, Some(&session), csrf) {
        return refused.into_response();
    }
    let made = match draft(&given, components) {
        Ok(made) => made,
        Err(problem) => {
            return form(
                &console,
                &session,
                &given,
                Some(problem),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match agent::open_by_hand(&console.services, &session.principal, made).await {
        Ok(opened) => {
            Redirect::to(&format!("/tickets/{}?done=created", opened.key())).into_response()
        }
        Err(AgentError::Invalid { field, message }) => form(
            &console,
            &session,
            &given,
            Some(format!("Not opened: {field}: {message}")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => {
            tracing::error!(error = %e, "a hand-made ticket could not be opened");
            form(
                &console,
                &session,
                &given,
                Some("The ticket could not be opened right now. Try again in a moment.".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

/// The ticket the form describes, or what is wrong with it.
fn draft(given: &BTreeMap<String, String>, components: Vec<String>) -> Result<HandMade, String> {
    let text = |name: &str| {
        given
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let queue = text("queue")
        .and_then(|q| QueueKey::parse(&q).ok())
        .ok_or("Choose a queue.")?;
    let summary = text("summary").ok_or("Write a summary.")?;
    let email = text("email")
        .map(|e| EmailAddress::parse(&e).map_err(|_| format!("{e:?} is not an email address.")))
        .transpose()?;
    let (name, phone) = (text("name"), text("phone"));
    if email.is_none() && name.is_none() && phone.is_none() {
        return Err("Say who asked: an address, a name or a phone number.".into());
    }
    let channel = match text("channel").as_deref() {
        Some("chat") => Channel::Chat,
        Some("email") => Channel::Email,
        Some("api") => Channel::Api,
        _ => Channel::Phone,
    };
    let line = text("line")
        .map(|l| l.parse::<u8>().map_err(|_| format!("{l:?} is not a line.")))
        .transpose()?;
    let tags = text("tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(HandMade {
        draft: TicketDraft {
            queue,
            summary,
            description: given.get("description").cloned().unwrap_or_default(),
            priority: text("priority"),
            line,
            components,
            tags,
            assignee: text("assignee"),
            requester_email: email,
            requester_name: name,
            requester_phone: phone,
            channel,
            custom_fields: BTreeMap::new(),
        },
        idempotency_key: text("idempotency").filter(|k| k.len() <= 200),
    })
}
