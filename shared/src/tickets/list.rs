//! Finding tickets: one page of the tickets of the queues an agent works
//! in, as a view, filters, a sort and a keyword search ask.
//!
//! [`plan`] reads what was asked ([`Wanted`]) into a [`ListRequest`] that
//! some index serves, or refuses it naming the parameter: every request
//! is one range of one index per queue, merged, and a combination no index
//! serves is refused rather than filtered after reading:
//!
//! | asked | served by | order |
//! |---|---|---|
//! | a view (`all`, `mine`, `unassigned`) or `assignee`, with or without `status` | the basic indexes | created |
//! | `view=open`, `mine` or `unassigned` (open tickets), or `all` by `updated` | the listing index | any sort (`all`: updated) |
//! | one facet (`line`, `priority`, `component`, `tag`, `channel`, `requester`, `organization`, `sla`), with `view=all` or `open` | the listing index | created |
//! | `q`: a ticket key or number | the ticket itself | - |
//! | `q`: an address | the requester facet | created |
//! | `q`: words | the store's text search | newest first |
//!
//! Paging is by cursor: the place after the last row (a created position,
//! a sort key, or the store's search cursor), so pages stay stable while
//! tickets arrive or change.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use super::agent::AgentError;
use crate::auth::Principal;
use crate::config::Config;
use crate::domain::{Channel, EmailAddress, QueueKey, Ticket, TicketKey};
use crate::store::listing::{self, Facet, Listing, ListingRules, Scope, SlaStanding, SortKind};
use crate::store::{ListPosition, ListingQuery, SearchQuery, StoreError, TicketQuery, TicketStore};

/// The most rows one page holds.
pub const MAX_LIMIT: usize = 200;

/// What an agent asked for, as given (`GET /tickets` parameters, the
/// console's filter form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `all` (the default), `open`, `mine` or `unassigned`.
    pub view: Option<String>,
    /// One status.
    pub status: Option<String>,
    /// One queue of theirs.
    pub queue: Option<String>,
    /// One assignee's tickets.
    pub assignee: Option<String>,
    /// One support line.
    pub line: Option<String>,
    /// One priority level.
    pub priority: Option<String>,
    /// One component.
    pub component: Option<String>,
    /// One tag.
    pub tag: Option<String>,
    /// One channel.
    pub channel: Option<String>,
    /// One requester's address.
    pub requester: Option<String>,
    /// One organization.
    pub organization: Option<String>,
    /// `at_risk` or `breached`.
    pub sla: Option<String>,
    /// A ticket key or number, an address, or words.
    pub q: Option<String>,
    /// `created` (default), `updated`, `priority` or `sla_deadline`.
    pub sort: Option<String>,
    /// `asc` or `desc`.
    pub order: Option<String>,
    /// Rows per page.
    pub limit: usize,
    /// The previous page's `next` cursor.
    pub cursor: Option<String>,
}

/// What to list, as an index serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The basic indexes: newest first, of one holder and/or one status.
    Basic {
        /// Only this holder's (`Some(None)`: unassigned).
        assignee: Option<Option<String>>,
        /// Only this status.
        status: Option<String>,
    },
    /// A listing of the listing index.
    Listing {
        /// Which.
        listing: Listing,
        /// Lowest sort key first.
        ascending: bool,
    },
    /// These tickets (a key or number searched for).
    Keys(Vec<TicketKey>),
    /// The store's keyword search.
    Search(Vec<String>),
}

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// The queues, each one the agent works in.
    pub queues: Vec<QueueKey>,
    /// What to list.
    pub filter: Filter,
    /// At most this many.
    pub limit: usize,
    /// Only rows after this place (the previous page's last).
    pub after: Option<Cursor>,
}

/// A row's place in the merged order of the basic indexes: newer first,
/// then higher number, then the queue key descending.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// When the ticket was created.
    pub created_at: DateTime<Utc>,
    /// Its number in its queue.
    pub number: u64,
    /// Its queue.
    pub queue: QueueKey,
}

impl Position {
    fn of(ticket: &Ticket) -> Self {
        Self {
            created_at: ticket.created_at,
            number: ticket.key.number(),
            queue: ticket.queue.clone(),
        }
    }
}

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// After this place of a basic listing.
    Position(Position),
    /// After this sort key of a listing of the listing index.
    Sort(String),
    /// The store's search cursor.
    Search(String),
}

impl Cursor {
    /// The opaque text given to clients (URL-safe base64).
    pub fn encode(&self) -> String {
        let text = match self {
            Self::Position(p) => format!(
                "p|{}|{}|{}",
                p.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                p.number,
                p.queue
            ),
            Self::Sort(key) => format!("s|{key}"),
            Self::Search(key) => format!("q|{key}"),
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    /// A cursor given back; an error message when it is not one.
    pub fn decode(text: &str) -> Result<Self, String> {
        let wrong = || "not a cursor this API gave; start from the first page".to_owned();
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| wrong())?;
        let text = String::from_utf8(bytes).map_err(|_| wrong())?;
        let (kind, rest) = text.split_once('|').ok_or_else(wrong)?;
        match kind {
            "p" => {
                let mut parts = rest.splitn(3, '|');
                let (Some(at), Some(number), Some(queue)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(wrong());
                };
                Ok(Self::Position(Position {
                    created_at: DateTime::parse_from_rfc3339(at)
                        .map_err(|_| wrong())?
                        .with_timezone(&Utc),
                    number: number.parse().map_err(|_| wrong())?,
                    queue: QueueKey::parse(queue).map_err(|_| wrong())?,
                }))
            }
            "s" => Ok(Self::Sort(rest.to_owned())),
            "q" => Ok(Self::Search(rest.to_owned())),
            _ => Err(wrong()),
        }
    }
}

/// One page, and where the next starts (`None`: this is the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The rows.
    pub tickets: Vec<Ticket>,
    /// Where the next page starts, when more may follow.
    pub next: Option<Cursor>,
}

fn invalid(field: &str, message: impl Into<String>) -> AgentError {
    AgentError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The parameters that narrow to one facet value, by name.
fn facets(config: &Config, wanted: &Wanted) -> Result<Vec<(&'static str, Facet)>, AgentError> {
    let mut found = Vec::new();
    if let Some(line) = &wanted.line {
        let line: u8 = line
            .parse()
            .map_err(|_| invalid("line", format!("{line:?} is not a support line number")))?;
        found.push(("line", Facet::Line(line)));
    }
    if let Some(priority) = &wanted.priority {
        if !config.priorities.levels.contains(priority) {
            return Err(invalid(
                "priority",
                format!(
                    "{priority:?} is not a priority level: {}",
                    config.priorities.levels.join(", ")
                ),
            ));
        }
        found.push(("priority", Facet::Priority(priority.clone())));
    }
    if let Some(component) = &wanted.component {
        found.push(("component", Facet::Component(component.clone())));
    }
    if let Some(tag) = &wanted.tag {
        found.push(("tag", Facet::Tag(tag.clone())));
    }
    if let Some(channel) = &wanted.channel {
        let channel: Channel = serde_json::from_value(serde_json::Value::String(channel.clone()))
            .map_err(|_| {
                invalid(
                    "channel",
                    format!("{channel:?} is not a channel: form, email, api, chat, phone, import or automation"),
                )
            })?;
        found.push(("channel", Facet::Channel(channel)));
    }
    if let Some(requester) = &wanted.requester {
        let email = EmailAddress::parse(requester)
            .map_err(|_| invalid("requester", format!("{requester:?} is not an address")))?;
        found.push(("requester", Facet::Requester(email.as_str().to_lowercase())));
    }
    if let Some(organization) = &wanted.organization {
        found.push(("organization", Facet::Organization(organization.clone())));
    }
    if let Some(sla) = &wanted.sla {
        let standing = match sla.as_str() {
            "at_risk" => SlaStanding::AtRisk,
            "breached" => SlaStanding::Breached,
            other => {
                return Err(invalid(
                    "sla",
                    format!("{other:?} is not an SLA standing: at_risk or breached"),
                ));
            }
        };
        found.push(("sla", Facet::Sla(standing)));
    }
    Ok(found)
}

/// The queues `agent` lists: theirs, or the one of them `wanted` names.
fn queues(
    config: &Config,
    agent: &Principal,
    wanted: &Wanted,
) -> Result<Vec<QueueKey>, AgentError> {
    let mut queues = agent.queues(config);
    if let Some(name) = &wanted.queue {
        queues.retain(|q| q.as_str() == name);
        if queues.is_empty() {
            return Err(invalid(
                "queue",
                format!("{name:?} is not one of your queues"),
            ));
        }
    }
    Ok(queues)
}

/// The sort asked for and whether it reads ascending.
fn sort_of(wanted: &Wanted) -> Result<(SortKind, bool), AgentError> {
    let sort = match wanted.sort.as_deref().unwrap_or("created") {
        "created" => SortKind::Created,
        "updated" => SortKind::Updated,
        "priority" => SortKind::Priority,
        "sla_deadline" => SortKind::SlaDeadline,
        other => {
            return Err(invalid(
                "sort",
                format!("{other:?} is not a sort: created, updated, priority or sla_deadline"),
            ));
        }
    };
    // The natural order: newest, most recently changed, most urgent first;
    // the nearest deadline first.
    let natural_ascending = sort == SortKind::SlaDeadline;
    let ascending = match wanted.order.as_deref() {
        None => natural_ascending,
        Some("asc") => true,
        Some("desc") => false,
        Some(other) => {
            return Err(invalid(
                "order",
                format!("{other:?} is not an order: asc or desc"),
            ));
        }
    };
    Ok((sort, ascending))
}

/// What `q` finds: a key or number, an address, or words.
fn search_filter(queues: &[QueueKey], q: &str) -> Result<Filter, AgentError> {
    let q = q.trim();
    if let Ok(key) = TicketKey::parse(&q.to_uppercase())
        && queues.contains(key.queue())
    {
        return Ok(Filter::Keys(vec![key]));
    }
    if let Ok(number) = q.trim_start_matches('#').parse::<u64>() {
        return Ok(Filter::Keys(
            queues
                .iter()
                .map(|queue| TicketKey::new(queue.clone(), number))
                .collect(),
        ));
    }
    if q.contains('@')
        && let Ok(email) = EmailAddress::parse(q)
    {
        return Ok(Filter::Listing {
            listing: Listing::Facet {
                facet: Facet::Requester(email.as_str().to_lowercase()),
                open: false,
            },
            ascending: false,
        });
    }
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(8)
        .collect();
    if words.is_empty() {
        return Err(invalid(
            "q",
            "give a ticket key or number, an address, or words",
        ));
    }
    Ok(Filter::Search(words))
}

/// Reads `wanted` into a request an index serves, for `agent`; an error
/// naming the parameter otherwise.
pub fn plan(
    config: &Config,
    agent: &Principal,
    wanted: &Wanted,
) -> Result<ListRequest, AgentError> {
    if wanted.limit == 0 || wanted.limit > MAX_LIMIT {
        return Err(invalid("limit", format!("from 1 to {MAX_LIMIT}")));
    }
    let queues = queues(config, agent, wanted)?;
    let after = wanted
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()
        .map_err(|message| invalid("cursor", message))?;
    let filter = filter(config, agent, wanted, &queues)?;
    let fits = matches!(
        (&filter, &after),
        (_, None)
            | (Filter::Basic { .. }, Some(Cursor::Position(_)))
            | (Filter::Listing { .. }, Some(Cursor::Sort(_)))
            | (Filter::Search(_), Some(Cursor::Search(_)))
    );
    if !fits {
        return Err(invalid(
            "cursor",
            "the cursor is of another listing; start from the first page",
        ));
    }
    Ok(ListRequest {
        queues,
        filter,
        limit: wanted.limit,
        after,
    })
}

fn filter(
    config: &Config,
    agent: &Principal,
    wanted: &Wanted,
    queues: &[QueueKey],
) -> Result<Filter, AgentError> {
    let view = wanted.view.as_deref().unwrap_or("all");
    let holder = match view {
        "all" | "open" => None,
        "mine" => Some(Some(agent.login.clone())),
        "unassigned" => Some(None),
        other => {
            return Err(invalid(
                "view",
                format!("{other:?} is not a view: mine, unassigned, open or all"),
            ));
        }
    };
    if let Some(status) = &wanted.status
        && !queues
            .iter()
            .any(|q| config.queues.get(q).is_some_and(|q| q.has_status(status)))
    {
        return Err(invalid(
            "status",
            format!("{status:?} is not a status of your queues"),
        ));
    }
    if let Some(login) = &wanted.assignee {
        if holder.is_some() || view == "open" {
            return Err(invalid(
                "assignee",
                "combine assignee with view=all only (view=mine and view=unassigned name the assignee already)",
            ));
        }
        if !config.agents.contains_key(login) {
            return Err(invalid("assignee", format!("{login:?} is not an agent")));
        }
    }
    let (sort, ascending) = sort_of(wanted)?;
    let facets = facets(config, wanted)?;
    if let Some(q) = &wanted.q {
        if let Some(other) = [
            ("status", wanted.status.is_some()),
            ("assignee", wanted.assignee.is_some()),
            ("sort", wanted.sort.is_some()),
            ("view", view != "all"),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(name, _)| name)
        .or(facets.first().map(|(name, _)| *name))
        {
            return Err(invalid(
                "q",
                format!("a search is not combined with {other}; search alone, then filter"),
            ));
        }
        return search_filter(queues, q);
    }
    if facets.len() > 1 {
        return Err(invalid(
            facets[1].0,
            format!(
                "one filter of line, priority, component, tag, channel, requester, organization and sla at a time (no index serves {} with {})",
                facets[0].0, facets[1].0
            ),
        ));
    }
    if let Some((name, facet)) = facets.into_iter().next() {
        let reason = if holder.is_some() || wanted.assignee.is_some() {
            Some("view=mine, view=unassigned or assignee")
        } else if wanted.status.is_some() {
            Some("status")
        } else if sort != SortKind::Created || ascending {
            Some("a sort other than newest first")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(invalid(
                name,
                format!("{name} is not combined with {reason}: no index serves it"),
            ));
        }
        return Ok(Filter::Listing {
            listing: Listing::Facet {
                facet,
                open: view == "open",
            },
            ascending: false,
        });
    }
    if sort == SortKind::Created
        && !ascending
        && view != "open"
        && view != "mine"
        && view != "unassigned"
        || wanted.status.is_some()
    {
        if wanted.status.is_some() && (sort != SortKind::Created || ascending) {
            return Err(invalid(
                "sort",
                "a status is listed newest first only (sort=created)",
            ));
        }
        let assignee = holder.or_else(|| wanted.assignee.clone().map(Some));
        return Ok(Filter::Basic {
            assignee,
            status: wanted.status.clone(),
        });
    }
    let scope = match (view, holder) {
        ("open", _) => Scope::Open,
        (_, Some(holder)) => Scope::Holder(holder),
        _ if wanted.assignee.is_some() => {
            return Err(invalid(
                "sort",
                "an assignee's tickets are listed newest first only; use view=mine for your open tickets in any order",
            ));
        }
        _ if sort == SortKind::Updated => Scope::Queue,
        _ => {
            return Err(invalid(
                "sort",
                "all tickets are listed newest first or by updated; use view=open to sort by priority or SLA deadline",
            ));
        }
    };
    Ok(Filter::Listing {
        listing: Listing::Sorted(scope, sort),
        ascending,
    })
}

/// The page `request` asks for.
pub async fn page(
    store: &dyn TicketStore,
    rules: &ListingRules,
    request: &ListRequest,
) -> Result<Page, StoreError> {
    match &request.filter {
        Filter::Basic { assignee, status } => basic_page(store, request, assignee, status).await,
        Filter::Listing { listing, ascending } => {
            listing_page(store, rules, request, listing, *ascending).await
        }
        Filter::Keys(keys) => {
            let mut tickets = Vec::new();
            for key in keys {
                tickets.extend(store.get_ticket(key).await?);
            }
            Ok(Page {
                tickets,
                next: None,
            })
        }
        Filter::Search(words) => {
            let found = store
                .search_tickets(&SearchQuery {
                    queues: request.queues.clone(),
                    words: words.clone(),
                    after: match &request.after {
                        Some(Cursor::Search(after)) => Some(after.clone()),
                        _ => None,
                    },
                    limit: request.limit,
                })
                .await?;
            Ok(Page {
                tickets: found.tickets,
                next: found.next.map(Cursor::Search),
            })
        }
    }
}

/// The newest tickets of the requesters `emails` in `queues` (a contact's
/// tickets, a requester's other tickets): the requester listing of each
/// address, merged newest first, at most `limit`.
pub async fn of_requester(
    store: &dyn TicketStore,
    rules: &ListingRules,
    queues: &[QueueKey],
    emails: &[EmailAddress],
    limit: usize,
) -> Result<Vec<Ticket>, StoreError> {
    let mut found: Vec<(String, Ticket)> = Vec::new();
    for email in emails {
        let request = ListRequest {
            queues: queues.to_vec(),
            filter: Filter::Listing {
                listing: Listing::Facet {
                    facet: Facet::Requester(email.as_str().to_lowercase()),
                    open: false,
                },
                ascending: false,
            },
            limit,
            after: None,
        };
        for ticket in page(store, rules, &request).await?.tickets {
            if !found.iter().any(|(_, t)| t.key == ticket.key) {
                found.push((listing::created_key(&ticket), ticket));
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.truncate(limit);
    Ok(found.into_iter().map(|(_, t)| t).collect())
}

/// A page of the basic indexes: one range per queue, merged newest first.
async fn basic_page(
    store: &dyn TicketStore,
    request: &ListRequest,
    assignee: &Option<Option<String>>,
    status: &Option<String>,
) -> Result<Page, StoreError> {
    let after = match &request.after {
        Some(Cursor::Position(p)) => Some(p),
        _ => None,
    };
    let mut rows = Vec::new();
    for queue in &request.queues {
        let query = TicketQuery {
            assignee: assignee.clone(),
            status: status.clone(),
            after: after.map(|after| within(after, queue)),
            ..TicketQuery::newest(queue.clone(), request.limit.saturating_add(1))
        };
        rows.extend(
            store
                .list_tickets(&query)
                .await?
                .into_iter()
                .filter(|t| after.is_none_or(|after| Position::of(t) < *after)),
        );
    }
    rows.sort_by_key(|t| std::cmp::Reverse(Position::of(t)));
    let more = rows.len() > request.limit;
    rows.truncate(request.limit);
    let next = if more {
        rows.last().map(|t| Cursor::Position(Position::of(t)))
    } else {
        None
    };
    Ok(Page {
        tickets: rows,
        next,
    })
}

/// A page of a listing of the listing index: one range per queue, merged
/// by sort key (unique across queues).
async fn listing_page(
    store: &dyn TicketStore,
    rules: &ListingRules,
    request: &ListRequest,
    listing: &Listing,
    ascending: bool,
) -> Result<Page, StoreError> {
    let after = match &request.after {
        Some(Cursor::Sort(key)) => Some(key.clone()),
        _ => None,
    };
    let sort = listing.sort();
    let mut rows: Vec<(String, Ticket)> = Vec::new();
    for queue in &request.queues {
        let query = ListingQuery {
            queue: queue.clone(),
            listing: listing.clone(),
            ascending,
            after: after.clone(),
            limit: request.limit.saturating_add(1),
        };
        for ticket in store.list_listing(&query).await? {
            let key = listing::sort_key(&ticket, sort, rules);
            // An entry the store read before the ticket moved on may sit
            // behind the cursor now: it was listed on an earlier page.
            let past = after.as_ref().is_none_or(|after| {
                if ascending {
                    key > *after
                } else {
                    key < *after
                }
            });
            if past {
                rows.push((key, ticket));
            }
        }
    }
    if ascending {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
    } else {
        rows.sort_by(|a, b| b.0.cmp(&a.0));
    }
    let more = rows.len() > request.limit;
    rows.truncate(request.limit);
    let next = if more {
        rows.last().map(|(key, _)| Cursor::Sort(key.clone()))
    } else {
        None
    };
    Ok(Page {
        tickets: rows.into_iter().map(|(_, t)| t).collect(),
        next,
    })
}

/// Where `queue`'s range resumes after `after` (the store's bound is
/// strict): in a queue whose key sorts before `after`'s, a ticket created
/// at the same instant with the same number still comes later in the
/// merged order, so the bound is one number higher there.
fn within(after: &Position, queue: &QueueKey) -> ListPosition {
    let number = if *queue < after.queue {
        after.number.saturating_add(1)
    } else {
        after.number
    };
    ListPosition {
        created_at: after.created_at,
        number,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use crate::auth::Via;

    fn config() -> Config {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml"),
        )
        .unwrap();
        crate::config::load_str(&text, "helpdesk.yaml").unwrap()
    }

    fn anna(config: &Config) -> Principal {
        Principal::of(config, "anna", Via::Cli).unwrap()
    }

    fn wanted(pairs: &[(&str, &str)]) -> Wanted {
        let mut w = Wanted {
            limit: 50,
            ..Wanted::default()
        };
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "view" => w.view = value,
                "status" => w.status = value,
                "assignee" => w.assignee = value,
                "line" => w.line = value,
                "priority" => w.priority = value,
                "component" => w.component = value,
                "tag" => w.tag = value,
                "sla" => w.sla = value,
                "q" => w.q = value,
                "sort" => w.sort = value,
                "order" => w.order = value,
                _ => unreachable!(),
            }
        }
        w
    }

    fn refused_on(pairs: &[(&str, &str)]) -> Option<String> {
        let config = config();
        match plan(&config, &anna(&config), &wanted(pairs)) {
            Err(AgentError::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    fn filter_of(pairs: &[(&str, &str)]) -> Filter {
        let config = config();
        plan(&config, &anna(&config), &wanted(pairs))
            .unwrap()
            .filter
    }

    #[test]
    fn views_and_sorts_map_to_the_index_that_serves_them() {
        assert_eq!(
            filter_of(&[("view", "mine"), ("status", "Open")]),
            Filter::Basic {
                assignee: Some(Some("anna".into())),
                status: Some("Open".into())
            }
        );
        assert_eq!(
            filter_of(&[("view", "mine")]),
            Filter::Listing {
                listing: Listing::Sorted(Scope::Holder(Some("anna".into())), SortKind::Created),
                ascending: false
            }
        );
        assert_eq!(
            filter_of(&[("view", "open"), ("sort", "sla_deadline")]),
            Filter::Listing {
                listing: Listing::Sorted(Scope::Open, SortKind::SlaDeadline),
                ascending: true
            }
        );
        assert_eq!(
            filter_of(&[("component", "Billing")]),
            Filter::Listing {
                listing: Listing::Facet {
                    facet: Facet::Component("Billing".into()),
                    open: false
                },
                ascending: false
            }
        );
        assert_eq!(
            filter_of(&[("q", "printer fire")]),
            Filter::Search(vec!["printer".into(), "fire".into()])
        );
        assert!(matches!(filter_of(&[("q", "sup-12")]), Filter::Keys(keys) if keys.len() == 1));
    }

    #[test]
    fn combinations_no_index_serves_are_refused_naming_the_parameter() {
        assert_eq!(
            refused_on(&[("component", "Billing"), ("tag", "vip")]).as_deref(),
            Some("tag")
        );
        assert_eq!(
            refused_on(&[("view", "mine"), ("component", "Billing")]).as_deref(),
            Some("component")
        );
        assert_eq!(
            refused_on(&[("status", "Open"), ("sort", "priority")]).as_deref(),
            Some("sort")
        );
        assert_eq!(refused_on(&[("sort", "priority")]).as_deref(), Some("sort"));
        assert_eq!(
            refused_on(&[("q", "printer"), ("status", "Open")]).as_deref(),
            Some("q")
        );
        assert_eq!(refused_on(&[("sla", "late")]).as_deref(), Some("sla"));
        assert_eq!(
            refused_on(&[("priority", "whenever")]).as_deref(),
            Some("priority")
        );
        assert_eq!(
            refused_on(&[("order", "sideways")]).as_deref(),
            Some("order")
        );
    }

    #[test]
    fn a_cursor_round_trips_and_one_of_another_listing_is_refused() {
        for cursor in [
            Cursor::Sort("00000000000000000001#000000000007#SUP".into()),
            Cursor::Search("42".into()),
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        }
        let config = config();
        let mut w = wanted(&[("view", "open")]);
        w.cursor = Some(Cursor::Search("1".into()).encode());
        assert!(matches!(
            plan(&config, &anna(&config), &w),
            Err(AgentError::Invalid { field, .. }) if field == "cursor"
        ));
    }
}
