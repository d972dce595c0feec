//! The OpenAPI 3.1 document of the API, `GET /api/v1/openapi.json`: the
//! fixed parts and the shapes of the answers here, the operations from the
//! handlers' `#[utoipa::path]` annotations, gathered from the list the
//! router is built from ([`crate::document`]), so a route cannot be served
//! without being described.

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's fixed parts: title, version, the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Helpdesk agent API",
        description = "Agents find, read, change and answer tickets. Every route but this document takes `Authorization: Bearer <token>`: a personal API token (`helpdesk agents token`) or, on AWS, a JWT of the stack's Cognito user pool. Errors are `application/problem+json` (RFC 9457) naming the field at fault in `errors[].field`."
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    components(schemas(Problem, FieldProblem, TicketRow, TicketList, SlaDeadline))
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme every operation names.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// An error (RFC 9457 problem details).
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    pub r#type: String,
    /// A short summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The fields at fault.
    pub errors: Vec<FieldProblem>,
}

/// One field at fault.
#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field or parameter (`status`, `requester.email`, `If-Match`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The SLA deadline nearest to breach among a ticket's running timers.
#[derive(Serialize, ToSchema)]
pub struct SlaDeadline {
    /// When, if a timer runs.
    pub deadline: Option<String>,
    /// `none`, `running`, `at_risk` or `breached`.
    pub state: String,
}

/// A ticket as a row of a list.
#[derive(Serialize, ToSchema)]
pub struct TicketRow {
    /// `SUP-42`.
    pub key: String,
    /// The queue.
    pub queue: String,
    /// The summary.
    pub summary: String,
    /// The status.
    pub status: String,
    /// The support line.
    pub line: Option<u8>,
    /// The priority level.
    pub priority: String,
    /// The assignee's login.
    pub assignee: Option<String>,
    /// `{email, name, phone, contact_id}`.
    #[schema(value_type = Object)]
    pub requester: serde_json::Value,
    /// Components.
    pub components: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// `form`, `email`, `api`, `chat`, `phone`, `import` or `automation`.
    pub channel: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The nearest SLA deadline.
    pub sla: SlaDeadline,
}

/// A page of tickets.
#[derive(Serialize, ToSchema)]
pub struct TicketList {
    /// The rows.
    pub tickets: Vec<TicketRow>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
