//! `/reports/{name}`: a report over the tickets of the agent's queues, the
//! same document as `helpdesk report NAME --json`
//! (`helpdesk::reports::run`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::NaiveDate;
use helpdesk::domain::QueueKey;
use helpdesk::reports::Asked;
use helpdesk::reports::run::{self, Document, Name, RunError};
use helpdesk::services::Services;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Agent;
use crate::openapi::Problem;
use crate::problem::ApiError;

/// `GET /reports/{name}` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The first day, `YYYY-MM-DD` (default: 29 days before `to`).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// The last day, `YYYY-MM-DD` (default: today in `zone`).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// One of your queues (default: all of them).
    queue: Option<String>,
    /// `volume`: `day` (default), `week` or `month`; `breakdown`,
    /// `reopens` and `time-in-status`: a field (`component`, `channel`,
    /// `line`, `priority`, `organization`, `assignee`, `status`, `tag` or
    /// a select custom field); `response-times`: `month` (default),
    /// `assignee` or `channel`; `sla`: `rule` (default), `month` or
    /// `assignee`.
    by: Option<String>,
    /// The IANA zone whose calendar days the periods are (default: the
    /// desk's `desk.zone`, else `UTC`).
    zone: Option<String>,
}

/// `GET /reports/{name}`: `volume` (created, resolved and reopened per
/// period, and the backlog at each period's end), `breakdown` (created,
/// resolved and open by a field's value), `assignee-status` (open and
/// created tickets by assignee x status), `response-times` (first
/// response, next response and resolution: median, p90 and mean in
/// business and calendar seconds), `sla` (timers met, breached, running;
/// compliance), `reopens` (reopen rate and who reopened),
/// `time-in-status` (business and calendar time per status) or `agents`
/// (per agent), over your queues.
#[utoipa::path(get, path = "/reports/{name}", tag = "reports", security(("bearer" = [])),
    params(("name" = String, Path, description = "`volume`, `breakdown`, `assignee-status`, `response-times`, `sla`, `reopens`, `time-in-status` or `agents`"), ReportParams),
    responses(
        (status = 200, description = "`{report, from, to, by, zone, queues, columns, rows: [{...}]}`: one object per row with the `columns` as keys; volume rows `{period, created, resolved, reopened, backlog}`", body = Object),
        (status = 400, description = "An unknown parameter", body = Problem),
        (status = 401, description = "No valid credentials", body = Problem),
        (status = 404, description = "No such report", body = Problem),
        (status = 422, description = "A value that cannot be used (a date, a grouping, a zone, a queue not yours)", body = Problem),
    ))]
pub async fn show(
    State(services): State<Services>,
    Agent(agent): Agent,
    Path(name): Path<String>,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Json<Document>, ApiError> {
    let Some(report) = Name::parse(&name) else {
        let names: Vec<&str> = Name::ALL.iter().map(|(n, _)| *n).collect();
        return Err(ApiError::not_found(format!(
            "no report {name:?}; the reports are: {}",
            names.join(", ")
        )));
    };
    let Query(params) = params.map_err(|e| ApiError::malformed(None, e.body_text()))?;
    let config = &services.config;
    let mine = agent.queues(config);
    let queues: Vec<QueueKey> = match &params.queue {
        None => mine,
        Some(wanted) => {
            let queue = QueueKey::parse(wanted)
                .ok()
                .filter(|q| mine.contains(q))
                .ok_or_else(|| {
                    ApiError::invalid("queue", format!("{wanted:?} is not one of your queues"))
                })?;
            vec![queue]
        }
    };
    let asked = Asked {
        from: params.from,
        to: params.to,
        by: params.by,
        zone: params.zone,
    };
    let now = services.clock.now();
    match run::from_store(config, services.store.as_ref(), report, queues, &asked, now).await {
        Ok(document) => Ok(Json(document)),
        Err(RunError::Invalid(field, message)) => Err(ApiError::invalid(field, message)),
        Err(RunError::Store(e)) => Err(ApiError::store(&e)),
    }
}
