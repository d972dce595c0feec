//! `GET /reports`: the dashboard, and `GET /reports/{name}.csv`, a
//! report's rows for spreadsheets. The same reports as `helpdesk report`
//! and the API's `/reports/{name}` (`helpdesk::reports::run`), over the
//! agent's queues: the volume drawn as inline SVG (no chart library, no
//! external service), a breakdown, and the assignee x status table.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use helpdesk::domain::QueueKey;
use helpdesk::reports::Asked;
use helpdesk::reports::gather::gather;
use helpdesk::reports::metrics::MetricEvent;
use helpdesk::reports::run::{Document, Name, RunError, document};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::session::SignedIn;
use crate::show;
use crate::{Console, render};

/// The dashboard's query string; empty values are no value.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    field: Option<String>,
    zone: Option<String>,
    queue: Option<String>,
}

fn value(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn date(v: &Option<String>) -> Result<Option<NaiveDate>, String> {
    value(v)
        .map(|d| {
            d.parse::<NaiveDate>()
                .map_err(|_| format!("{d:?} is not a date (YYYY-MM-DD)"))
        })
        .transpose()
}

type Problem = (StatusCode, String);

fn invalid(text: String) -> Problem {
    (StatusCode::UNPROCESSABLE_ENTITY, text)
}

/// What was asked, with `by` as given for `name`.
fn asked(params: &Params, by: Option<&str>) -> Result<Asked, Problem> {
    Ok(Asked {
        from: date(&params.from).map_err(invalid)?,
        to: date(&params.to).map_err(invalid)?,
        by: by.map(str::to_owned),
        zone: value(&params.zone).map(str::to_owned),
    })
}

/// The agent's queues the parameters ask for, and their metric events.
async fn events(
    console: &Console,
    agent: &helpdesk::auth::Principal,
    params: &Params,
) -> Result<(Vec<QueueKey>, Vec<MetricEvent>), Problem> {
    let config = &console.services.config;
    let mine = agent.queues(config);
    let queues = match value(&params.queue) {
        None => mine,
        Some(wanted) => vec![
            QueueKey::parse(wanted)
                .ok()
                .filter(|q| mine.contains(q))
                .ok_or_else(|| invalid(format!("{wanted:?} is not one of your queues")))?,
        ],
    };
    // What is asked is checked before anything is read.
    let now = console.services.clock.now();
    document(
        &[],
        Name::Volume,
        Vec::new(),
        &asked(params, value(&params.by))?,
        now,
    )
    .map_err(said)?;
    let events = gather(config, console.services.store.as_ref(), &queues)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a report could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The tickets cannot be read right now.".to_owned(),
            )
        })?;
    Ok((queues, events))
}

fn said(e: RunError) -> Problem {
    match e {
        RunError::Invalid(field, text) => invalid(format!("{field}: {text}")),
        RunError::Store(e) => {
            tracing::error!(error = %e, "a report could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The tickets cannot be read right now.".to_owned(),
            )
        }
    }
}

/// The dashboard's three reports.
async fn dashboard(
    console: &Console,
    agent: &helpdesk::auth::Principal,
    params: &Params,
) -> Result<[Document; 3], Problem> {
    let (queues, events) = events(console, agent, params).await?;
    let now = console.services.clock.now();
    let make = |name: Name, by: Option<&str>| -> Result<Document, Problem> {
        document(&events, name, queues.clone(), &asked(params, by)?, now).map_err(said)
    };
    Ok([
        make(Name::Volume, value(&params.by))?,
        make(Name::Breakdown, value(&params.field))?,
        make(Name::AssigneeStatus, None)?,
    ])
}

/// `GET /reports`.
pub async fn page(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Query(params): Query<Params>,
) -> Response {
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let (status, reports, problem) = match dashboard(&console, &session.principal, &params).await {
        Ok(reports) => (StatusCode::OK, Some(reports), None),
        Err((status, text)) => (status, None, Some(text)),
    };
    let context = json!({
        "chrome": show::chrome(&console, &session),
        "params": params,
        "problem": problem,
        "volume": reports.as_ref().map(|r| &r[0]),
        "breakdown": reports.as_ref().map(|r| &r[1]),
        "assignees": reports.as_ref().map(|r| &r[2]),
        "chart": reports.as_ref().map(|r| chart(&r[0].rows)),
        "query": query,
        "fields": ["component", "channel", "line", "priority", "organization", "assignee", "status"],
        "queues": session.principal.queues(&console.services.config).iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    render::page_with_status(status, "reports.html", context)
}

/// `GET /reports/{name}.csv` (`by` groups the volume, `field` the
/// breakdown).
pub async fn csv(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Path(file): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let Some(name) = file.strip_suffix(".csv").and_then(Name::parse) else {
        return render::error_page(
            StatusCode::NOT_FOUND,
            "No such report",
            "The reports are volume, breakdown and assignee-status.",
        );
    };
    let by = match name {
        Name::Volume => value(&params.by),
        Name::Breakdown => value(&params.field),
        Name::AssigneeStatus => None,
    };
    let made = async {
        let (queues, events) = events(&console, &session.principal, &params).await?;
        document(
            &events,
            name,
            queues,
            &asked(&params, by)?,
            console.services.clock.now(),
        )
        .map_err(said)
    };
    match made.await {
        Ok(report) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}-{}-{}.csv\"",
                        report.report, report.from, report.to
                    ),
                ),
            ],
            report.csv(),
        )
            .into_response(),
        Err((status, text)) => render::error_page(status, "No report", &text),
    }
}

/// The chart's size and margins, in SVG units.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 36.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// A number of a row (0 when absent).
fn number(row: &Value, column: &str) -> u64 {
    row[column].as_u64().unwrap_or(0)
}

/// The volume chart: per period a bar of tickets created and one of
/// resolved, and the backlog as a line; with the y axis's top value.
fn chart(rows: &[Value]) -> Value {
    let top = rows
        .iter()
        .flat_map(|r| {
            [
                number(r, "created"),
                number(r, "resolved"),
                number(r, "backlog"),
            ]
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / rows.len().max(1) as f64;
    let bar = (slot * 0.38).max(1.0);
    let y = |v: u64| TOP + plot_h - (v as f64 / top) * plot_h;
    let label_every = (rows.len() / 8).max(1);
    let bars: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let x = LEFT + i as f64 * slot + slot * 0.1;
            let (created, resolved) = (number(r, "created"), number(r, "resolved"));
            let period = r["period"].as_str().unwrap_or_default();
            json!({
                "created": { "x": x, "y": y(created), "h": HEIGHT - BOTTOM - y(created), "w": bar },
                "resolved": { "x": x + bar, "y": y(resolved), "h": HEIGHT - BOTTOM - y(resolved), "w": bar },
                "label": (i % label_every == 0).then_some(period),
                "label_x": x,
                "title": format!("{period}: {created} created, {resolved} resolved, {} reopened, backlog {}", number(r, "reopened"), number(r, "backlog")),
            })
        })
        .collect();
    let backlog: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{:.1},{:.1}",
                LEFT + i as f64 * slot + slot / 2.0,
                y(number(r, "backlog"))
            )
        })
        .collect();
    json!({
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "base": HEIGHT - BOTTOM,
        "top": TOP,
        "max": top as u64,
        "bars": bars,
        "backlog": backlog.join(" "),
    })
}
