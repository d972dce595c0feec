//! `GET /reports`: the dashboard, and `GET /reports/volume.csv`, its rows
//! for spreadsheets. The same report as `helpdesk report volume` and the
//! API's `/reports/volume`, over the agent's queues, drawn as inline SVG
//! (no chart library, no external service).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use helpdesk::domain::QueueKey;
use helpdesk::reports::Asked;
use helpdesk::reports::volume::{self, VolumeReport, VolumeRow};
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
    zone: Option<String>,
    queue: Option<String>,
}

impl Params {
    fn value(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    fn date(v: &Option<String>) -> Result<Option<NaiveDate>, String> {
        Self::value(v)
            .map(|d| {
                d.parse::<NaiveDate>()
                    .map_err(|_| format!("{d:?} is not a date (YYYY-MM-DD)"))
            })
            .transpose()
    }
}

/// The report the parameters ask for, over `session`'s queues.
async fn asked_report(
    console: &Console,
    agent: &helpdesk::auth::Principal,
    params: &Params,
) -> Result<VolumeReport, (StatusCode, String)> {
    let invalid = |text: String| (StatusCode::UNPROCESSABLE_ENTITY, text);
    let config = &console.services.config;
    let mine = agent.queues(config);
    let queues = match Params::value(&params.queue) {
        None => mine,
        Some(wanted) => vec![
            QueueKey::parse(wanted)
                .ok()
                .filter(|q| mine.contains(q))
                .ok_or_else(|| invalid(format!("{wanted:?} is not one of your queues")))?,
        ],
    };
    let asked = Asked {
        from: Params::date(&params.from).map_err(invalid)?,
        to: Params::date(&params.to).map_err(invalid)?,
        by: Params::value(&params.by).map(str::to_owned),
        zone: Params::value(&params.zone).map(str::to_owned),
    };
    let span = asked
        .span(console.services.clock.now())
        .map_err(|(field, text)| invalid(format!("{field}: {text}")))?;
    volume::volume_of_queues(config, console.services.store.as_ref(), queues, span)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a report could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The tickets cannot be read right now.".to_owned(),
            )
        })
}

/// `GET /reports`.
pub async fn page(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Query(params): Query<Params>,
) -> Response {
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let (status, report, problem) = match asked_report(&console, &session.principal, &params).await
    {
        Ok(report) => (StatusCode::OK, Some(report), None),
        Err((status, text)) => (status, None, Some(text)),
    };
    let context = json!({
        "chrome": show::chrome(&console, &session),
        "params": params,
        "problem": problem,
        "report": report,
        "chart": report.as_ref().map(|r| chart(&r.rows)),
        "csv": format!("/reports/volume.csv?{query}"),
        "queues": session.principal.queues(&console.services.config).iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    render::page_with_status(status, "reports.html", context)
}

/// `GET /reports/volume.csv`.
pub async fn csv(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Query(params): Query<Params>,
) -> Response {
    match asked_report(&console, &session.principal, &params).await {
        Ok(report) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"volume-{}-{}.csv\"",
                        report.from, report.to
                    ),
                ),
            ],
            volume::csv(&report.rows),
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

/// The volume chart: per period a bar of tickets created and one of
/// resolved, and the backlog as a line; with the y axis's top value.
fn chart(rows: &[VolumeRow]) -> Value {
    let top = rows
        .iter()
        .flat_map(|r| [r.created, r.resolved, r.backlog])
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
            json!({
                "created": { "x": x, "y": y(r.created), "h": HEIGHT - BOTTOM - y(r.created), "w": bar },
                "resolved": { "x": x + bar, "y": y(r.resolved), "h": HEIGHT - BOTTOM - y(r.resolved), "w": bar },
                "label": (i % label_every == 0).then(|| r.period.clone()),
                "label_x": x,
                "title": format!("{}: {} created, {} resolved, {} reopened, backlog {}", r.period, r.created, r.resolved, r.reopened, r.backlog),
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
                y(r.backlog)
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
