//! `/contacts`: the desk's customers, found by id or address, with their
//! tickets in the agent's queues.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use helpdesk::domain::{Contact, ContactId, EmailAddress};
use helpdesk::services::Services;
use helpdesk::store::listing::ListingRules;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::auth::Agent;
use crate::openapi::Problem;
use crate::problem::ApiError;
use crate::views;

/// How many of a contact's tickets are shown with it.
const TICKETS_SHOWN: usize = 50;

/// `GET /contacts` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindParams {
    /// An address of the contact.
    email: String,
}

/// `GET /contacts?email=`: the contact that owns the address (a list of
/// at most one).
#[utoipa::path(get, path = "/contacts", tag = "contacts", security(("bearer" = [])),
    params(FindParams),
    responses(
        (status = 200, description = "`contacts`: the contact owning the address, or none", body = Object),
        (status = 400, description = "No email parameter", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 422, description = "Not an address", body = Problem),
    ))]
pub async fn find(
    State(services): State<Services>,
    Agent(_agent): Agent,
    params: Result<Query<FindParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::malformed(Some("email".into()), e.body_text()))?;
    let email = EmailAddress::parse(params.email.trim())
        .map_err(|_| ApiError::invalid("email", "not an email address"))?;
    let found = services
        .store
        .find_contact_by_email(&email)
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(Json(
        json!({ "contacts": found.iter().map(contact_view).collect::<Vec<_>>() }),
    ))
}

/// `GET /contacts/{id}`: the contact and their newest tickets in your
/// queues.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact id")),
    responses(
        (status = 200, description = "The contact (`id`, `name`, `emails`, `phones`, `organization`) and `tickets`, their newest in your queues", body = Object),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 404, description = "No such contact", body = Problem),
    ))]
pub async fn show(
    State(services): State<Services>,
    Agent(agent): Agent,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let contact = services
        .store
        .get_contact(&ContactId::from_stored(id.clone()))
        .await
        .map_err(|e| ApiError::store(&e))?
        .ok_or_else(|| ApiError::not_found(format!("no contact {id:?}")))?;
    let queues = agent.queues(&services.config);
    let tickets = helpdesk::tickets::list::of_requester(
        services.store.as_ref(),
        &ListingRules::of(&services.config),
        &queues,
        &contact.emails,
        TICKETS_SHOWN,
    )
    .await
    .map_err(|e| ApiError::store(&e))?;
    let now = services.clock.now();
    let mut view = contact_view(&contact);
    if let Value::Object(fields) = &mut view {
        fields.insert(
            "tickets".into(),
            tickets.iter().map(|t| views::row(t, now)).collect(),
        );
    }
    Ok(Json(view))
}

fn contact_view(contact: &Contact) -> Value {
    json!({
        "id": contact.id.as_str(),
        "name": contact.name,
        "emails": contact.emails,
        "phones": contact.phones,
        "organization": contact.organization,
        "created_at": contact.created_at,
    })
}
