//! `GET /reports`: the dashboard, and `GET /reports/{name}.csv`, a
//! report's rows for spreadsheets. The same reports as `helpdesk report`
//! and the API's `/reports/{name}` (`helpdesk::reports::run`), over the
//! agent's queues: the volume drawn as inline SVG (no chart library, no
//! external service), a breakdown, the assignee x status table, response
//! times, SLA compliance, reopens, time in status and the agents' table.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use helpdesk::domain::QueueKey;
use helpdesk::reports::Asked;
use helpdesk::reports::keep;
use helpdesk::reports::run::{Checked, Document, Name, RunError};
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

/// What the dashboard reads: the agent's queues the parameters ask for,
/// every report as asked (checked), and their tally.
struct Read {
    queues: Vec<QueueKey>,
    reports: Vec<Checked>,
    tally: Vec<helpdesk::reports::tally::Entry>,
}

impl Read {
    /// The document of the report named `name`.
    fn document(&self, config: &helpdesk::config::Config, name: Name) -> Option<Document> {
        let checked = self.reports.iter().find(|c| c.name == name)?;
        Some(checked.document(config, &self.tally, self.queues.clone()))
    }
}

/// The agent's queues `params` ask for, every report as they ask it, and
/// the tally all of them read.
async fn read(
    console: &Console,
    agent: &helpdesk::auth::Principal,
    params: &Params,
) -> Result<Read, Problem> {
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
    let reports = Name::ALL
        .iter()
        .map(|(_, name)| {
            let wanted = asked(params, by_of(*name, params))?;
            Checked::of(config, *name, &wanted, now).map_err(said)
        })
        .collect::<Result<Vec<Checked>, Problem>>()?;
    let classes: Vec<String> = reports.iter().flat_map(|c| c.classes(config)).collect();
    // Every report is asked the same days in the same zone.
    let Some(first) = reports.first() else {
        return Err(invalid("there is no report to show".to_owned()));
    };
    let (zone, to) = (first.zone, first.range.to);
    let store = console.services.store.as_ref();
    let tally = keep::read(config, store, &queues, &classes, zone, to)
        .await
        .map_err(|e| said(RunError::Store(e)))?;
    Ok(Read {
        queues,
        reports,
        tally,
    })
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

/// The `by` of report `name` on the dashboard: `by` groups the volume,
/// `field` the breakdown; the others show their default grouping.
fn by_of(name: Name, params: &Params) -> Option<&str> {
    match name {
        Name::Volume => value(&params.by),
        Name::Breakdown => value(&params.field),
        _ => None,
    }
}

/// Every report, as the dashboard shows them.
async fn dashboard(
    console: &Console,
    agent: &helpdesk::auth::Principal,
    params: &Params,
) -> Result<Vec<Document>, Problem> {
    let read = read(console, agent, params).await?;
    let config = &console.services.config;
    Ok(read
        .reports
        .iter()
        .map(|c| c.document(config, &read.tally, read.queues.clone()))
        .collect())
}

/// A report's rows as the page shows them: durations in hours and
/// minutes, shares as percentages, nothing as a dash.
fn shown(report: &Document) -> Value {
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|row| {
            let cells: serde_json::Map<String, Value> = report
                .columns
                .iter()
                .map(|c| (c.to_string(), Value::String(cell(c, &row[*c]))))
                .collect();
            Value::Object(cells)
        })
        .collect();
    json!({ "report": report.report, "by": report.by, "from": report.from, "to": report.to,
            "zone": report.zone, "columns": report.columns, "rows": rows, "bars": bars(report) })
}

/// One bar: its label, the number it is as long as, how that number reads.
type Bar = (String, f64, String);

/// What a report's bar chart draws, with the chart's caption.
fn bar_source(report: &Document) -> Option<(&'static str, Vec<Bar>)> {
    let text = |row: &Value, column: &str| row[column].as_str().unwrap_or_default().to_owned();
    let float = |row: &Value, column: &str| row[column].as_f64();
    let rows = report.rows.iter();
    let (caption, bars) = match report.report {
        "breakdown" => (
            "Open at the end of the range, per value",
            rows.filter_map(|r| {
                let n = float(r, "open")?;
                Some((text(r, "value"), n, cell("open", &r["open"])))
            })
            .collect(),
        ),
        "response-times" => (
            "Median first response in business time",
            rows.filter(|r| r["metric"] == "first_response")
                .filter_map(|r| {
                    let n = float(r, "median_business")?;
                    Some((
                        text(r, "group"),
                        n,
                        cell("median_business", &r["median_business"]),
                    ))
                })
                .collect(),
        ),
        "sla" => (
            "Compliance per rule",
            rows.filter_map(|r| {
                let n = float(r, "compliance")?;
                let label = format!("{} {}", text(r, "group"), text(r, "rule"));
                Some((label, n, cell("compliance", &r["compliance"])))
            })
            .collect(),
        ),
        "agents" => (
            "Tickets resolved per agent",
            rows.filter_map(|r| {
                let n = float(r, "resolved")?;
                Some((text(r, "agent"), n, cell("resolved", &r["resolved"])))
            })
            .collect(),
        ),
        _ => return None,
    };
    Some((caption, bars))
}

/// A horizontal bar chart of the report's main figure (inline SVG), or
/// nothing for a report without one or without rows.
fn bars(report: &Document) -> Option<Value> {
    const ROW: f64 = 22.0;
    const LABEL: f64 = 180.0;
    const PLOT: f64 = 440.0;
    let (caption, source) = bar_source(report)?;
    if source.is_empty() {
        return None;
    }
    let top = source
        .iter()
        .map(|(_, n, _)| *n)
        .fold(0.0, f64::max)
        .max(1.0);
    let items: Vec<Value> = source
        .iter()
        .enumerate()
        .map(|(i, (label, n, text))| {
            let y = i as f64 * ROW;
            let w = (n / top * PLOT).max(1.0);
            let short: String = if label.chars().count() > 26 {
                label.chars().take(25).chain(['…']).collect()
            } else {
                label.clone()
            };
            json!({ "label": label, "short": short, "text": text, "y": y, "text_y": y + 15.0,
                    "x": LABEL, "w": w, "after": LABEL + w + 6.0 })
        })
        .collect();
    Some(json!({
        "caption": caption,
        "width": LABEL + PLOT + 90.0,
        "height": source.len() as f64 * ROW,
        "items": items,
    }))
}

/// One cell as shown.
fn cell(column: &str, value: &Value) -> String {
    let seconds = ["business", "calendar", "first_response"];
    match value {
        Value::Null => "—".to_owned(),
        Value::Number(n) if column == "compliance" => format!("{n} %"),
        Value::Number(n) if column.ends_with("rate") => n
            .as_f64()
            .map_or_else(|| n.to_string(), |r| format!("{:.1} %", r * 100.0)),
        Value::Number(n)
            if seconds.iter().any(|s| column.contains(s)) && column != "first_responses" =>
        {
            n.as_i64().map_or_else(|| n.to_string(), duration)
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Seconds as `3d 4h`, `2h 05m`, `12m` or `40s`.
fn duration(seconds: i64) -> String {
    let (d, h, m) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
    if seconds < 0 {
        format!("-{}", duration(-seconds))
    } else if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{seconds}s")
    }
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
    let config = &console.services.config;
    let context = json!({
        "chrome": show::chrome(&console, &session),
        "params": params,
        "problem": problem,
        "volume": reports.as_ref().map(|r| &r[0]),
        "reports": reports.as_ref().map(|r| r.iter().map(shown).collect::<Vec<_>>()),
        "chart": reports.as_ref().map(|r| chart(&r[0].rows)),
        "query": query,
        "zone": value(&params.zone).map_or_else(|| config.report_zone().name().to_owned(), str::to_owned),
        "fields": helpdesk::reports::breakdown::Field::names(config),
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
        let names: Vec<&str> = Name::ALL.iter().map(|(n, _)| *n).collect();
        return render::error_page(
            StatusCode::NOT_FOUND,
            "No such report",
            &format!("The reports are {}.", names.join(", ")),
        );
    };
    let made = async {
        let read = read(&console, &session.principal, &params).await?;
        read.document(&console.services.config, name)
            .ok_or_else(|| invalid(format!("{name:?} is not asked")))
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
