//! The listing index both stores keep beside the tickets, derived from each
//! ticket alone (pure): for every way agents list tickets that the basic
//! queue, status and assignee indexes do not serve, one entry of a
//! *partition* (which tickets) and a *sort key* (their order).
//!
//! | listing | partition | sort key |
//! |---|---|---|
//! | a queue (`view=all`) by last change | `Q#<queue>#updated` | see below |
//! | open tickets (`view=open`), by any sort | `O#<queue>#<sort>` | see below |
//! | one holder's open tickets (`view=mine`, `view=unassigned`), by any sort | `H#<queue>#<holder>#<sort>` | see below |
//! | one facet value: line, priority, component, tag, channel, requester, organization, SLA state | `F#<queue>#<facet>#<value>`, and `FO#...` for open tickets | created |
//! | one word of the summary (DynamoDB's `q`) | `W#<queue>#<word>` | created |
//!
//! (A queue by creation, and one holder's or one status's tickets of every
//! status by creation, are the basic indexes' listings.)
//!
//! Sort keys are text that sorts as the listing does, newest or most
//! urgent last (stores read ranges backwards for the natural order), each
//! ending in the creation time, number and queue, so they are unique
//! across queues and a cursor is one sort key:
//! - created: `<created>#<number>#<queue>`;
//! - updated: `<updated>#` and the created key;
//! - priority: `<urgency>#` and the created key, urgency 999 for the most
//!   urgent level of [`ListingRules`] and one less for each level after;
//! - SLA deadline: `<deadline>#` and the created key, the nearest deadline
//!   of a running timer, or `~` (after every time) when none runs.
//!
//! A ticket's entries change only when what they are made of changes, so
//! each write adds and removes few ([`changes`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::domain::{Channel, QueueKey, Ticket, TimerState};

/// How long a listing may be sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SortKind {
    /// By creation time.
    Created,
    /// By the last change.
    Updated,
    /// By priority level, then creation.
    Priority,
    /// By the nearest running SLA deadline.
    SlaDeadline,
}

impl SortKind {
    /// The name in a partition and in the API (`sort=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Priority => "priority",
            Self::SlaDeadline => "sla_deadline",
        }
    }

    /// Every sort kind.
    pub const ALL: [Self; 4] = [
        Self::Created,
        Self::Updated,
        Self::Priority,
        Self::SlaDeadline,
    ];
}

/// A ticket's SLA standing while it is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlaStanding {
    /// A timer warned and none breached.
    AtRisk,
    /// A timer breached.
    Breached,
}

impl SlaStanding {
    /// The name in a partition and in the API (`sla=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtRisk => "at_risk",
            Self::Breached => "breached",
        }
    }

    /// The standing of `ticket`: none when it is resolved, or when no
    /// timer warned or breached.
    pub fn of(ticket: &Ticket) -> Option<Self> {
        if ticket.resolved_at.is_some() {
            return None;
        }
        let timers = &ticket.sla.timers;
        if timers
            .iter()
            .any(|t| t.breached || t.state == TimerState::Breached)
        {
            Some(Self::Breached)
        } else if timers
            .iter()
            .any(|t| t.warned && t.state == TimerState::Running)
        {
            Some(Self::AtRisk)
        } else {
            None
        }
    }
}

/// One value a ticket can be filtered by, beyond status and assignee.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    /// Its support line.
    Line(u8),
    /// Its priority level.
    Priority(String),
    /// One of its components.
    Component(String),
    /// One of its tags.
    Tag(String),
    /// The channel it came through.
    Channel(Channel),
    /// The requester's address (lower case).
    Requester(String),
    /// The requester's organization.
    Organization(String),
    /// Its SLA standing.
    Sla(SlaStanding),
}

impl Facet {
    fn name(&self) -> &'static str {
        match self {
            Self::Line(_) => "line",
            Self::Priority(_) => "priority",
            Self::Component(_) => "component",
            Self::Tag(_) => "tag",
            Self::Channel(_) => "channel",
            Self::Requester(_) => "requester",
            Self::Organization(_) => "organization",
            Self::Sla(_) => "sla",
        }
    }

    fn value(&self) -> String {
        match self {
            Self::Line(line) => line.to_string(),
            Self::Priority(v) | Self::Component(v) | Self::Tag(v) | Self::Organization(v) => {
                v.clone()
            }
            Self::Channel(channel) => channel.as_str().to_owned(),
            Self::Requester(email) => email.to_lowercase(),
            Self::Sla(standing) => standing.as_str().to_owned(),
        }
    }

    /// The facets of `ticket`.
    pub fn of(ticket: &Ticket) -> Vec<Self> {
        let mut facets = Vec::new();
        facets.extend(ticket.line.map(Self::Line));
        facets.push(Self::Priority(ticket.priority.clone()));
        facets.extend(ticket.components.iter().cloned().map(Self::Component));
        facets.extend(ticket.tags.iter().cloned().map(Self::Tag));
        facets.push(Self::Channel(ticket.channel));
        facets.extend(
            ticket
                .requester
                .email
                .as_ref()
                .map(|e| Self::Requester(e.as_str().to_lowercase())),
        );
        facets.extend(
            ticket
                .requester
                .organization
                .clone()
                .map(Self::Organization),
        );
        facets.extend(SlaStanding::of(ticket).map(Self::Sla));
        facets
    }
}

/// Whose tickets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// All of the queue's (sorted by last change only).
    Queue,
    /// The open ones (not resolved or closed).
    Open,
    /// One agent's open tickets (`Some`), or the open unassigned ones
    /// (`None`).
    Holder(Option<String>),
}

/// One listing of one queue that the listing index serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Listing {
    /// A scope in an order (`Queue` by last change only: the basic
    /// indexes serve it by creation).
    Sorted(Scope, SortKind),
    /// The tickets with one facet value (only open ones when `open`),
    /// newest first.
    Facet {
        /// The value.
        facet: Facet,
        /// Only open tickets.
        open: bool,
    },
    /// The tickets with a word in their summary, newest first.
    Word(String),
}

impl Listing {
    /// The partition of this listing in `queue`.
    pub fn partition(&self, queue: &QueueKey) -> String {
        match self {
            Self::Sorted(Scope::Queue, sort) => format!("Q#{queue}#{}", sort.as_str()),
            Self::Sorted(Scope::Open, sort) => format!("O#{queue}#{}", sort.as_str()),
            Self::Sorted(Scope::Holder(holder), sort) => format!(
                "H#{queue}#{}#{}",
                holder
                    .as_deref()
                    .map_or("-".to_owned(), |h| format!("@{h}")),
                sort.as_str()
            ),
            Self::Facet { facet, open } => format!(
                "{}#{queue}#{}#{}",
                if *open { "FO" } else { "F" },
                facet.name(),
                facet.value()
            ),
            Self::Word(word) => format!("W#{queue}#{word}"),
        }
    }

    /// The order this listing reads in.
    pub fn sort(&self) -> SortKind {
        match self {
            Self::Sorted(_, sort) => *sort,
            Self::Facet { .. } | Self::Word(_) => SortKind::Created,
        }
    }
}

/// What the entries need beyond the ticket: the priority levels, most
/// urgent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRules {
    /// The levels, most urgent first.
    pub priority_levels: Vec<String>,
}

impl Default for ListingRules {
    fn default() -> Self {
        Self {
            priority_levels: ["critical", "urgent", "high", "normal", "low"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

impl ListingRules {
    /// The rules of a configuration.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            priority_levels: config.priorities.levels.clone(),
        }
    }

    /// 999 for the most urgent level, one less for each after; unknown
    /// levels after every known one.
    fn urgency(&self, priority: &str) -> usize {
        let rank = self
            .priority_levels
            .iter()
            .position(|level| level == priority)
            .unwrap_or(self.priority_levels.len());
        999usize.saturating_sub(rank)
    }
}

/// One entry: a ticket's place in one listing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entry {
    /// The listing's partition.
    pub partition: String,
    /// The ticket's sort key in it.
    pub sort: String,
}

/// A time as sort keys hold it: microseconds since the epoch, 20 digits
/// (times before 1970 sort first as zero).
fn time_key(at: DateTime<Utc>) -> String {
    format!("{:020}", at.timestamp_micros().max(0))
}

/// The created sort key of `ticket`.
pub fn created_key(ticket: &Ticket) -> String {
    format!(
        "{}#{:012}#{}",
        time_key(ticket.created_at),
        ticket.key.number(),
        ticket.queue
    )
}

/// The sort key of `ticket` in a listing sorted by `sort`.
pub fn sort_key(ticket: &Ticket, sort: SortKind, rules: &ListingRules) -> String {
    let created = created_key(ticket);
    match sort {
        SortKind::Created => created,
        SortKind::Updated => format!("{}#{created}", time_key(ticket.updated_at)),
        SortKind::Priority => format!("{:03}#{created}", rules.urgency(&ticket.priority)),
        SortKind::SlaDeadline => {
            let deadline = ticket
                .sla
                .timers
                .iter()
                .filter(|t| t.state == TimerState::Running)
                .filter_map(|t| t.deadline)
                .min();
            match deadline {
                Some(at) => format!("{}#{created}", time_key(at)),
                None => format!("~#{created}"),
            }
        }
    }
}

/// The words of a summary that the word listing indexes: lower case,
/// letters and digits, at least 3 characters, at most 16 distinct ones.
pub fn words(text: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
    {
        if words.len() == 16 {
            break;
        }
        words.insert(word.to_lowercase().chars().take(64).collect());
    }
    words
}

/// Every listing `ticket` is in, except those the basic indexes serve;
/// with the word listings when `with_words` (a store without full-text
/// search of its own).
pub fn listings(ticket: &Ticket, with_words: bool) -> Vec<Listing> {
    let open = ticket.resolved_at.is_none();
    let mut all = vec![Listing::Sorted(Scope::Queue, SortKind::Updated)];
    if open {
        for sort in SortKind::ALL {
            all.push(Listing::Sorted(Scope::Open, sort));
            all.push(Listing::Sorted(
                Scope::Holder(ticket.assignee.clone()),
                sort,
            ));
        }
    }
    for facet in Facet::of(ticket) {
        if open {
            all.push(Listing::Facet {
                facet: facet.clone(),
                open: true,
            });
        }
        all.push(Listing::Facet { facet, open: false });
    }
    if with_words {
        all.extend(words(&ticket.summary).into_iter().map(Listing::Word));
    }
    all
}

/// The entries of `ticket`.
pub fn entries(ticket: &Ticket, rules: &ListingRules, with_words: bool) -> BTreeSet<Entry> {
    listings(ticket, with_words)
        .into_iter()
        .map(|listing| Entry {
            partition: listing.partition(&ticket.queue),
            sort: sort_key(ticket, listing.sort(), rules),
        })
        .collect()
}

/// What a write changes in the index: entries to remove (their partition
/// is gone or their sort key moved) and entries to put.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Entries no longer there.
    pub removed: Vec<Entry>,
    /// Entries new or moved.
    pub added: Vec<Entry>,
}

/// The index changes from `before` (none for a new ticket) to `after`.
pub fn changes(
    before: Option<&Ticket>,
    after: &Ticket,
    rules: &ListingRules,
    with_words: bool,
) -> Changes {
    let old = before
        .map(|t| entries(t, rules, with_words))
        .unwrap_or_default();
    let new = entries(after, rules, with_words);
    Changes {
        removed: old.difference(&new).cloned().collect(),
        added: new.difference(&old).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use chrono::TimeZone;

    use super::*;
    use crate::domain::{Requester, SlaTimer, TicketKey};

    fn ticket() -> Ticket {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let key = TicketKey::new(QueueKey::parse("SUP").unwrap(), 7);
        Ticket {
            queue: key.queue().clone(),
            key,
            summary: "Printer on fire, again".into(),
            description: String::new(),
            description_blob: None,
            status: "New".into(),
            resolution: None,
            priority: "high".into(),
            line: Some(1),
            components: vec!["Billing".into()],
            tags: vec!["vip".into()],
            assignee: None,
            requester: Requester::default(),
            participants: vec![],
            channel: Channel::Email,
            custom_fields: Default::default(),
            created_at: at,
            updated_at: at,
            first_response_at: None,
            resolved_at: None,
            reopen_count: 0,
            trigger_depth: 0,
            sla: Default::default(),
            satisfaction: Default::default(),
            version: 1,
        }
    }

    fn running_timer(at: DateTime<Utc>) -> SlaTimer {
        SlaTimer {
            metric: "first_response".into(),
            rule: "standard".into(),
            calendar: "office".into(),
            state: TimerState::Running,
            cycle: 1,
            started_at: at,
            running_since: Some(at),
            spent_us: 0,
            limit_us: 3_600_000_000,
            warning_us: None,
            deadline: Some(at + chrono::Duration::hours(1)),
            warn_at: None,
            warned: false,
            breached: false,
            stopped_at: None,
        }
    }

    fn partitions(t: &Ticket) -> BTreeSet<String> {
        entries(t, &ListingRules::default(), true)
            .into_iter()
            .map(|e| e.partition)
            .collect()
    }

    #[test]
    fn an_open_ticket_is_in_the_open_and_facet_listings_and_a_resolved_one_leaves_them() {
        let mut t = ticket();
        let open = partitions(&t);
        for p in [
            "O#SUP#created",
            "O#SUP#sla_deadline",
            "Q#SUP#updated",
            "H#SUP#-#priority",
            "H#SUP#-#created",
            "F#SUP#component#Billing",
            "FO#SUP#component#Billing",
            "F#SUP#tag#vip",
            "FO#SUP#priority#high",
            "W#SUP#printer",
            "W#SUP#again",
        ] {
            assert!(open.contains(p), "{p} in {open:?}");
        }
        assert!(!open.contains("W#SUP#on"), "short words are not indexed");
        t.resolved_at = Some(t.updated_at);
        let done = partitions(&t);
        assert!(
            done.iter()
                .all(|p| !p.starts_with("O#") && !p.starts_with("FO#") && !p.starts_with("H#"))
        );
        assert!(done.contains("Q#SUP#updated"));
        assert!(done.contains("F#SUP#component#Billing"));
    }

    #[test]
    fn a_change_of_assignee_moves_only_the_holder_entries() {
        let before = ticket();
        let mut after = before.clone();
        after.assignee = Some("anna".to_owned());
        let c = changes(Some(&before), &after, &ListingRules::default(), false);
        assert!(!c.removed.is_empty());
        assert!(
            c.removed
                .iter()
                .all(|e| e.partition.starts_with("H#SUP#-#"))
        );
        assert!(
            c.added
                .iter()
                .all(|e| e.partition.starts_with("H#SUP#@anna#"))
        );
        assert_eq!(c.removed.len(), c.added.len());
    }

    #[test]
    fn priority_keys_put_the_most_urgent_level_last_and_sla_keys_put_tickets_without_a_deadline_last()
     {
        let rules = ListingRules::default();
        let mut low = ticket();
        low.priority = "low".to_owned();
        let critical = Ticket {
            priority: "critical".to_owned(),
            ..ticket()
        };
        assert!(
            sort_key(&critical, SortKind::Priority, &rules)
                > sort_key(&low, SortKind::Priority, &rules)
        );
        let mut timed = ticket();
        timed.sla.timers.push(running_timer(timed.created_at));
        assert!(
            sort_key(&timed, SortKind::SlaDeadline, &rules)
                < sort_key(&low, SortKind::SlaDeadline, &rules)
        );
    }

    #[test]
    fn words_are_lower_case_distinct_and_at_most_sixteen() {
        let many = (0..40)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(words(&many).len(), 16);
        assert_eq!(
            words("Drucker DRUCKER brennt"),
            BTreeSet::from(["brennt".to_owned(), "drucker".to_owned()])
        );
        assert!(words("東京 の プリンター").contains("プリンター"));
    }
}
