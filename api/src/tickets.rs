//! `/tickets`: list, show, change (`PATCH` with `If-Match`) and comment.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use helpdesk::domain::QueueKey;
use helpdesk::domain::{Channel, EmailAddress, TicketKey, TimelineEntry};
use helpdesk::services::Services;
use helpdesk::store::listing::ListingRules;
use helpdesk::tickets::agent::{self, AgentUpdate, HandMade, Updated};
use helpdesk::tickets::list::{self, Wanted};
use helpdesk::tickets::{Opened, TicketDraft};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Agent;
use crate::openapi::{Problem, TicketList, TicketRow};
use crate::problem::ApiError;
use crate::views;

/// Rows per page when the request does not say.
const DEFAULT_LIMIT: usize = 50;

/// `GET /tickets` parameters (see [`helpdesk::tickets::list`] for what
/// combines: one facet at a time, with `view=all` or `open`; a sort other
/// than `created` with `view=open`, `mine` or `unassigned`, or `updated`
/// with `all`; `q` alone).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `all` (default), `open`, `mine` (your open tickets) or `unassigned`
    /// (open ones nobody holds).
    view: Option<String>,
    /// One status.
    status: Option<String>,
    /// One of your queues.
    queue: Option<String>,
    /// One agent's tickets (with `view=all`).
    assignee: Option<String>,
    /// One support line.
    line: Option<String>,
    /// One priority level.
    priority: Option<String>,
    /// One component.
    component: Option<String>,
    /// One tag.
    tag: Option<String>,
    /// One channel.
    channel: Option<String>,
    /// One requester's address.
    requester: Option<String>,
    /// One organization.
    organization: Option<String>,
    /// `at_risk` or `breached`.
    sla: Option<String>,
    /// A ticket key or number, an address, or words (SQLite: of the
    /// summary, description and messages; DynamoDB: of the summary).
    q: Option<String>,
    /// `created` (default), `updated`, `priority` or `sla_deadline`.
    sort: Option<String>,
    /// `asc` or `desc` (default: newest, most urgent first; nearest
    /// deadline first).
    order: Option<String>,
    /// Rows per page, 1 to 200 (default 50).
    limit: Option<usize>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

impl From<ListParams> for Wanted {
    fn from(p: ListParams) -> Self {
        Self {
            view: p.view,
            status: p.status,
            queue: p.queue,
            assignee: p.assignee,
            line: p.line,
            priority: p.priority,
            component: p.component,
            tag: p.tag,
            channel: p.channel,
            requester: p.requester,
            organization: p.organization,
            sla: p.sla,
            q: p.q,
            sort: p.sort,
            order: p.order,
            limit: p.limit.unwrap_or(DEFAULT_LIMIT),
            cursor: p.cursor,
        }
    }
}

/// `GET /tickets`: one page of the tickets of the agent's queues as the
/// view, filter, sort or search asks, with the cursor of the next page
/// (`null` on the last).
#[utoipa::path(get, path = "/tickets", tag = "tickets", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tickets", body = TicketList),
        (status = 400, description = "An unknown parameter", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 422, description = "A value or a combination no index serves", body = Problem),
    ))]
pub async fn list(
    State(services): State<Services>,
    Agent(agent): Agent,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|e| {
        let text = e.body_text();
        ApiError::malformed(field_of_query(&text), text)
    })?;
    let request = list::plan(&services.config, &agent, &Wanted::from(params))?;
    let rules = ListingRules::of(&services.config);
    let page = list::page(services.store.as_ref(), &rules, &request)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let now = services.clock.now();
    let rows: Vec<Value> = page.tickets.iter().map(|t| views::row(t, now)).collect();
    Ok(Json(json!({
        "tickets": rows,
        "next_cursor": page.next.map(|c| c.encode()),
    })))
}

/// `GET /views`: how many tickets each view and each status of the
/// agent's queues holds (the console's side bar).
#[utoipa::path(get, path = "/views", tag = "tickets", security(("bearer" = [])),
    responses(
        (status = 200, description = "`views`: [{view, query, count}] over your queues; `queues`: [{queue, name, statuses: [{status, category, count}], lines: [{line, count}]}]", body = Object),
        (status = 401, description = "No valid credentials", body = Problem),
    ))]
pub async fn views(
    State(services): State<Services>,
    Agent(agent): Agent,
) -> Result<Json<helpdesk::tickets::views::Counts>, ApiError> {
    helpdesk::tickets::views::counts(&services.config, services.store.as_ref(), &agent)
        .await
        .map(Json)
        .map_err(|e| ApiError::store(&e))
}

/// The query parameter a rejection names (`unknown field `x``, or the
/// parameter before `: `).
fn field_of_query(text: &str) -> Option<String> {
    if let Some(rest) = text.split("unknown field `").nth(1) {
        return rest.split('`').next().map(str::to_owned);
    }
    let detail = text.split("Failed to deserialize query string: ").nth(1)?;
    let (field, _) = detail.split_once(": ")?;
    (!field.contains(' ')).then(|| field.to_owned())
}

/// `GET /tickets/{key}`: the ticket with its timeline; its version is
/// also the `ETag`.
#[utoipa::path(get, path = "/tickets/{key}", tag = "tickets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The ticket key, `SUP-42`")),
    responses(
        (status = 200, description = "The ticket: its row's fields, `version`, description, custom fields, participants, SLA timers, `timeline` (mail in and out, comments, field changes, SLA events, trigger notes), `requester_tickets` (their newest other tickets in your queues), `attachments` (each with its download `href`); the version is also the `ETag`", body = Object),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 404, description = "No such ticket in your queues", body = Problem),
    ))]
pub async fn show(
    State(services): State<Services>,
    Agent(agent): Agent,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let key = ticket_key(&key)?;
    let ticket = agent::visible_ticket(&services, &key, &agent).await?;
    let timeline: Vec<TimelineEntry> = services
        .store
        .timeline(&key)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let others = helpdesk::tickets::read::requester_tickets(&services, &agent, &ticket)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let now = services.clock.now();
    let mut body = views::full(&ticket, &timeline, now);
    if let Value::Object(fields) = &mut body {
        fields.insert(
            "requester_tickets".into(),
            others.iter().map(|t| views::row(t, now)).collect(),
        );
        fields.insert("attachments".into(), crate::files::listed(&key, &timeline));
    }
    Ok(with_etag(ticket.version, Json(body)))
}

/// `POST /tickets` body: a ticket opened by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// The queue (one of yours).
    queue: String,
    /// The summary.
    summary: String,
    /// What was asked.
    #[serde(default)]
    description: String,
    /// Who asked.
    requester: RequesterBody,
    /// `phone`, `chat`, `email`, `api`, ...
    #[schema(value_type = String)]
    channel: Channel,
    /// A priority level.
    priority: Option<String>,
    /// A support line.
    line: Option<u8>,
    /// Components.
    #[serde(default)]
    components: Vec<String>,
    /// Tags.
    #[serde(default)]
    tags: Vec<String>,
    /// An agent of the queue.
    assignee: Option<String>,
    /// Custom fields by id, typed as the queue configures them.
    #[serde(default)]
    #[schema(value_type = Object)]
    custom_fields: BTreeMap<String, Value>,
}

/// Who the hand-made ticket is for: an address, a name, a phone number
/// (at least one).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterBody {
    /// Their address.
    email: Option<String>,
    /// Their name.
    name: Option<String>,
    /// Their phone number.
    phone: Option<String>,
}

/// `POST /tickets`: an agent opens a ticket by hand (after a phone call:
/// `"channel": "phone"`), through the same path forms and mail take, so
/// routing, triggers and SLA timers apply alike. 201 with the ticket and
/// its `Location`; with an `Idempotency-Key` already used for the same
/// values, 200 with the ticket it opened.
#[utoipa::path(post, path = "/tickets", tag = "tickets", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key opens one ticket")),
    request_body = CreateBody,
    responses(
        (status = 201, description = "Opened; `Location` names it", body = TicketRow),
        (status = 200, description = "Opened before with this Idempotency-Key", body = TicketRow),
        (status = 400, description = "Not the JSON this route takes", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 422, description = "A value the configuration does not allow", body = Problem),
    ))]
pub async fn create(
    State(services): State<Services>,
    Agent(agent): Agent,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(json_error)?;
    let queue = QueueKey::parse(&body.queue)
        .map_err(|_| ApiError::invalid("queue", format!("{:?} is not a queue key", body.queue)))?;
    let email = body
        .requester
        .email
        .as_deref()
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|_| ApiError::invalid("requester.email", "not an email address"))?;
    let draft = TicketDraft {
        queue,
        summary: body.summary,
        description: body.description,
        priority: body.priority,
        line: body.line,
        components: body.components,
        tags: body.tags,
        assignee: body.assignee,
        requester_email: email,
        requester_name: body.requester.name,
        requester_phone: body.requester.phone,
        channel: body.channel,
        custom_fields: body.custom_fields,
    };
    let made = HandMade {
        draft,
        idempotency_key: idempotency_key(&headers)?,
    };
    let opened = agent::open_by_hand(&services, &agent, made).await?;
    let replayed = matches!(opened, Opened::Replayed(_));
    let ticket = agent::visible_ticket(&services, opened.key(), &agent).await?;
    let mut row = views::row(&ticket, services.clock.now());
    if let Value::Object(fields) = &mut row {
        fields.insert("version".into(), json!(ticket.version));
    }
    let mut response = with_etag(ticket.version, Json(row));
    *response.status_mut() = if replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/tickets/{}", ticket.key)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `PATCH /tickets/{key}` body: the fields to change. `assignee`, `line`
/// and custom field values take `null` to clear.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// A status of the ticket's queue.
    status: Option<String>,
    /// A priority level.
    priority: Option<String>,
    /// An agent of the queue, or `null` to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    assignee: Option<Option<String>>,
    /// A line of the queue, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u8>)]
    line: Option<Option<u8>>,
    /// The components (replaces them).
    components: Option<Vec<String>>,
    /// The tags (replaces them).
    tags: Option<Vec<String>>,
    /// Custom fields to set (`null` clears one).
    #[serde(default)]
    #[schema(value_type = Object)]
    custom_fields: BTreeMap<String, Option<Value>>,
}

/// `Some(None)` for an explicit `null`, so "clear it" differs from "leave
/// it" (absent, `None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /tickets/{key}` with `If-Match: <version>`: changes fields in one
/// write, or none (412 with the current version as `ETag` when the ticket
/// changed meanwhile).
#[utoipa::path(patch, path = "/tickets/{key}", tag = "tickets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The ticket key"),
           ("If-Match" = String, Header, description = "The version the change is based on (the ETag)")),
    request_body = ChangeBody,
    responses(
        (status = 200, description = "Changed; the new version is the `ETag`", body = TicketRow),
        (status = 400, description = "An unknown field or a wrong type", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 403, description = "Your role may not take a ticket someone else holds", body = Problem),
        (status = 404, description = "No such ticket in your queues", body = Problem),
        (status = 412, description = "Changed meanwhile: nothing written; the current version is the `ETag`", body = Problem),
        (status = 422, description = "A value the configuration does not allow", body = Problem),
        (status = 428, description = "No If-Match", body = Problem),
    ))]
pub async fn change(
    State(services): State<Services>,
    Agent(agent): Agent,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Result<Json<ChangeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let key = ticket_key(&key)?;
    let expected = if_match(&headers)?;
    let Json(body) = body.map_err(json_error)?;
    let update = AgentUpdate {
        status: body.status,
        priority: body.priority,
        assignee: body.assignee,
        line: body.line,
        components: body.components,
        tags: body.tags,
        custom_fields: body.custom_fields,
        expected_version: Some(expected),
        ..AgentUpdate::default()
    };
    let updated = agent::update(&services, &key, &agent, update).await?;
    Ok(answer(&services, &updated))
}

/// `POST /tickets/{key}/comments` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    /// The text.
    body: String,
    /// `true`: mailed to the requester and participants; `false`: an
    /// internal note.
    public: bool,
    /// A public answer's recipients, instead of the requester and the
    /// participants.
    to: Option<Vec<String>>,
    /// More recipients of a public answer; they become participants.
    #[serde(default)]
    cc: Vec<String>,
    /// Ids of files uploaded with `POST /uploads`, attached to the comment
    /// (and to the mail of a public answer).
    #[serde(default)]
    attachments: Vec<String>,
}

/// The addresses of `field`, each checked.
fn addresses(field: &str, given: &[String]) -> Result<Vec<EmailAddress>, ApiError> {
    given
        .iter()
        .map(|a| {
            EmailAddress::parse(a.trim())
                .map_err(|_| ApiError::invalid(field, format!("{a:?} is not an email address")))
        })
        .collect()
}

/// `POST /tickets/{key}/comments`: an internal note, or a public answer
/// mailed to the requester and participants.
#[utoipa::path(post, path = "/tickets/{key}/comments", tag = "tickets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The ticket key"),
           ("Idempotency-Key" = Option<String>, Header, description = "The same key comments once")),
    request_body = CommentBody,
    responses(
        (status = 201, description = "Added (and mailed when public: `mail.state`)", body = TicketRow),
        (status = 400, description = "Not the JSON this route takes", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 404, description = "No such ticket in your queues", body = Problem),
        (status = 409, description = "The ticket is closed and its queue allows no such comment", body = Problem),
        (status = 422, description = "An empty comment, an address that is not one, an attachment that is not an upload of yours", body = Problem),
    ))]
pub async fn comment(
    State(services): State<Services>,
    Agent(agent): Agent,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Result<Json<CommentBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let key = ticket_key(&key)?;
    let Json(body) = body.map_err(json_error)?;
    if body.body.trim().is_empty() {
        return Err(ApiError::invalid("body", "a comment has some text"));
    }
    if !body.public && (body.to.is_some() || !body.cc.is_empty()) {
        return Err(ApiError::invalid(
            "public",
            "an internal note is mailed to no one: to and cc are for public answers",
        ));
    }
    let to = body
        .to
        .as_deref()
        .map(|to| addresses("to", to))
        .transpose()?;
    if to.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::invalid(
            "to",
            "name at least one recipient, or leave to out",
        ));
    }
    let update = AgentUpdate {
        comment: Some((body.public, body.body)),
        to,
        cc: addresses("cc", &body.cc)?,
        attachments: body.attachments,
        idempotency_key: idempotency_key(&headers)?,
        ..AgentUpdate::default()
    };
    let updated = agent::update(&services, &key, &agent, update).await?;
    let mut response = answer(&services, &updated);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// `POST /tickets/{key}/escalation-rating` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationRatingBody {
    /// `good` or `bad` (`1` to `5` where the queue's survey has
    /// `scale: five`).
    score: String,
    /// What the rater adds.
    comment: Option<String>,
}

/// `POST /tickets/{key}/escalation-rating`: rates the help line 2 gave on
/// the ticket's latest escalation from line 1 (the agent who held it last
/// on line 2); rating the same escalation again replaces the rating.
#[utoipa::path(post, path = "/tickets/{key}/escalation-rating", tag = "tickets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The ticket key")),
    request_body = EscalationRatingBody,
    responses(
        (status = 201, description = "Rated: `escalation` (the line change's entry), `escalated_at`, `agent` rated, `score`"),
        (status = 400, description = "Not the JSON this route takes", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 403, description = "The rater held the ticket on line 2: nobody rates their own help", body = Problem),
        (status = 404, description = "No such ticket in your queues", body = Problem),
        (status = 422, description = "Never escalated, nobody held it on line 2, a score the scale does not offer, a comment too long", body = Problem),
    ))]
pub async fn rate_escalation(
    State(services): State<Services>,
    Agent(agent): Agent,
    Path(key): Path<String>,
    body: Result<Json<EscalationRatingBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let key = ticket_key(&key)?;
    let Json(body) = body.map_err(json_error)?;
    let (ticket, rated) = helpdesk::csat::escalation::rate_escalation(
        &services,
        &key,
        &agent,
        &body.score,
        body.comment.as_deref(),
    )
    .await?;
    let body = json!({
        "ticket": ticket.key,
        "version": ticket.version,
        "escalation": rated.seq,
        "escalated_at": rated.at,
        "agent": rated.helper,
        "score": rated.rating,
    });
    let mut response = with_etag(ticket.version, Json(body));
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// The ticket as written, with its new version as `ETag`, and what
/// happened to the mail.
fn answer(services: &Services, updated: &Updated) -> Response {
    use helpdesk::mail::send::SendOutcome;
    let now = services.clock.now();
    let mail = match &updated.mail {
        Some(SendOutcome::Sent { message_id } | SendOutcome::AlreadySent { message_id }) => {
            json!({ "state": "sent", "message_id": message_id })
        }
        Some(SendOutcome::Suppressed { reason }) => json!({ "state": "held", "reason": reason }),
        None => Value::Null,
    };
    let mut body = views::row(&updated.ticket, now);
    if let Value::Object(fields) = &mut body {
        fields.insert("version".into(), json!(updated.ticket.version));
        fields.insert("mail".into(), mail);
    }
    with_etag(updated.ticket.version, Json(body))
}

fn with_etag(version: u64, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn ticket_key(text: &str) -> Result<TicketKey, ApiError> {
    TicketKey::parse(text).map_err(|_| ApiError::not_found(format!("no ticket {text:?}")))
}

/// The version of `If-Match` (`"7"`, `7` or `W/"7"`); required.
fn if_match(headers: &HeaderMap) -> Result<u64, ApiError> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or_else(ApiError::precondition_required)?;
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.trim_matches('"')
        .parse::<u64>()
        .map_err(|_| ApiError::invalid("If-Match", "the ticket's version, as its ETag gave it"))
}

/// `Idempotency-Key`, when sent: the same key writes once.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(text) if !text.is_empty() && text.len() <= 200 => Ok(Some(text.to_owned())),
        _ => Err(ApiError::invalid(
            "Idempotency-Key",
            "1 to 200 visible characters",
        )),
    }
}

/// A body that is not the JSON a route takes: 400 naming the field when
/// serde says which (an unknown one, a wrong type), 413 when too large.
fn json_error(e: JsonRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::too_large(e.body_text());
    }
    let text = e.body_text();
    ApiError::malformed(field_of(&text), text)
}

/// The field a serde error is about: the unknown one it names, or the
/// path it was at (axum reports `...target type: <path>: <message>`).
fn field_of(text: &str) -> Option<String> {
    if let Some(rest) = text.split("unknown field `").nth(1) {
        return rest.split('`').next().map(str::to_owned);
    }
    let detail = text.split("target type: ").nth(1)?;
    let (path, _) = detail.split_once(": ")?;
    (path != "." && !path.contains(' ')).then(|| path.to_owned())
}
