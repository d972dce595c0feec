//! The ticket page and the forms that work a ticket: take it, change its
//! fields, answer or add a note (with files). Each form posts back here,
//! passes the CSRF check, calls the same use case as the API
//! (`tickets::agent::update`), and answers a redirect to the page (with
//! what happened in the query, `?done=...`) or the page again with what
//! went wrong and what the agent typed.
//!
//! The fields form carries the version the agent saw: when the ticket
//! changed meanwhile, nothing is written and the page says so.

use std::collections::BTreeMap;

use axum::extract::multipart::Multipart;
use axum::extract::{Path, Query, RawForm, State};
use axum::response::{IntoResponse, Redirect, Response};
use helpdesk::auth::Session;
use helpdesk::config::{CustomFieldType, Queue};
use helpdesk::domain::{EmailAddress, Ticket, TicketKey};
use helpdesk::sla::show::TimerView;
use helpdesk::tickets::agent::{self, AgentError, AgentUpdate};
use helpdesk::tickets::read;
use helpdesk::tickets::uploads;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::session::{self, SignedIn};
use crate::show;
use crate::{Console, render};

/// Timeline entries a ticket page shows at first, and per "older" step.
pub const ENTRIES_SHOWN: usize = 30;

/// `GET /tickets/{key}` parameters.
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    done: Option<String>,
}

/// What the page says above the ticket, and what the agent had typed.
#[derive(Debug, Default)]
struct Notice {
    /// `ok`, `problem` or `stale`.
    kind: &'static str,
    text: String,
    /// The comment the agent wrote (kept when it was not saved).
    draft: Option<Value>,
    /// The field values the agent chose (kept when they were not saved).
    fields: Option<BTreeMap<String, Vec<String>>>,
}

/// `GET /tickets/{key}`.
pub async fn page(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
    Query(shown): Query<Shown>,
) -> Response {
    let notice = shown
        .done
        .as_deref()
        .and_then(done_text)
        .map(|text| Notice {
            kind: "ok",
            text: text.to_owned(),
            ..Notice::default()
        });
    ticket_page(&console, &session, &key, notice, StatusCode::OK).await
}

fn done_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "taken" => "You have taken this ticket.",
        "saved" => "Saved.",
        "unchanged" => "Nothing to save: no field was changed.",
        "answered" => "Your answer is saved and mailed.",
        "held" => "Your answer is saved; its mail was held (see the timeline for why).",
        "noted" => "Your internal note is saved.",
        "created" => "Ticket opened.",
        "rated" => "Your rating of line 2's help is saved.",
        _ => return None,
    })
}

/// The ticket page with `notice`, answered with `status`.
async fn ticket_page(
    console: &Console,
    session: &Session,
    key: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let services = &console.services;
    let Ok(key) = TicketKey::parse(key) else {
        return not_found(key);
    };
    let page = match read::page(services, &session.principal, &key, ENTRIES_SHOWN).await {
        Ok(page) => page,
        Err(e) => return failed(&e),
    };
    let timers = match helpdesk::sla::show::timers(services, &key).await {
        Ok(timers) => timers.unwrap_or_default(),
        Err(e) => return failed(&AgentError::Store(e)),
    };
    let context = context(console, session, &page, &timers, notice);
    render::page_with_status(status, "ticket.html", context)
}

fn context(
    console: &Console,
    session: &Session,
    page: &read::TicketPage,
    timers: &[TimerView],
    notice: Option<Notice>,
) -> Value {
    let config = &console.services.config;
    let now = console.services.clock.now();
    let ticket = &page.ticket;
    let queue = config.queues.get(&ticket.queue);
    let notice = notice.unwrap_or_default();
    let chosen = notice.fields.clone();
    json!({
        "chrome": show::chrome(console, session),
        "ticket": ticket_view(console, ticket),
        "entries": page.entries.iter().map(|e| show::entry(e, &ticket.key, config)).collect::<Vec<_>>(),
        "older": page.older.map(|before| format!("/tickets/{}/older?before={before}", ticket.key)),
        "others": page.requester_tickets.iter().map(|t| show::row(t, config, now)).collect::<Vec<_>>(),
        "timers": timers.iter().map(timer_view).collect::<Vec<_>>(),
        "sla": show::sla(ticket, &config.built_calendars, now),
        "form": queue.map(|q| form_choices(console, q, ticket, chosen.as_ref())),
        "mine": ticket.assignee.as_deref() == Some(session.principal.login.as_str()),
        "line2_rating": queue.filter(|q| !q.lines.is_empty()).map(|q| json!({
            "scores": q.csat.as_ref().map_or(helpdesk::domain::Scale::GoodBad, |c| c.scale)
                .scores()
                .iter()
                .map(|s| json!({ "value": s.to_string(), "label": s.label() }))
                .collect::<Vec<_>>(),
        })),
        "notice": (!notice.text.is_empty()).then(|| json!({ "kind": notice.kind, "text": notice.text })),
        "draft": notice.draft,
        "idempotency": uuid::Uuid::new_v4().to_string(),
        "max_file": show::size_text(config.desk.mail.max_attachment_bytes as u64),
    })
}

fn ticket_view(console: &Console, ticket: &Ticket) -> Value {
    let config = &console.services.config;
    let requester = &ticket.requester;
    json!({
        "key": ticket.key.to_string(),
        "queue": ticket.queue.to_string(),
        "queue_name": config.queues.get(&ticket.queue).map(|q| q.name.clone()),
        "summary": helpdesk::display::line(&ticket.summary),
        "description": helpdesk::display::text(&ticket.description),
        "description_cut": ticket.description_blob.is_some(),
        "status": ticket.status,
        "line": ticket.line,
        "priority": ticket.priority,
        "assignee": ticket.assignee.as_deref().map(|a| show::agent_name(config, a)),
        "components": ticket.components,
        "tags": ticket.tags,
        "channel": ticket.channel.as_str(),
        "version": ticket.version,
        "rating": ticket.satisfaction.rating.as_ref().map(|r| json!({
            "label": r.score.label(),
            "satisfied": r.score.satisfied(),
        })),
        "created": show::when(ticket.created_at),
        "updated": show::when(ticket.updated_at),
        "requester": {
            "name": requester.name.as_deref().map(helpdesk::display::line),
            "email": requester.email.as_ref().map(EmailAddress::as_str),
            "phone": requester.phone,
            "organization": requester.organization,
            "tickets_href": requester.email.as_ref().map(|e| format!("/tickets?{}", serde_urlencoded::to_string([("requester", e.as_str())]).unwrap_or_default())),
        },
        "participants": ticket.participants.iter().map(EmailAddress::as_str).collect::<Vec<_>>(),
        "custom_fields": ticket.custom_fields.iter().map(|(id, v)| {
            let label = config.queues.get(&ticket.queue).and_then(|q| q.custom_fields.get(id)).map_or_else(|| id.clone(), |f| f.label.value.clone());
            json!({ "label": label, "value": match v { Value::String(s) => s.clone(), other => other.to_string() } })
        }).collect::<Vec<_>>(),
    })
}

fn timer_view(timer: &TimerView) -> Value {
    let state = match timer.state {
        _ if timer.breached => "breached",
        helpdesk::domain::TimerState::Running if timer.warned => "at_risk",
        helpdesk::domain::TimerState::Running => "running",
        helpdesk::domain::TimerState::Paused => "paused",
        helpdesk::domain::TimerState::Met => "met",
        helpdesk::domain::TimerState::Breached => "breached",
    };
    let left = timer.business_seconds_left;
    let progress = match state {
        "met" => format!(
            "{} used of {}",
            show::duration(timer.business_seconds_spent),
            show::duration(timer.limit_seconds)
        ),
        _ if left < 0 => format!(
            "{} over {}",
            show::duration(left),
            show::duration(timer.limit_seconds)
        ),
        _ => format!(
            "{} left of {}",
            show::duration(left),
            show::duration(timer.limit_seconds)
        ),
    };
    json!({
        "progress": progress,
        "metric": timer.metric,
        "rule": timer.rule,
        "state": state,
        "deadline": timer.deadline.map(show::when),
        "calendar": timer.calendar,
    })
}

/// What the fields form offers (only what the queue allows) and what is
/// chosen: the ticket's values, or the agent's when the form comes back.
fn form_choices(
    console: &Console,
    queue: &Queue,
    ticket: &Ticket,
    chosen: Option<&BTreeMap<String, Vec<String>>>,
) -> Value {
    let config = &console.services.config;
    let pick = |name: &str, current: Option<String>| -> Option<String> {
        match chosen {
            Some(chosen) => chosen.get(name).and_then(|v| v.first().cloned()),
            None => current,
        }
    };
    let components_chosen: Vec<String> = match chosen {
        Some(chosen) => chosen.get("components").cloned().unwrap_or_default(),
        None => ticket.components.clone(),
    };
    let team: Vec<Value> = config
        .agents
        .iter()
        .filter(|(login, _)| config.works_in(login, &ticket.queue))
        .map(|(login, a)| json!({ "login": login, "name": a.name }))
        .collect();
    let custom: Vec<Value> = queue
        .custom_fields
        .iter()
        .map(|(id, field)| {
            let current = ticket.custom_fields.get(id).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            json!({
                "id": id,
                "name": format!("cf.{id}"),
                "label": field.label.value,
                "type": match field.field_type {
                    CustomFieldType::Text => "text",
                    CustomFieldType::Number => "number",
                    CustomFieldType::Date => "date",
                    CustomFieldType::Select => "select",
                },
                "options": field.options,
                "value": pick(&format!("cf.{id}"), current),
            })
        })
        .collect();
    json!({
        "statuses": queue.statuses.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        "lines": queue.lines,
        "priorities": config.priorities.levels,
        "team": team,
        "components": queue.components.keys().map(|c| json!({ "name": c, "checked": components_chosen.contains(c) })).collect::<Vec<_>>(),
        "status": pick("status", Some(ticket.status.clone())),
        "line": pick("line", ticket.line.map(|l| l.to_string())),
        "priority": pick("priority", Some(ticket.priority.clone())),
        "assignee": pick("assignee", ticket.assignee.clone()),
        "tags": pick("tags", Some(ticket.tags.join(", "))),
        "custom": custom,
        "version": chosen.and_then(|c| c.get("version")).and_then(|v| v.first()).cloned().unwrap_or_else(|| ticket.version.to_string()),
    })
}

fn not_found(key: &str) -> Response {
    render::error_page(
        StatusCode::NOT_FOUND,
        "No such ticket",
        &format!("There is no ticket {key} in your queues."),
    )
}

/// A page for an error that is not about the form's values.
fn failed(e: &AgentError) -> Response {
    match e {
        AgentError::NotFound(key) => not_found(&key.to_string()),
        AgentError::Forbidden(message) => {
            render::error_page(StatusCode::FORBIDDEN, "Not allowed", message)
        }
        other => {
            tracing::error!(error = %other, "a console ticket request failed");
            render::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The desk cannot be reached",
                "The ticket store did not answer. Try again in a moment.",
            )
        }
    }
}

/// `GET /tickets/{key}/older?before=SEQ`: the next older entries, as a
/// piece of the page the script inserts.
#[derive(Debug, Deserialize)]
pub struct Older {
    before: u64,
}

/// `GET /tickets/{key}/older`.
pub async fn older(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
    Query(older): Query<Older>,
) -> Response {
    let Ok(key) = TicketKey::parse(&key) else {
        return not_found(&key);
    };
    let services = &console.services;
    let (entries, more) = match read::older(
        services,
        &session.principal,
        &key,
        older.before,
        ENTRIES_SHOWN,
    )
    .await
    {
        Ok(found) => found,
        Err(e) => return failed(&e),
    };
    let config = &services.config;
    render::page(
        "entries.html",
        json!({
            "entries": entries.iter().map(|e| show::entry(e, &key, config)).collect::<Vec<_>>(),
            "older": more.map(|before| format!("/tickets/{key}/older?before={before}")),
        }),
    )
}

/// `GET /tickets/{key}/state`: the ticket's version, for the script to
/// tell when the page is out of date.
pub async fn state(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
) -> Response {
    let Ok(key) = TicketKey::parse(&key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match agent::visible_ticket(&console.services, &key, &session.principal).await {
        Ok(ticket) => axum::Json(json!({ "version": ticket.version })).into_response(),
        Err(AgentError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A form body as its pairs, repeated names kept (`components`).
fn pairs(body: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default() {
        map.entry(k).or_default().push(v);
    }
    map
}

fn first<'a>(form: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    form.get(name).and_then(|v| v.first()).map(String::as_str)
}

/// An urlencoded form of this session's page (its CSRF token and origin
/// checked), as its pairs.
fn checked_form(
    headers: &HeaderMap,
    session: &Session,
    body: &[u8],
) -> Result<BTreeMap<String, Vec<String>>, session::Refused> {
    let form = pairs(body);
    session::check_form(
        headers,
        Some(session),
        first(&form, "csrf").unwrap_or_default(),
    )?;
    Ok(form)
}

/// The version a form was made from.
fn version_of(form: &BTreeMap<String, Vec<String>>) -> Option<u64> {
    first(form, "version").and_then(|v| v.parse().ok())
}

/// `POST /tickets/{key}/take`: the agent takes the ticket (as the version
/// they saw).
pub async fn take(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let form = match checked_form(&headers, &session, &body) {
        Ok(form) => form,
        Err(refused) => return refused.into_response(),
    };
    let update = AgentUpdate {
        assignee: Some(Some(session.principal.login.clone())),
        expected_version: version_of(&form),
        ..AgentUpdate::default()
    };
    apply(&console, &session, &key, update, "taken", None).await
}

/// `POST /tickets/{key}/escalation-rating`: the agent rates the help line
/// 2 gave on the ticket's latest escalation (`score`, `comment`).
pub async fn rate_escalation(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let form = match checked_form(&headers, &session, &body) {
        Ok(form) => form,
        Err(refused) => return refused.into_response(),
    };
    let Ok(ticket_key) = TicketKey::parse(&key) else {
        return not_found(&key);
    };
    let value = |name: &str| form.get(name).and_then(|v| v.first()).map(String::as_str);
    let rated = helpdesk::csat::escalation::rate_escalation(
        &console.services,
        &ticket_key,
        &session.principal,
        value("score").unwrap_or_default(),
        value("comment"),
    )
    .await;
    match rated {
        Ok(_) => Redirect::to(&format!("/tickets/{key}?done=rated")).into_response(),
        Err(e) => not_saved(&console, &session, &key, e, None).await,
    }
}

/// `POST /tickets/{key}/fields`: the fields the agent changed, written as
/// one change at the version they saw, or nothing.
pub async fn fields(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let form = match checked_form(&headers, &session, &body) {
        Ok(form) => form,
        Err(refused) => return refused.into_response(),
    };
    let Ok(ticket_key) = TicketKey::parse(&key) else {
        return not_found(&key);
    };
    let services = &console.services;
    let current = match agent::visible_ticket(services, &ticket_key, &session.principal).await {
        Ok(ticket) => ticket,
        Err(e) => return failed(&e),
    };
    let Some(queue) = services.config.queues.get(&current.queue) else {
        return not_found(&key);
    };
    let update = match changes(&current, queue, &form) {
        Ok(update) => update,
        Err(message) => {
            let notice = Notice {
                kind: "problem",
                text: message,
                fields: Some(form),
                ..Notice::default()
            };
            return ticket_page(
                &console,
                &session,
                &key,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if unchanged(&update) {
        return Redirect::to(&format!("/tickets/{key}?done=unchanged")).into_response();
    }
    apply(&console, &session, &key, update, "saved", Some(form)).await
}

/// Whether `update` changes no field (a form saved as it was shown: nothing
/// to write).
fn unchanged(update: &AgentUpdate) -> bool {
    update.status.is_none()
        && update.priority.is_none()
        && update.assignee.is_none()
        && update.line.is_none()
        && update.components.is_none()
        && update.tags.is_none()
        && update.custom_fields.is_empty()
}

/// The changes the fields form asks for: only the fields whose value
/// differs from the ticket's.
fn changes(
    ticket: &Ticket,
    queue: &Queue,
    form: &BTreeMap<String, Vec<String>>,
) -> Result<AgentUpdate, String> {
    let mut update = AgentUpdate {
        expected_version: version_of(form),
        ..AgentUpdate::default()
    };
    if let Some(status) = first(form, "status").filter(|s| *s != ticket.status) {
        update.status = Some(status.to_owned());
    }
    if let Some(priority) = first(form, "priority").filter(|p| *p != ticket.priority) {
        update.priority = Some(priority.to_owned());
    }
    if let Some(line) = first(form, "line") {
        let line = match line {
            "" => None,
            n => Some(
                n.parse::<u8>()
                    .map_err(|_| format!("{n:?} is not a line"))?,
            ),
        };
        if line != ticket.line {
            update.line = Some(line);
        }
    }
    if let Some(assignee) = first(form, "assignee") {
        let assignee = (!assignee.is_empty()).then(|| assignee.to_owned());
        if assignee != ticket.assignee {
            update.assignee = Some(assignee);
        }
    }
    let components = form.get("components").cloned().unwrap_or_default();
    if components != ticket.components {
        update.components = Some(components);
    }
    if let Some(tags) = first(form, "tags") {
        let tags: Vec<String> = tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        if tags != ticket.tags {
            update.tags = Some(tags);
        }
    }
    for (id, field) in &queue.custom_fields {
        let Some(given) = first(form, &format!("cf.{id}")) else {
            continue;
        };
        let given = given.trim();
        let value = match (given, field.field_type) {
            ("", _) => None,
            // A whole number stays one (5, not 5.0), as the API takes it.
            (n, CustomFieldType::Number) => match n.parse::<i64>() {
                Ok(whole) => Some(json!(whole)),
                Err(_) => Some(json!(n.parse::<f64>().map_err(|_| {
                    format!("{}: {n:?} is not a number", field.label.value)
                })?)),
            },
            (text, _) => Some(json!(text)),
        };
        if value.as_ref() != ticket.custom_fields.get(id) {
            update.custom_fields.insert(id.clone(), value);
        }
    }
    Ok(update)
}

/// Writes `update` and answers: back to the page with `done`, or the page
/// with what went wrong (the agent's `fields` kept).
async fn apply(
    console: &Console,
    session: &Session,
    key: &str,
    update: AgentUpdate,
    done: &str,
    fields: Option<BTreeMap<String, Vec<String>>>,
) -> Response {
    let Ok(ticket_key) = TicketKey::parse(key) else {
        return not_found(key);
    };
    match agent::update(&console.services, &ticket_key, &session.principal, update).await {
        Ok(_) => Redirect::to(&format!("/tickets/{key}?done={done}")).into_response(),
        Err(e) => not_saved(console, session, key, e, fields).await,
    }
}

/// The ticket page saying why a change was not saved, with the agent's
/// choices kept in the form.
async fn not_saved(
    console: &Console,
    session: &Session,
    key: &str,
    e: AgentError,
    fields: Option<BTreeMap<String, Vec<String>>>,
) -> Response {
    match e {
        AgentError::Stale { current, .. } => {
            let notice = Notice {
                kind: "stale",
                text: format!(
                    "Someone else changed this ticket while you were editing it (it is at version {current} now). Nothing of yours was saved: the page now shows the ticket as it is, with your choices kept in the form. Check them and save again."
                ),
                fields: fields.map(|mut f| {
                    f.insert("version".into(), vec![current.to_string()]);
                    f
                }),
                ..Notice::default()
            };
            ticket_page(console, session, key, Some(notice), StatusCode::CONFLICT).await
        }
        AgentError::Invalid { field, message } => {
            let notice = Notice {
                kind: "problem",
                text: format!("Not saved: {field}: {message}"),
                fields,
                ..Notice::default()
            };
            ticket_page(
                console,
                session,
                key,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        AgentError::Forbidden(message) | AgentError::Closed(message) => {
            let notice = Notice {
                kind: "problem",
                text: format!("Not saved: {message}"),
                fields,
                ..Notice::default()
            };
            ticket_page(console, session, key, Some(notice), StatusCode::FORBIDDEN).await
        }
        e => failed(&e),
    }
}

/// `POST /tickets/{key}/comments` (multipart): an answer or a note, with
/// files. Read the form (keeping its files as uploads), check it came
/// from this session's page, make the update, write it; what goes wrong
/// comes back on the page with the text the agent wrote.
pub async fn comment(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(key): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Ok(multipart) = multipart else {
        return render::error_page(
            StatusCode::BAD_REQUEST,
            "Not sent",
            "The form did not arrive whole. Go back and send it again.",
        );
    };
    let written = match read_comment(&console, &session, multipart).await {
        Ok(written) => written,
        Err(problem) => return problem.into_response(),
    };
    if let Err(refused) = session::check_form(&headers, Some(&session), &written.csrf) {
        return refused.into_response();
    }
    let Ok(ticket_key) = TicketKey::parse(&key) else {
        return not_found(&key);
    };
    let draft = json!({ "body": written.body, "public": written.public, "to": written.to, "cc": written.cc });
    let back = |text: String, status: StatusCode| {
        let notice = Notice {
            kind: "problem",
            text,
            draft: Some(draft.clone()),
            ..Notice::default()
        };
        ticket_page(&console, &session, &key, Some(notice), status)
    };
    let update = match comment_update(&written) {
        Ok(update) => update,
        Err(problem) => return back(problem, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    match agent::update(&console.services, &ticket_key, &session.principal, update).await {
        Ok(updated) => {
            let done = match (&updated.mail, written.public) {
                (_, false) => "noted",
                (Some(helpdesk::mail::send::SendOutcome::Suppressed { .. }), true) => "held",
                _ => "answered",
            };
            Redirect::to(&format!("/tickets/{key}?done={done}#timeline")).into_response()
        }
        Err(AgentError::Mail(message)) => {
            let notice = Notice {
                kind: "problem",
                text: format!(
                    "Your answer is saved on the ticket, but its mail could not be sent: {message}"
                ),
                ..Notice::default()
            };
            ticket_page(
                &console,
                &session,
                &key,
                Some(notice),
                StatusCode::BAD_GATEWAY,
            )
            .await
        }
        Err(AgentError::Invalid { field, message }) => {
            back(
                format!("Not sent: {field}: {message}"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AgentError::Closed(message) | AgentError::Forbidden(message)) => {
            back(format!("Not sent: {message}"), StatusCode::CONFLICT).await
        }
        Err(e) => failed(&e),
    }
}

/// The update a comment form asks for, or what is wrong with it.
fn comment_update(written: &Written) -> Result<AgentUpdate, String> {
    if written.body.trim().is_empty() {
        return Err("Write something before sending.".into());
    }
    if let Some(problem) = &written.file_problem {
        return Err(problem.clone());
    }
    let to = addresses(&written.to)?;
    let cc = addresses(&written.cc)?;
    if !written.public && (!to.is_empty() || !cc.is_empty()) {
        return Err(
            "An internal note is mailed to no one: leave To and Cc empty, or send a public answer."
                .into(),
        );
    }
    Ok(AgentUpdate {
        comment: Some((written.public, written.body.clone())),
        to: (!to.is_empty()).then_some(to),
        cc,
        attachments: written.uploads.clone(),
        idempotency_key: written.idempotency.clone(),
        ..AgentUpdate::default()
    })
}

/// A comment form as sent.
#[derive(Debug, Default)]
struct Written {
    csrf: String,
    body: String,
    public: bool,
    to: String,
    cc: String,
    idempotency: Option<String>,
    uploads: Vec<String>,
    file_problem: Option<String>,
}

/// Reads the comment form, keeping each file it carries as an upload.
async fn read_comment(
    console: &Console,
    session: &Session,
    mut multipart: Multipart,
) -> Result<Written, Response> {
    let too_large = || {
        render::error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            "The files are larger than the desk takes. Go back and attach smaller files.",
        )
    };
    let mut written = Written::default();
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => {
                return Err(render::error_page(
                    StatusCode::BAD_REQUEST,
                    "Not sent",
                    "The form did not arrive whole. Go back and send it again.",
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = field.bytes().await.map_err(|_| too_large())?;
            if !file_name.is_empty() || !bytes.is_empty() {
                files.push((file_name, content_type, bytes));
            }
            continue;
        }
        let text = field.text().await.unwrap_or_default();
        match name.as_str() {
            "csrf" => written.csrf = text,
            "body" => written.body = text,
            "visibility" => written.public = text == "public",
            "to" => written.to = text,
            "cc" => written.cc = text,
            "idempotency" => {
                written.idempotency = Some(text).filter(|t| !t.is_empty() && t.len() <= 200)
            }
            _ => {}
        }
    }
    // Files are kept only for a form of this session.
    if !auth_ok(session, &written.csrf) {
        return Ok(written);
    }
    if files.len() > uploads::FILES_PER_COMMENT {
        written.file_problem = Some(format!(
            "Attach at most {} files to one comment.",
            uploads::FILES_PER_COMMENT
        ));
        return Ok(written);
    }
    for (name, content_type, bytes) in files {
        let name = if name.is_empty() {
            "file".to_owned()
        } else {
            name
        };
        match uploads::keep_upload(
            &console.services,
            &session.principal,
            &name,
            &content_type,
            bytes,
        )
        .await
        {
            Ok(upload) => written.uploads.push(upload.id),
            Err(e) => {
                written.file_problem = Some(format!("Not sent: {e}"));
                return Ok(written);
            }
        }
    }
    Ok(written)
}

fn auth_ok(session: &Session, csrf: &str) -> bool {
    helpdesk::auth::same_token(csrf, &session.csrf)
}

/// Addresses separated by commas, semicolons or spaces; each checked.
fn addresses(text: &str) -> Result<Vec<EmailAddress>, String> {
    text.split([',', ';', ' ', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| EmailAddress::parse(a).map_err(|_| format!("{a:?} is not an email address.")))
        .collect()
}

/// `GET /tickets/{key}/attachments/{seq}`: a file of the ticket, as a
/// download.
pub async fn attachment(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path((key, seq)): Path<(String, u64)>,
) -> Response {
    let Ok(ticket_key) = TicketKey::parse(&key) else {
        return not_found(&key);
    };
    match read::attachment(&console.services, &session.principal, &ticket_key, seq).await {
        Ok(Some(file)) => helpdesk_api::files::file_response(file),
        Ok(None) => render::error_page(
            StatusCode::NOT_FOUND,
            "No such file",
            "This ticket has no such file.",
        ),
        Err(e) => failed(&e),
    }
}
