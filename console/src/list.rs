//! `GET /tickets`: the side bar of views with their counts, the filter
//! form, and one page of tickets. The query string is the API's
//! (`view`, `status`, `line`, ..., `q`, `sort`, `order`, `cursor`), so a
//! link keeps its filter and the same planner (`tickets::list::plan`)
//! decides what an index serves; a combination it refuses is said on the
//! page.

use axum::extract::{Query, State};
use axum::response::Response;
use helpdesk::config::Config;
use helpdesk::domain::Channel;
use helpdesk::store::listing::ListingRules;
use helpdesk::tickets::agent::AgentError;
use helpdesk::tickets::list::{self, Wanted};
use helpdesk::tickets::views::{self, Counts};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::session::SignedIn;
use crate::show;
use crate::{Console, render};

/// Every channel, as the filter offers them.
const CHANNELS: [Channel; 7] = [
    Channel::Form,
    Channel::Email,
    Channel::Api,
    Channel::Chat,
    Channel::Phone,
    Channel::Import,
    Channel::Automation,
];

/// Rows per page.
const PAGE_ROWS: usize = 50;

/// The list's query string: the API's parameters; an empty value (a
/// filter left at "any") is no filter.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Params {
    view: Option<String>,
    status: Option<String>,
    queue: Option<String>,
    assignee: Option<String>,
    line: Option<String>,
    priority: Option<String>,
    component: Option<String>,
    tag: Option<String>,
    channel: Option<String>,
    requester: Option<String>,
    organization: Option<String>,
    sla: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    cursor: Option<String>,
}

impl Params {
    /// Every parameter without empty values.
    fn cleaned(self) -> Self {
        let keep = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Self {
            view: keep(self.view),
            status: keep(self.status),
            queue: keep(self.queue),
            assignee: keep(self.assignee),
            line: keep(self.line),
            priority: keep(self.priority),
            component: keep(self.component),
            tag: keep(self.tag),
            channel: keep(self.channel),
            requester: keep(self.requester),
            organization: keep(self.organization),
            sla: keep(self.sla),
            q: keep(self.q),
            sort: keep(self.sort),
            order: keep(self.order),
            cursor: keep(self.cursor),
        }
    }

    fn wanted(&self) -> Wanted {
        Wanted {
            view: self.view.clone(),
            status: self.status.clone(),
            queue: self.queue.clone(),
            assignee: self.assignee.clone(),
            line: self.line.clone(),
            priority: self.priority.clone(),
            component: self.component.clone(),
            tag: self.tag.clone(),
            channel: self.channel.clone(),
            requester: self.requester.clone(),
            organization: self.organization.clone(),
            sla: self.sla.clone(),
            q: self.q.clone(),
            sort: self.sort.clone(),
            order: self.order.clone(),
            limit: PAGE_ROWS,
            cursor: self.cursor.clone(),
        }
    }

    /// The query string of these parameters with `change` applied.
    fn link(&self, change: impl FnOnce(&mut Self)) -> String {
        let mut next = self.clone();
        change(&mut next);
        format!(
            "/tickets?{}",
            serde_urlencoded::to_string(&next).unwrap_or_default()
        )
    }

    /// What the page is called.
    fn title(&self) -> String {
        if let Some(q) = &self.q {
            return format!("Search: {q}");
        }
        let view = match self.view.as_deref() {
            Some("mine") => "My open tickets",
            Some("unassigned") => "Unassigned",
            Some("open") if self.sla.as_deref() == Some("at_risk") => "SLA at risk",
            Some("open") if self.sla.as_deref() == Some("breached") => "SLA breached",
            Some("open") => "Open tickets",
            _ => "All tickets",
        };
        view.to_owned()
    }
}

/// `GET /tickets`.
pub async fn page(
    State(console): State<Console>,
    SignedIn(session): SignedIn,
    Query(params): Query<Params>,
) -> Response {
    let params = params.cleaned();
    let services = &console.services;
    let config = &services.config;
    let agent = &session.principal;
    let counts = views::counts(config, services.store.as_ref(), agent).await;
    let listed = match list::plan(config, agent, &params.wanted()) {
        Ok(request) => list::page(services.store.as_ref(), &ListingRules::of(config), &request)
            .await
            .map_err(AgentError::Store),
        Err(refused) => Err(refused),
    };
    let now = services.clock.now();
    let (rows, next, problem, status) = match listed {
        Ok(page) => (
            page.tickets
                .iter()
                .map(|t| show::row(t, config, now))
                .collect::<Vec<_>>(),
            page.next
                .map(|c| params.link(|p| p.cursor = Some(c.encode()))),
            None,
            StatusCode::OK,
        ),
        Err(AgentError::Invalid { field, message }) => (
            Vec::new(),
            None,
            Some(format!("This filter cannot be shown ({field}: {message}).")),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot list tickets for the console");
            (
                Vec::new(),
                None,
                Some(
                    "The tickets cannot be read right now. The page tries again by itself."
                        .to_owned(),
                ),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    };
    let sorts = ["created", "updated", "priority", "sla_deadline"]
        .into_iter()
        .map(|sort| {
            let current = params.sort.as_deref().unwrap_or("created") == sort;
            let order = match (current, params.order.as_deref()) {
                (true, Some("asc")) => "desc",
                (true, _) => "asc",
                (false, _) => "",
            };
            let href = params.link(|p| {
                p.sort = (sort != "created").then(|| sort.to_owned());
                p.order = (!order.is_empty()).then(|| order.to_owned());
                p.cursor = None;
            });
            (sort.to_owned(), json!({ "href": href, "current": current, "order": params.order.as_deref().unwrap_or(if sort == "sla_deadline" { "asc" } else { "desc" }) }))
        })
        .collect::<serde_json::Map<_, _>>();
    let context = json!({
        "chrome": show::chrome(&console, &session),
        "title": params.title(),
        "params": &params,
        "first": params.cursor.as_ref().map(|_| params.link(|p| p.cursor = None)),
        "next": next,
        "rows": rows,
        "problem": problem,
        "sorts": sorts,
        "choices": choices(config, agent),
        "sidebar": sidebar(counts.as_ref().ok(), &params),
        "live": params.link(|_| {}),
    });
    render::page_with_status(status, "list.html", context)
}

/// What the filter form offers: only values the configuration has, of
/// the agent's queues.
fn choices(config: &Config, agent: &helpdesk::auth::Principal) -> Value {
    let queues: Vec<_> = config
        .queues_of(&agent.login)
        .into_iter()
        .filter_map(|key| config.queues.get(key).map(|q| (key, q)))
        .collect();
    let mut statuses: Vec<&str> = Vec::new();
    let mut lines: Vec<u8> = Vec::new();
    let mut components: Vec<&str> = Vec::new();
    for (_, queue) in &queues {
        for status in &queue.statuses {
            if !statuses.contains(&status.name.as_str()) {
                statuses.push(&status.name);
            }
        }
        for line in &queue.lines {
            if !lines.contains(line) {
                lines.push(*line);
            }
        }
        for component in queue.components.keys() {
            if !components.contains(&component.as_str()) {
                components.push(component);
            }
        }
    }
    json!({
        "queues": queues.iter().map(|(k, q)| json!({ "key": k.to_string(), "name": q.name })).collect::<Vec<_>>(),
        "statuses": statuses,
        "lines": lines,
        "priorities": config.priorities.levels,
        "components": components,
        "channels": CHANNELS.map(Channel::as_str),
        "agents": config.agents.iter().map(|(login, a)| json!({ "login": login, "name": a.name })).collect::<Vec<_>>(),
    })
}

/// The side bar: each view and its count, then per queue each status
/// and each line; the current one marked.
fn sidebar(counts: Option<&Counts>, params: &Params) -> Value {
    let Some(counts) = counts else {
        return json!({ "problem": "Counts are not available right now." });
    };
    let here = serde_urlencoded::to_string(Params {
        cursor: None,
        sort: None,
        order: None,
        ..params.clone()
    })
    .unwrap_or_default();
    let label = |view: &str| {
        match view {
            "mine" => "Mine",
            "unassigned" => "Unassigned",
            "open" => "All open",
            "at_risk" => "SLA at risk",
            "breached" => "SLA breached",
            other => other,
        }
        .to_owned()
    };
    let views: Vec<Value> = counts
        .views
        .iter()
        .map(|v| json!({ "label": label(v.view), "href": format!("/tickets?{}", v.query), "count": v.count, "current": here == v.query, "view": v.view }))
        .collect();
    let queues: Vec<Value> = counts
        .queues
        .iter()
        .map(|q| {
            let statuses: Vec<Value> = q
                .statuses
                .iter()
                .map(|s| {
                    let query = serde_urlencoded::to_string([("status", s.status.as_str()), ("queue", q.queue.as_str())]).unwrap_or_default();
                    json!({ "label": s.status, "href": format!("/tickets?{query}"), "count": s.count, "current": here == query })
                })
                .collect();
            let lines: Vec<Value> = q
                .lines
                .iter()
                .map(|l| {
                    let query = format!("view=open&queue={}&line={}", q.queue, l.line);
                    json!({ "label": format!("Line {}", l.line), "href": format!("/tickets?{query}"), "count": l.count, "current": here == query })
                })
                .collect();
            json!({ "key": q.queue.to_string(), "name": q.name, "statuses": statuses, "lines": lines })
        })
        .collect();
    json!({ "views": views, "queues": queues })
}
