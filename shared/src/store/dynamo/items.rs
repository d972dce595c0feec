//! Turning domain values into table items and back.
//!
//! Domain fields become top-level attributes (through `serde_dynamo`), so a
//! stream consumer or the console sees a ticket as a ticket; the key
//! attributes and `item_type` are added on the way in and removed on the way
//! out.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::keys::{self, item_type};
use crate::domain::{
    Contact, ContactId, EmailAddress, MailLogEntry, Ticket, TicketKey, TimelineEntry,
};
use crate::store::{IdempotencyClaim, IdempotencyRecord, StoreError};

/// One table item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// Attributes that belong to the table layout, not to the domain value.
const LAYOUT_ATTRIBUTES: [&str; 12] = [
    keys::PK,
    keys::SK,
    keys::GSI1PK,
    keys::GSI1SK,
    keys::GSI2PK,
    keys::GSI2SK,
    keys::GSI3PK,
    keys::GSI3SK,
    keys::GSI4PK,
    keys::GSI4SK,
    keys::ITEM_TYPE,
    keys::EXPIRES_AT,
];

/// A string attribute.
pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The key of the item at `pk` / `sk`.
pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
}

fn encode<T: Serialize>(
    what: &str,
    value: &T,
    pk: String,
    sk: String,
    kind: &str,
) -> Result<Item, StoreError> {
    let mut item: Item = to_item(value)
        .map_err(|e| StoreError::backend_from(format!("cannot encode {what}: {e}"), e))?;
    if let Some(clash) = LAYOUT_ATTRIBUTES
        .iter()
        .find(|name| item.contains_key(**name))
    {
        return Err(StoreError::backend(format!(
            "cannot encode {what}: its field {clash:?} clashes with a table attribute"
        )));
    }
    item.insert(keys::PK.to_owned(), s(pk));
    item.insert(keys::SK.to_owned(), s(sk));
    item.insert(keys::ITEM_TYPE.to_owned(), s(kind));
    Ok(item)
}

/// The most bytes DynamoDB stores in one item.
pub(super) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Refuses an item DynamoDB would refuse as too large, naming it and its
/// largest attributes, before anything is sent.
pub(super) fn check_size(item: &Item) -> Result<(), StoreError> {
    let size = item_size(item);
    if size <= MAX_ITEM_BYTES {
        return Ok(());
    }
    let location = match (item.get(keys::PK), item.get(keys::SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk} / {sk}"),
        _ => "an item".to_owned(),
    };
    let mut largest: Vec<(&String, usize)> = item
        .iter()
        .map(|(name, value)| (name, value_size(value)))
        .collect();
    largest.sort_by_key(|&(_, size)| std::cmp::Reverse(size));
    let largest: Vec<String> = largest
        .iter()
        .take(3)
        .map(|(name, size)| format!("{name} {size} bytes"))
        .collect();
    Err(StoreError::backend(format!(
        "the item {location} takes {size} bytes ({}); a DynamoDB item holds at most 400 KB ({MAX_ITEM_BYTES} bytes)",
        largest.join(", ")
    )))
}

/// An item's size as DynamoDB counts it: each attribute's name and value.
pub(super) fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// A value's size as DynamoDB counts it (numbers at their longest).
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len() / 2 + 2,
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| n.len() / 2 + 2).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn decode<T: DeserializeOwned>(what: &str, mut item: Item) -> Result<T, StoreError> {
    let location = match (item.get(keys::PK), item.get(keys::SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("{pk} / {sk}"),
        _ => "an item without a key".to_owned(),
    };
    for name in LAYOUT_ATTRIBUTES {
        item.remove(name);
    }
    from_item(item).map_err(|e| StoreError::corrupt_from(format!("{what} at {location}: {e}"), e))
}

/// The item of a ticket, with its queue index keys, its assignee index
/// keys (the queue's unassigned partition when it has none) and its holder
/// listing keys. Ticket writes put the whole item, so a change of assignee
/// or status moves it in every index.
pub(super) fn ticket_item(ticket: &Ticket) -> Result<Item, StoreError> {
    let mut item = encode(
        &format!("ticket {}", ticket.key),
        ticket,
        keys::ticket_pk(&ticket.key),
        keys::SK_TICKET.to_owned(),
        item_type::TICKET,
    )?;
    item.insert(
        keys::GSI1PK.to_owned(),
        s(keys::queue_gsi1pk(ticket.key.queue())),
    );
    item.insert(
        keys::GSI1SK.to_owned(),
        s(keys::queue_gsi1sk(ticket.created_at, ticket.key.number())),
    );
    let holder = keys::holder_pk(ticket.key.queue(), ticket.assignee.as_deref());
    let created = keys::queue_gsi1sk(ticket.created_at, ticket.key.number());
    item.insert(keys::GSI2PK.to_owned(), s(holder.clone()));
    item.insert(
        keys::GSI2SK.to_owned(),
        s(keys::assignee_gsi2sk(
            &ticket.status,
            ticket.created_at,
            ticket.key.number(),
        )),
    );
    item.insert(keys::GSI4PK.to_owned(), s(holder));
    item.insert(keys::GSI4SK.to_owned(), s(created));
    if let Some(due) = ticket.next_due() {
        item.insert(
            keys::GSI3PK.to_owned(),
            s(keys::sla_due_gsi3pk(keys::sla_due_shard(&ticket.key))),
        );
        item.insert(
            keys::GSI3SK.to_owned(),
            s(keys::sla_due_gsi3sk(due, &ticket.key)),
        );
    }
    Ok(item)
}

/// A ticket's listing item, written with every version of it: its place
/// in the status listing (`gsi4`, `STATUS#<queue>#<status>`), which the
/// ticket item cannot hold beside its assignee's place in the same index.
pub(super) fn listing_item(ticket: &Ticket) -> Item {
    let mut item = key(keys::ticket_pk(&ticket.key), keys::SK_LISTING);
    item.insert(keys::ITEM_TYPE.to_owned(), s(item_type::LISTING));
    item.insert(
        keys::GSI4PK.to_owned(),
        s(keys::status_gsi4pk(ticket.key.queue(), &ticket.status)),
    );
    item.insert(
        keys::GSI4SK.to_owned(),
        s(keys::queue_gsi1sk(ticket.created_at, ticket.key.number())),
    );
    item
}

/// A ticket read back.
pub(super) fn ticket_from_item(item: Item) -> Result<Ticket, StoreError> {
    decode("ticket", item)
}

/// The item of a timeline entry, in its ticket's partition.
pub(super) fn timeline_item(entry: &TimelineEntry) -> Result<Item, StoreError> {
    encode(
        &format!("timeline entry {} of {}", entry.seq, entry.ticket),
        entry,
        keys::ticket_pk(&entry.ticket),
        keys::timeline_sk(entry.seq),
        item_type::TIMELINE,
    )
}

/// A timeline entry read back.
pub(super) fn timeline_from_item(item: Item) -> Result<TimelineEntry, StoreError> {
    decode("timeline entry", item)
}

/// The item of a contact.
pub(super) fn contact_item(contact: &Contact) -> Result<Item, StoreError> {
    encode(
        &format!("contact {}", contact.id),
        contact,
        keys::contact_pk(&contact.id),
        keys::SK_CONTACT.to_owned(),
        item_type::CONTACT,
    )
}

/// How long a mail log entry is kept.
const MAIL_LOG_DAYS: i64 = 90;

/// The item of a mail log entry, in the queue index under its day, kept
/// 90 days.
pub(super) fn mail_log_item(entry: &MailLogEntry) -> Result<Item, StoreError> {
    let mut item = encode(
        &format!("mail log entry {}", entry.id),
        entry,
        keys::mail_log_pk(&entry.id),
        keys::SK_MAIL_LOG.to_owned(),
        item_type::MAIL_LOG,
    )?;
    item.insert(
        keys::GSI1PK.to_owned(),
        s(keys::mail_log_gsi1pk(entry.at.date_naive())),
    );
    item.insert(
        keys::GSI1SK.to_owned(),
        s(keys::mail_log_gsi1sk(entry.at, &entry.id)),
    );
    item.insert(
        keys::EXPIRES_AT.to_owned(),
        epoch_seconds(entry.at + chrono::Duration::days(MAIL_LOG_DAYS)),
    );
    Ok(item)
}

/// A mail log entry read back.
pub(super) fn mail_log_from_item(item: Item) -> Result<MailLogEntry, StoreError> {
    decode("mail log entry", item)
}

/// A contact read back.
pub(super) fn contact_from_item(item: Item) -> Result<Contact, StoreError> {
    decode("contact", item)
}

/// Attribute of an email item naming its owner.
pub(super) const CONTACT_ID: &str = "contact_id";
/// Attribute of an email item holding the address.
const EMAIL: &str = "email";

/// The item saying that `contact` owns `email`.
pub(super) fn email_item(email: &EmailAddress, contact: &ContactId) -> Item {
    let mut item = key(keys::email_pk(email), keys::SK_EMAIL);
    item.insert(keys::ITEM_TYPE.to_owned(), s(item_type::EMAIL));
    item.insert(EMAIL.to_owned(), s(email.as_str()));
    item.insert(CONTACT_ID.to_owned(), s(contact.as_str()));
    item
}

/// The owner named by an email item.
pub(super) fn email_owner(item: &Item) -> Result<ContactId, StoreError> {
    match item.get(CONTACT_ID) {
        Some(AttributeValue::S(id)) => Ok(ContactId::from_stored(id.clone())),
        _ => Err(StoreError::corrupt(format!(
            "email item {:?} has no {CONTACT_ID}",
            item.get(keys::PK)
        ))),
    }
}

/// The idempotency record a claim leaves for the ticket `ticket`, written
/// `at`, with its TTL.
pub(super) fn idempotency_item(
    claim: &IdempotencyClaim,
    ticket: &TicketKey,
    at: DateTime<Utc>,
) -> Result<Item, StoreError> {
    let record = IdempotencyRecord {
        key: claim.key.clone(),
        purpose: claim.purpose.clone(),
        ticket: ticket.clone(),
        created_at: at,
    };
    let mut item = encode(
        &format!("idempotency record {:?}", claim.key),
        &record,
        keys::idempotency_pk(&claim.key),
        keys::SK_IDEMPOTENCY.to_owned(),
        item_type::IDEMPOTENCY,
    )?;
    item.insert(keys::EXPIRES_AT.to_owned(), epoch_seconds(claim.expires_at));
    Ok(item)
}

/// An idempotency record read back.
pub(super) fn idempotency_from_item(item: Item) -> Result<IdempotencyRecord, StoreError> {
    decode("idempotency record", item)
}

/// Attribute of a marker item holding its value.
pub(super) const VALUE: &str = "value";
/// Attribute of a named counter holding its value.
pub(super) const COUNT: &str = "n";

/// `at` as the table's TTL attribute (epoch seconds).
pub(super) fn epoch_seconds(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp().to_string())
}

/// The item of a marker, with its TTL when it has one.
pub(super) fn marker_item(key: &str, value: &str, expires_at: Option<DateTime<Utc>>) -> Item {
    let mut item = self::key(keys::marker_pk(key), keys::SK_MARKER);
    item.insert(keys::ITEM_TYPE.to_owned(), s(item_type::MARKER));
    item.insert(VALUE.to_owned(), s(value));
    if let Some(expires_at) = expires_at {
        item.insert(keys::EXPIRES_AT.to_owned(), epoch_seconds(expires_at));
    }
    item
}

/// The value a marker item holds.
pub(super) fn marker_value(item: &Item) -> Result<String, StoreError> {
    match item.get(VALUE) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::corrupt(format!(
            "marker item {:?} has no {VALUE}",
            item.get(keys::PK)
        ))),
    }
}

/// A non-negative number attribute.
pub(super) fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| StoreError::corrupt(format!("attribute {name} is not a counter: {n:?}"))),
        other => Err(StoreError::corrupt(format!(
            "attribute {name} is missing or not a number: {other:?}"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::{Actor, Channel, QueueKey, Requester, TimelineEvent};

    fn ticket() -> Ticket {
        let at = Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap()
            + chrono::Duration::microseconds(589_793);
        let key = TicketKey::new(QueueKey::parse("SUP").unwrap(), 17);
        Ticket {
            queue: key.queue().clone(),
            key,
            summary: "Printer on fire".into(),
            description: String::new(),
            description_blob: None,
            status: "New".into(),
            resolution: None,
            priority: "critical".into(),
            line: Some(1),
            components: vec!["Billing".into()],
            tags: vec![],
            assignee: Some("anna".into()),
            requester: Requester {
                contact_id: Some(ContactId::from_stored("c_1".into())),
                email: Some(EmailAddress::parse("bob@example.com").unwrap()),
                name: None,
                phone: None,
                organization: None,
            },
            participants: vec![],
            channel: Channel::Form,
            custom_fields: BTreeMap::from([
                ("customer_id".into(), serde_json::json!("C-42")),
                ("seats".into(), serde_json::json!(12)),
                ("ratio".into(), serde_json::json!(0.25)),
                (
                    "nested".into(),
                    serde_json::json!({"a": [1, "two", null, true]}),
                ),
            ]),
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

    #[test]
    fn a_ticket_survives_the_round_trip_through_an_item() {
        let ticket = ticket();
        let item = ticket_item(&ticket).unwrap();
        assert_eq!(item.get(keys::PK), Some(&s("TICKET#SUP-17")));
        assert_eq!(item.get(keys::GSI1PK), Some(&s("QUEUE#SUP")));
        assert_eq!(item.get(keys::GSI2PK), Some(&s("ASSIGNEE#SUP#anna")));
        let created = keys::queue_gsi1sk(ticket.created_at, 17);
        assert_eq!(item.get(keys::GSI2SK), Some(&s(format!("New#{created}"))));
        assert_eq!(item.get(keys::GSI4PK), Some(&s("ASSIGNEE#SUP#anna")));
        assert_eq!(item.get(keys::GSI4SK), Some(&s(created.clone())));
        let listing = listing_item(&ticket);
        assert_eq!(listing.get(keys::PK), Some(&s("TICKET#SUP-17")));
        assert_eq!(listing.get(keys::GSI4PK), Some(&s("STATUS#SUP#New")));
        assert_eq!(listing.get(keys::GSI4SK), Some(&s(created)));
        assert_eq!(item.get(keys::ITEM_TYPE), Some(&s("ticket")));
        assert_eq!(item.get("version"), Some(&AttributeValue::N("1".into())));
        assert_eq!(ticket_from_item(item).unwrap(), ticket);
    }

    #[test]
    fn an_item_over_400_kb_is_refused_naming_its_largest_attribute() {
        let mut ticket = ticket();
        ticket.description = "x".repeat(MAX_ITEM_BYTES);
        let item = ticket_item(&ticket).unwrap();
        assert!(item_size(&item) > MAX_ITEM_BYTES);
        match check_size(&item) {
            Err(StoreError::Backend { what, .. }) => {
                assert!(what.contains("TICKET#SUP-17"), "{what}");
                assert!(what.contains("description"), "{what}");
            }
            other => panic!("expected a permanent error, got {other:?}"),
        }
        ticket.description = "x".repeat(MAX_ITEM_BYTES - 2_000);
        check_size(&ticket_item(&ticket).unwrap()).unwrap();
    }

    #[test]
    fn an_unassigned_ticket_is_in_its_queues_unassigned_partition() {
        let mut ticket = ticket();
        ticket.assignee = None;
        let item = ticket_item(&ticket).unwrap();
        assert_eq!(item.get(keys::GSI2PK), Some(&s("UNASSIGNED#SUP")));
        assert_eq!(item.get(keys::GSI4PK), Some(&s("UNASSIGNED#SUP")));
        assert_eq!(ticket_from_item(item).unwrap(), ticket);
    }

    #[test]
    fn a_timeline_entry_survives_the_round_trip_through_an_item() {
        let ticket = ticket();
        let entries = [
            TimelineEvent::FieldChanged {
                field: "line".into(),
                old: serde_json::Value::Null,
                new: serde_json::json!(2),
            },
            TimelineEvent::AttachmentAdded {
                file_name: "a.pdf".into(),
                content_type: "application/pdf".into(),
                size: 12_345,
                blob_key: "att/1".into(),
            },
            TimelineEvent::Comment {
                public: true,
                body: "hi".into(),
                body_blob: None,
            },
        ];
        for (i, event) in entries.into_iter().enumerate() {
            let entry = TimelineEntry {
                ticket: ticket.key.clone(),
                seq: crate::domain::ticket::entry_seq(2, i),
                at: ticket.created_at,
                actor: Actor::Agent {
                    login: "anna".into(),
                    via: None,
                },
                event,
            };
            let item = timeline_item(&entry).unwrap();
            assert_eq!(item.get(keys::ITEM_TYPE), Some(&s("timeline")));
            assert_eq!(timeline_from_item(item).unwrap(), entry);
        }
    }

    #[test]
    fn integral_floats_in_custom_fields_come_back_as_integers() {
        // DynamoDB numbers do not tell 2.0 from 2: a known difference from
        // the SQLite store, which keeps the JSON text.
        let mut ticket = ticket();
        ticket.custom_fields = BTreeMap::from([("score".into(), serde_json::json!(2.0))]);
        let read = ticket_from_item(ticket_item(&ticket).unwrap()).unwrap();
        assert_eq!(read.custom_fields["score"], serde_json::json!(2));
    }

    #[test]
    fn a_marker_keeps_its_value_and_its_expiry_in_epoch_seconds() {
        let at = Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap();
        let item = marker_item("sent:SUP-17", "message-1", Some(at));
        assert_eq!(item.get(keys::PK), Some(&s("MARK#sent:SUP-17")));
        assert_eq!(item.get(keys::SK), Some(&s("MARK")));
        assert_eq!(item.get(keys::ITEM_TYPE), Some(&s("marker")));
        assert_eq!(
            item.get(keys::EXPIRES_AT),
            Some(&AttributeValue::N(at.timestamp().to_string()))
        );
        assert_eq!(marker_value(&item).unwrap(), "message-1");
        let forever = marker_item("k", "", None);
        assert!(!forever.contains_key(keys::EXPIRES_AT));
        assert_eq!(marker_value(&forever).unwrap(), "");
    }

    #[test]
    fn an_idempotency_record_names_its_ticket_and_expires() {
        let ticket = ticket();
        let claim = IdempotencyClaim {
            key: "msgid:<a@example.com>".into(),
            purpose: crate::store::ClaimPurpose::Payload("h".into()),
            expires_at: ticket.created_at + chrono::Duration::days(7),
        };
        let item = idempotency_item(&claim, &ticket.key, ticket.updated_at).unwrap();
        assert_eq!(
            item.get(keys::EXPIRES_AT),
            Some(&AttributeValue::N(claim.expires_at.timestamp().to_string()))
        );
        let record = idempotency_from_item(item).unwrap();
        assert_eq!(record.ticket, ticket.key);
        assert_eq!(record.created_at, ticket.updated_at);
    }

    #[test]
    fn an_unreadable_item_is_reported_as_corrupt() {
        let mut item = ticket_item(&ticket()).unwrap();
        item.insert("version".into(), s("not a number"));
        assert!(matches!(
            ticket_from_item(item),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
