//! The table's key design in one place: every partition key, sort key and
//! index key the store writes is built here, so the layout documented in
//! [`super`] cannot drift from the code.

use chrono::{DateTime, Utc};

use crate::domain::ticket::ENTRIES_PER_VERSION;
use crate::domain::{ContactId, EmailAddress, QueueKey, TicketKey};

/// Partition key attribute.
pub(super) const PK: &str = "pk";
/// Sort key attribute.
pub(super) const SK: &str = "sk";
/// Partition key attribute of the `gsi1` index.
pub(super) const GSI1PK: &str = "gsi1pk";
/// Sort key attribute of the `gsi1` index.
pub(super) const GSI1SK: &str = "gsi1sk";
/// The name of the queue index.
pub(super) const GSI1: &str = "gsi1";
/// Partition key attribute of the sparse `gsi2` index (assigned tickets).
pub(super) const GSI2PK: &str = "gsi2pk";
/// Sort key attribute of the `gsi2` index.
pub(super) const GSI2SK: &str = "gsi2sk";
/// The name of the assignee index.
pub(super) const GSI2: &str = "gsi2";
/// Partition key attribute of the `gsi4` index (listings by holder and by
/// status).
pub(super) const GSI4PK: &str = "gsi4pk";
/// Sort key attribute of the `gsi4` index.
pub(super) const GSI4SK: &str = "gsi4sk";
/// The name of the listing index.
pub(super) const GSI4: &str = "gsi4";
/// Partition key attribute of the sparse `gsi3` index (the SLA due index).
pub(super) const GSI3PK: &str = "gsi3pk";
/// Sort key attribute of the `gsi3` index.
pub(super) const GSI3SK: &str = "gsi3sk";
/// The name of the SLA due index.
pub(super) const GSI3: &str = "gsi3";
/// How many partitions the SLA due index is spread over: a ticket's
/// partition is a hash of its key, so writes to the index spread evenly
/// and no partition is hot; the checker queries every one. Changing it
/// strands the entries written under the old count until their tickets
/// are written again.
pub(super) const SLA_DUE_SHARDS: u32 = 8;
/// What an item is (`ticket`, `timeline`, ...), for stream filters.
pub(super) const ITEM_TYPE: &str = "item_type";
/// The table's TTL attribute (epoch seconds).
pub(super) const EXPIRES_AT: &str = "expires_at";

/// Sort key of a ticket item.
pub(super) const SK_TICKET: &str = "TICKET";
/// Sort key prefix of timeline items.
pub(super) const SK_TIMELINE_PREFIX: &str = "TL#";
/// Sort key of a queue's ticket counter.
pub(super) const SK_COUNTER: &str = "COUNTER";
/// Sort key of a contact item.
pub(super) const SK_CONTACT: &str = "CONTACT";
/// Sort key of an email ownership item.
pub(super) const SK_EMAIL: &str = "EMAIL";
/// Sort key of an idempotency record.
pub(super) const SK_IDEMPOTENCY: &str = "IDEM";
/// Sort key of a marker.
pub(super) const SK_MARKER: &str = "MARK";
/// Sort key of a named counter.
pub(super) const SK_COUNT: &str = "COUNT";
/// Sort key of a ticket's listing item (its place in the status listing).
pub(super) const SK_LISTING: &str = "LISTING";
/// Sort key of the counters kept for a ticket's report rollups.
pub(super) const SK_KEPT_COUNTERS: &str = "ROLLUP";
/// Sort key of a mail log entry.
pub(super) const SK_MAIL_LOG: &str = "MAILLOG";

/// The `item_type` values.
pub(super) mod item_type {
    /// A ticket.
    pub(in crate::store::dynamo) const TICKET: &str = "ticket";
    /// A timeline entry.
    pub(in crate::store::dynamo) const TIMELINE: &str = "timeline";
    /// A queue's ticket counter or a named counter.
    pub(in crate::store::dynamo) const COUNTER: &str = "counter";
    /// A contact.
    pub(in crate::store::dynamo) const CONTACT: &str = "contact";
    /// An email address and its owner.
    pub(in crate::store::dynamo) const EMAIL: &str = "email";
    /// An idempotency record.
    pub(in crate::store::dynamo) const IDEMPOTENCY: &str = "idempotency";
    /// A marker.
    pub(in crate::store::dynamo) const MARKER: &str = "marker";
    /// A mail log entry.
    pub(in crate::store::dynamo) const MAIL_LOG: &str = "mail_log";
    /// A ticket's listing item.
    pub(in crate::store::dynamo) const LISTING: &str = "listing";
    /// Report rollups, and the counters kept for a ticket.
    pub(in crate::store::dynamo) const ROLLUP: &str = "rollup";
}

/// `ROLLUP#SUP#created:all`: the partition of one class of a queue's
/// report rollups, an item per day (and shard).
pub(super) fn rollup_pk(queue: &QueueKey, class: &str) -> String {
    format!("ROLLUP#{queue}#{class}")
}

/// How many items each day of a `response...` class is spread over: it
/// holds a counter per distinct response time, so a busy day has many.
pub(super) const RESPONSE_SHARDS: u32 = 8;

/// `2026-03-02#3`: a day's rollup item of a class (the shard of `key`
/// among [`RESPONSE_SHARDS`] for the `response...` classes, else 0).
pub(super) fn rollup_sk(day: chrono::NaiveDate, class: &str, key: &str) -> String {
    let shard = if class.starts_with("response") {
        key.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        }) % RESPONSE_SHARDS
    } else {
        0
    };
    format!("{day}#{shard}")
}

/// `TICKET#SUP-17`: the partition of a ticket and its timeline.
pub(super) fn ticket_pk(key: &TicketKey) -> String {
    format!("TICKET#{key}")
}

/// `TL#00000000000000001000`: a timeline entry's sort key, zero-padded so
/// that string order is `seq` order.
pub(super) fn timeline_sk(seq: u64) -> String {
    format!("{SK_TIMELINE_PREFIX}{seq:020}")
}

/// The first and the last timeline sort key (both inclusive, for a
/// `BETWEEN`) of the entries written with `version`: sequence numbers
/// `entry_seq(version, 0)` up to, not including, `entry_seq(version + 1, 0)`.
/// `None` when those numbers do not fit in a `u64` (no such entry exists).
pub(super) fn timeline_sk_range_of_version(version: u64) -> Option<(String, String)> {
    let first = version.checked_mul(ENTRIES_PER_VERSION)?;
    let last = first.checked_add(ENTRIES_PER_VERSION - 1)?;
    Some((timeline_sk(first), timeline_sk(last)))
}

/// `COUNTER#SUP`: a queue's ticket number counter.
pub(super) fn counter_pk(queue: &QueueKey) -> String {
    format!("COUNTER#{queue}")
}

/// `CONTACT#c_...`: a contact.
pub(super) fn contact_pk(id: &ContactId) -> String {
    format!("CONTACT#{id}")
}

/// `EMAIL#anna@example.com`: which contact owns an address.
pub(super) fn email_pk(email: &EmailAddress) -> String {
    format!("EMAIL#{email}")
}

/// `IDEM#form:support:123`: an idempotency record.
pub(super) fn idempotency_pk(key: &str) -> String {
    format!("IDEM#{key}")
}

/// `MARK#mail-rejected:<id>`: a marker.
pub(super) fn marker_pk(key: &str) -> String {
    format!("MARK#{key}")
}

/// `MAILLOG#mail:<id>`: a message in the mail log (a long id spelled by
/// its digest, as [`crate::keys`] spells it).
pub(super) fn mail_log_pk(id: &str) -> String {
    format!("MAILLOG#{}", crate::keys::marker::mail_not_accepted(id))
}

/// `MAILLOG#2025-03-14`: the queue index partition of the mail log's
/// entries of one day (UTC).
pub(super) fn mail_log_gsi1pk(day: chrono::NaiveDate) -> String {
    format!("MAILLOG#{}", day.format("%Y-%m-%d"))
}

/// `2025-03-14T09:26:53.589793000Z#mail:<id>`: a mail log entry's sort key
/// in its day, time first.
pub(super) fn mail_log_gsi1sk(at: DateTime<Utc>, id: &str) -> String {
    format!(
        "{}#{}",
        at.format("%Y-%m-%dT%H:%M:%S%.9fZ"),
        crate::keys::marker::mail_not_accepted(id)
    )
}

/// The bounds of `mail_log_gsi1sk` for entries from `since` to `until`.
pub(super) fn mail_log_gsi1sk_range(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (String, String) {
    (
        since.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        format!("{}#~", until.format("%Y-%m-%dT%H:%M:%S%.9fZ")),
    )
}

/// `COUNT#rate:form:203.0.113.7:2025-03-14T09:26`: a named counter.
pub(super) fn count_pk(key: &str) -> String {
    format!("COUNT#{key}")
}

/// `QUEUE#SUP`: the queue index partition of a ticket.
pub(super) fn queue_gsi1pk(queue: &QueueKey) -> String {
    format!("QUEUE#{queue}")
}

/// `2025-03-14T09:26:53.589793000Z#00000000000000000017`: the queue index
/// sort key, creation time with fixed (nanosecond) precision then the
/// zero-padded number, so string order is creation order and ties are
/// broken by number.
pub(super) fn queue_gsi1sk(created_at: DateTime<Utc>, number: u64) -> String {
    format!(
        "{}#{number:020}",
        created_at.format("%Y-%m-%dT%H:%M:%S%.9fZ")
    )
}

/// `ASSIGNEE#SUP#anna`: the assignee index partition of a ticket of queue
/// `SUP` assigned to `anna` (a queue key has no `#`, so the login is
/// everything after the second one).
pub(super) fn assignee_gsi2pk(queue: &QueueKey, login: &str) -> String {
    format!("ASSIGNEE#{queue}#{login}")
}

/// `UNASSIGNED#SUP`: the assignee index partition of queue `SUP`'s
/// unassigned tickets (`UNASSIGNED` is not `ASSIGNEE`, so no login can
/// name it).
pub(super) fn unassigned_gsi2pk(queue: &QueueKey) -> String {
    format!("UNASSIGNED#{queue}")
}

/// The assignee index partition of a ticket: its assignee's, or the
/// queue's unassigned one.
pub(super) fn holder_pk(queue: &QueueKey, assignee: Option<&str>) -> String {
    match assignee {
        Some(login) => assignee_gsi2pk(queue, login),
        None => unassigned_gsi2pk(queue),
    }
}

/// `Open#2025-03-14T09:26:53.589793000Z#00000000000000000017`: the
/// assignee index sort key, the ticket's status then its queue index sort
/// key, so the tickets of one status are one `begins_with` range, newest
/// last.
pub(super) fn assignee_gsi2sk(status: &str, created_at: DateTime<Utc>, number: u64) -> String {
    format!(
        "{}{}",
        assignee_gsi2sk_prefix(status),
        queue_gsi1sk(created_at, number)
    )
}

/// `STATUS#SUP#Open`: the listing index partition of queue `SUP`'s
/// tickets in status `Open` (held by the tickets' listing items; the
/// ticket items hold their assignee partition, [`holder_pk`], there).
pub(super) fn status_gsi4pk(queue: &QueueKey, status: &str) -> String {
    format!("STATUS#{queue}#{status}")
}

/// `Open#`: the prefix of the assignee index sort keys of one status.
pub(super) fn assignee_gsi2sk_prefix(status: &str) -> String {
    format!("{status}#")
}

/// Which SLA due partition a ticket is in: FNV-1a of its key, modulo
/// [`SLA_DUE_SHARDS`] (stable across processes and versions).
pub(super) fn sla_due_shard(key: &TicketKey) -> u32 {
    let hash = key.to_string().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % SLA_DUE_SHARDS
}

/// `SLADUE#3`: an SLA due index partition.
pub(super) fn sla_due_gsi3pk(shard: u32) -> String {
    format!("SLADUE#{shard}")
}

/// `01796629800000000000#SUP-17`: the SLA due index sort key, the due
/// time in microseconds since the epoch padded to 20 digits, then the
/// ticket, so string order is time order for every instant chrono can hold
/// (a calendar that never opens again gives a deadline past the year 9999).
pub(super) fn sla_due_gsi3sk(due: DateTime<Utc>, key: &TicketKey) -> String {
    format!("{:020}#{key}", due.timestamp_micros().max(0))
}

/// The greatest sort key of anything due at or before `until` (`~` sorts
/// after every character of a ticket key).
pub(super) fn sla_due_gsi3sk_until(until: DateTime<Utc>) -> String {
    format!("{:020}#~", until.timestamp_micros().max(0))
}

/// The due time and ticket of an SLA due index sort key.
pub(super) fn parse_sla_due_gsi3sk(sk: &str) -> Option<(DateTime<Utc>, TicketKey)> {
    let (due, key) = sk.split_once('#')?;
    let due = DateTime::from_timestamp_micros(due.parse().ok()?)?;
    Some((due, TicketKey::parse(key).ok()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timeline_sort_keys_sort_like_their_sequence_numbers() {
        let seqs = [1_000_u64, 1_001, 2_000, 10_000, 123_456_789];
        let keys: Vec<String> = seqs.iter().map(|s| timeline_sk(*s)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(timeline_sk(1_000), "TL#00000000000000001000");
    }

    #[test]
    fn queue_index_sort_keys_have_fixed_precision_and_sort_by_time_then_number() {
        let t = Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap();
        let with_micros = t + chrono::Duration::microseconds(589_793);
        assert_eq!(
            queue_gsi1sk(t, 17),
            "2025-03-14T09:26:53.000000000Z#00000000000000000017"
        );
        assert_eq!(
            queue_gsi1sk(with_micros, 2),
            "2025-03-14T09:26:53.589793000Z#00000000000000000002"
        );
        assert!(queue_gsi1sk(t, 9) < queue_gsi1sk(t, 10));
        assert!(queue_gsi1sk(t, 99) < queue_gsi1sk(with_micros, 1));
    }

    #[test]
    fn partition_keys_name_their_item() {
        let queue = QueueKey::parse("SUP").unwrap();
        let key = TicketKey::new(queue.clone(), 17);
        assert_eq!(ticket_pk(&key), "TICKET#SUP-17");
        assert_eq!(counter_pk(&queue), "COUNTER#SUP");
        assert_eq!(queue_gsi1pk(&queue), "QUEUE#SUP");
        let email = EmailAddress::parse("Anna@Example.com").unwrap();
        assert_eq!(email_pk(&email), "EMAIL#anna@example.com");
        assert_eq!(idempotency_pk("form:support:1"), "IDEM#form:support:1");
        assert_eq!(marker_pk("sent:SUP-17:ack"), "MARK#sent:SUP-17:ack");
        assert_eq!(count_pk("rate:form:1"), "COUNT#rate:form:1");
    }

    #[test]
    fn the_timeline_range_of_a_version_covers_exactly_its_entries() {
        let (first, last) = timeline_sk_range_of_version(2).unwrap();
        assert_eq!(first, "TL#00000000000000002000");
        assert_eq!(last, "TL#00000000000000002999");
        assert!(first <= timeline_sk(crate::domain::ticket::entry_seq(2, 0)));
        assert!(timeline_sk(crate::domain::ticket::entry_seq(2, 999)) <= last);
        assert!(timeline_sk(crate::domain::ticket::entry_seq(1, 999)) < first);
        assert!(timeline_sk(crate::domain::ticket::entry_seq(3, 0)) > last);
        assert_eq!(timeline_sk_range_of_version(u64::MAX), None);
    }

    #[test]
    fn assignee_index_keys_group_by_queue_and_login_then_status_then_age() {
        let queue = QueueKey::parse("SUP").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 9, 50, 0).unwrap();
        assert_eq!(assignee_gsi2pk(&queue, "anna"), "ASSIGNEE#SUP#anna");
        assert_eq!(holder_pk(&queue, None), "UNASSIGNED#SUP");
        assert_eq!(
            assignee_gsi2sk("In progress", t, 17),
            "In progress#2026-12-04T09:50:00.000000000Z#00000000000000000017"
        );
        assert!(assignee_gsi2sk("Open", t, 17).starts_with(&assignee_gsi2sk_prefix("Open")));
        assert!(!assignee_gsi2sk("Open", t, 17).starts_with(&assignee_gsi2sk_prefix("Ope")));
        assert!(assignee_gsi2sk("Open", t, 9) < assignee_gsi2sk("Open", t, 17));
        assert_eq!(status_gsi4pk(&queue, "Open"), "STATUS#SUP#Open");
    }

    #[test]
    fn sla_due_keys_sort_by_time_and_spread_over_every_shard() {
        let queue = QueueKey::parse("SUP").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 9, 50, 0).unwrap();
        let key = TicketKey::new(queue.clone(), 17);
        let sk = sla_due_gsi3sk(t, &key);
        assert_eq!(sk, "00001796377800000000#SUP-17");
        assert_eq!(parse_sla_due_gsi3sk(&sk), Some((t, key.clone())));
        assert!(sk <= sla_due_gsi3sk_until(t));
        assert!(
            sla_due_gsi3sk(t + chrono::Duration::microseconds(1), &key) > sla_due_gsi3sk_until(t)
        );
        let shards: std::collections::BTreeSet<u32> = (1..200)
            .map(|n| sla_due_shard(&TicketKey::new(queue.clone(), n)))
            .collect();
        assert_eq!(shards.len(), SLA_DUE_SHARDS as usize);
    }

    #[test]
    fn named_counters_do_not_share_a_partition_with_ticket_counters() {
        let queue = QueueKey::parse("SUP").unwrap();
        assert_ne!(count_pk("SUP"), counter_pk(&queue));
    }
}
