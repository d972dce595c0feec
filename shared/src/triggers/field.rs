//! Ticket fields by name (`status`, `components`, `custom.customer_id`, ...),
//! their values as conditions see them, and the list of fields that differ
//! between two versions of a ticket.
//!
//! Conditions compare values as text ignoring case: a line is `"1"`, a
//! custom number `42` is `"42"`. A value is empty when it is missing, null,
//! an empty text or an empty list.

use std::borrow::Cow;

use crate::domain::Ticket;

/// Every field name a condition may test, besides `custom.ID`.
pub const FIELD_NAMES: &[&str] = &[
    "key",
    "queue",
    "summary",
    "description",
    "status",
    "resolution",
    "priority",
    "line",
    "components",
    "tags",
    "assignee",
    "requester.email",
    "requester.name",
    "channel",
    "reopen_count",
    "rating",
];

/// A ticket field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// `key`, such as `SUP-17`.
    Key,
    /// `queue`.
    Queue,
    /// `summary`.
    Summary,
    /// `description`.
    Description,
    /// `status`.
    Status,
    /// `resolution`.
    Resolution,
    /// `priority`.
    Priority,
    /// `line`.
    Line,
    /// `components` (a list).
    Components,
    /// `tags` (a list).
    Tags,
    /// `assignee`.
    Assignee,
    /// `requester.email`.
    RequesterEmail,
    /// `requester.name`.
    RequesterName,
    /// `channel`.
    Channel,
    /// `reopen_count`.
    ReopenCount,
    /// `rating`: the requester's score as it stands (`good`, `bad`, `1`
    /// to `5`; empty before one). Not compared: a rating is its own event.
    Rating,
    /// `custom.ID`: a custom field.
    Custom(&'a str),
}

/// The fields compared by [`changed_fields`], in report order.
const COMPARED: [Field<'static>; 13] = [
    Field::Summary,
    Field::Description,
    Field::Status,
    Field::Resolution,
    Field::Priority,
    Field::Line,
    Field::Components,
    Field::Tags,
    Field::Assignee,
    Field::RequesterEmail,
    Field::RequesterName,
    Field::Channel,
    Field::ReopenCount,
];

impl<'a> Field<'a> {
    /// The field named `name`, if there is one.
    pub fn parse(name: &'a str) -> Option<Self> {
        Some(match name {
            "key" => Self::Key,
            "queue" => Self::Queue,
            "summary" => Self::Summary,
            "description" => Self::Description,
            "status" => Self::Status,
            "resolution" => Self::Resolution,
            "priority" => Self::Priority,
            "line" => Self::Line,
            "components" => Self::Components,
            "tags" => Self::Tags,
            "assignee" => Self::Assignee,
            "requester.email" => Self::RequesterEmail,
            "requester.name" => Self::RequesterName,
            "channel" => Self::Channel,
            "reopen_count" => Self::ReopenCount,
            "rating" => Self::Rating,
            other => match other.strip_prefix("custom.") {
                Some(id) if !id.is_empty() => Self::Custom(id),
                _ => return None,
            },
        })
    }

    /// The field's name as written in the config.
    pub fn name(self) -> Cow<'a, str> {
        Cow::Borrowed(match self {
            Self::Key => "key",
            Self::Queue => "queue",
            Self::Summary => "summary",
            Self::Description => "description",
            Self::Status => "status",
            Self::Resolution => "resolution",
            Self::Priority => "priority",
            Self::Line => "line",
            Self::Components => "components",
            Self::Tags => "tags",
            Self::Assignee => "assignee",
            Self::RequesterEmail => "requester.email",
            Self::RequesterName => "requester.name",
            Self::Channel => "channel",
            Self::ReopenCount => "reopen_count",
            Self::Rating => "rating",
            Self::Custom(id) => return Cow::Owned(format!("custom.{id}")),
        })
    }

    /// The field's value in `ticket`.
    pub fn value(self, ticket: &'a Ticket) -> FieldValue<'a> {
        fn text(s: &str) -> FieldValue<'_> {
            if s.is_empty() {
                FieldValue::Empty
            } else {
                FieldValue::One(Cow::Borrowed(s))
            }
        }
        fn opt(s: Option<&str>) -> FieldValue<'_> {
            s.map_or(FieldValue::Empty, text)
        }
        fn list(items: &[String]) -> FieldValue<'_> {
            if items.is_empty() {
                FieldValue::Empty
            } else {
                FieldValue::Many(items.iter().map(|s| Cow::Borrowed(s.as_str())).collect())
            }
        }
        match self {
            Self::Key => FieldValue::One(Cow::Owned(ticket.key.to_string())),
            Self::Queue => text(ticket.queue.as_str()),
            Self::Summary => text(&ticket.summary),
            Self::Description => text(&ticket.description),
            Self::Status => text(&ticket.status),
            Self::Resolution => opt(ticket.resolution.as_deref()),
            Self::Priority => text(&ticket.priority),
            Self::Line => ticket.line.map_or(FieldValue::Empty, |l| {
                FieldValue::One(Cow::Owned(l.to_string()))
            }),
            Self::Components => list(&ticket.components),
            Self::Tags => list(&ticket.tags),
            Self::Assignee => opt(ticket.assignee.as_deref()),
            Self::RequesterEmail => opt(ticket.requester.email.as_ref().map(|e| e.as_str())),
            Self::RequesterName => opt(ticket.requester.name.as_deref()),
            Self::Channel => text(ticket.channel.as_str()),
            Self::ReopenCount => FieldValue::One(Cow::Owned(ticket.reopen_count.to_string())),
            Self::Rating => ticket
                .satisfaction
                .rating
                .as_ref()
                .map_or(FieldValue::Empty, |r| {
                    FieldValue::One(Cow::Owned(r.score.to_string()))
                }),
            Self::Custom(id) => ticket
                .custom_fields
                .get(id)
                .map_or(FieldValue::Empty, json_value),
        }
    }

    /// The field's value in `ticket` as JSON (for timeline entries and plans).
    pub fn json(self, ticket: &Ticket) -> serde_json::Value {
        use serde_json::Value;
        let opt = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_owned()));
        match self {
            Self::Key => Value::String(ticket.key.to_string()),
            Self::Queue => Value::String(ticket.queue.to_string()),
            Self::Summary => Value::String(ticket.summary.clone()),
            Self::Description => Value::String(ticket.description.clone()),
            Self::Status => Value::String(ticket.status.clone()),
            Self::Resolution => opt(ticket.resolution.as_deref()),
            Self::Priority => Value::String(ticket.priority.clone()),
            Self::Line => ticket.line.map_or(Value::Null, Value::from),
            Self::Components => Value::from(ticket.components.clone()),
            Self::Tags => Value::from(ticket.tags.clone()),
            Self::Assignee => opt(ticket.assignee.as_deref()),
            Self::RequesterEmail => opt(ticket.requester.email.as_ref().map(|e| e.as_str())),
            Self::RequesterName => opt(ticket.requester.name.as_deref()),
            Self::Channel => Value::String(ticket.channel.as_str().to_owned()),
            Self::ReopenCount => Value::from(ticket.reopen_count),
            Self::Rating => ticket
                .satisfaction
                .rating
                .as_ref()
                .map_or(Value::Null, |r| Value::String(r.score.to_string())),
            Self::Custom(id) => ticket.custom_fields.get(id).cloned().unwrap_or(Value::Null),
        }
    }

    /// Whether the field differs between `a` and `b` (exactly, case counts).
    pub fn differs(self, a: &Ticket, b: &Ticket) -> bool {
        match self {
            Self::Key => a.key != b.key,
            Self::Queue => a.queue != b.queue,
            Self::Summary => a.summary != b.summary,
            Self::Description => a.description != b.description,
            Self::Status => a.status != b.status,
            Self::Resolution => a.resolution != b.resolution,
            Self::Priority => a.priority != b.priority,
            Self::Line => a.line != b.line,
            Self::Components => a.components != b.components,
            Self::Tags => a.tags != b.tags,
            Self::Assignee => a.assignee != b.assignee,
            Self::RequesterEmail => a.requester.email != b.requester.email,
            Self::RequesterName => a.requester.name != b.requester.name,
            Self::Channel => a.channel != b.channel,
            Self::ReopenCount => a.reopen_count != b.reopen_count,
            Self::Rating => {
                let score = |t: &Ticket| t.satisfaction.rating.as_ref().map(|r| r.score);
                score(a) != score(b)
            }
            Self::Custom(id) => self.value(a) != Field::Custom(id).value(b),
        }
    }
}

/// A field's value as conditions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Missing, null, empty text or an empty list.
    Empty,
    /// One value, as text.
    One(Cow<'a, str>),
    /// A non-empty list, each element as text.
    Many(Vec<Cow<'a, str>>),
}

fn json_value(value: &serde_json::Value) -> FieldValue<'_> {
    use serde_json::Value;
    fn one(value: &Value) -> Option<Cow<'_, str>> {
        match value {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Bool(b) => Some(Cow::Owned(b.to_string())),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            other => Some(Cow::Owned(other.to_string())),
        }
    }
    match value {
        Value::Array(items) => {
            let items: Vec<_> = items.iter().filter_map(one).collect();
            if items.is_empty() {
                FieldValue::Empty
            } else {
                FieldValue::Many(items)
            }
        }
        other => one(other).map_or(FieldValue::Empty, FieldValue::One),
    }
}

impl FieldValue<'_> {
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// Whether it "has" `expected`: equals it (a list: contains an element
    /// equal to it), ignoring case.
    pub fn has(&self, expected: &str) -> bool {
        match self {
            Self::Empty => false,
            Self::One(v) => same_text(v, expected),
            Self::Many(items) => items.iter().any(|v| same_text(v, expected)),
        }
    }

    /// `contains`: a text contains `part` (ignoring case); a list has an
    /// element equal to it.
    pub fn contains(&self, part: &str) -> bool {
        match self {
            Self::Empty => false,
            Self::One(v) => contains_text(v, part),
            Self::Many(_) => self.has(part),
        }
    }
}

/// Equal ignoring case (Unicode-aware, without allocating).
pub fn same_text(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

fn contains_text(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(&needle.to_lowercase())
    }
}

/// The names of the fields that differ from `before` to `after`, in a fixed
/// order (custom fields last, by id). With no `before` (a new ticket), the
/// fields that are not empty.
pub fn changed_fields(before: Option<&Ticket>, after: &Ticket) -> Vec<String> {
    let mut names = Vec::new();
    match before {
        Some(before) => {
            for field in COMPARED {
                if field.differs(before, after) {
                    names.push(field.name().into_owned());
                }
            }
            let keys = before.custom_fields.keys().chain(
                after
                    .custom_fields
                    .keys()
                    .filter(|k| !before.custom_fields.contains_key(*k)),
            );
            let mut custom: Vec<&String> = keys
                .filter(|k| Field::Custom(k).differs(before, after))
                .collect();
            custom.sort();
            names.extend(custom.into_iter().map(|k| format!("custom.{k}")));
        }
        None => {
            for field in COMPARED {
                if !field.value(after).is_empty() {
                    names.push(field.name().into_owned());
                }
            }
            for (key, value) in &after.custom_fields {
                if !json_value(value).is_empty() {
                    names.push(format!("custom.{key}"));
                }
            }
        }
    }
    names
}

/// Whether any compared field differs (what `fields_changed` means), without
/// building the list.
pub(crate) fn any_field_differs(before: &Ticket, after: &Ticket) -> bool {
    COMPARED.iter().any(|f| f.differs(before, after))
        || before
            .custom_fields
            .keys()
            .chain(after.custom_fields.keys())
            .any(|k| Field::Custom(k).differs(before, after))
}

/// Sets a writable field of `ticket` from its JSON value (as a plan's
/// [`crate::triggers::FieldChange::new`] carries it). List fields are
/// replaced whole; [`apply_list_delta`] merges them instead.
pub fn set_json(ticket: &mut Ticket, field: &str, value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let text = |v: &Value| -> Result<Option<String>, String> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Ok(Some(other.to_string())),
        }
    };
    let list = |v: &Value| -> Result<Vec<String>, String> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => Ok(items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect()),
            other => Err(format!("{field} needs a list, not {other}")),
        }
    };
    match Field::parse(field) {
        Some(Field::Status) => {
            ticket.status = text(value)?.ok_or_else(|| "status cannot be empty".to_owned())?;
        }
        Some(Field::Priority) => {
            ticket.priority = text(value)?.ok_or_else(|| "priority cannot be empty".to_owned())?;
        }
        Some(Field::Resolution) => ticket.resolution = text(value)?,
        Some(Field::Assignee) => ticket.assignee = text(value)?,
        Some(Field::Line) => {
            ticket.line = match value {
                Value::Null => None,
                v => Some(
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or_else(|| format!("line must be a small number, not {v}"))?,
                ),
            };
        }
        Some(Field::Components) => ticket.components = list(value)?,
        Some(Field::Tags) => ticket.tags = list(value)?,
        Some(Field::Custom(id)) => {
            if value.is_null() {
                ticket.custom_fields.remove(id);
            } else {
                ticket.custom_fields.insert(id.to_owned(), value.clone());
            }
        }
        _ => return Err(format!("{field} cannot be set by a trigger")),
    }
    Ok(())
}

/// Applies the difference between `old` and `new` (two lists) to `current`:
/// elements of `old` missing from `new` are removed, elements of `new`
/// missing from `old` are added (once, at the end). Used to re-apply a
/// planned list change to a ticket that changed meanwhile without undoing
/// the other writer's edits.
pub fn apply_list_delta(current: &mut Vec<String>, old: &[String], new: &[String]) {
    let has = |list: &[String], item: &str| list.iter().any(|x| same_text(x, item));
    current.retain(|item| !has(old, item) || has(new, item));
    for item in new {
        if !has(old, item) && !has(current, item) {
            current.push(item.clone());
        }
    }
}
