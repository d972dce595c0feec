//! The mail log: an entry reads back as written and is replaced under its
//! id; listing gives the entries between two instants, newest first, across
//! days, of one outcome when asked, within the limit.

use std::sync::Arc;

use chrono::Duration;
use helpdesk::domain::{MailLogEntry, MailLogQuery, Refusal, TicketKey};
use helpdesk::store::Store;

use super::at;

fn entry(id: &str, outcome: Refusal, minutes: i64) -> MailLogEntry {
    MailLogEntry {
        id: id.to_owned(),
        outcome,
        reason: format!("because of {id}"),
        raw_key: format!("raw/{id}.eml"),
        at: at(minutes),
        digest: "9c1e".to_owned(),
        from: Some("stranger@example.org".to_owned()),
        subject: Some("Hello".to_owned()),
        recipients: Vec::new(),
        queue: None,
        released: None,
    }
}

fn ids(entries: &[MailLogEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.id.as_str()).collect()
}

/// An entry reads back equal; written again (released), the new one is
/// what reads back; an unknown id reads as none.
pub async fn a_logged_message_reads_back_and_a_release_replaces_it(store: Arc<dyn Store>) {
    let held = entry("held-1@example.org", Refusal::Held, 0);
    store.log_mail(&held).await.expect("logged");
    assert_eq!(
        store.mail_log_entry(&held.id).await.expect("read"),
        Some(held.clone())
    );
    let released = MailLogEntry {
        released: Some(TicketKey::parse("SUP-3").expect("a key")),
        ..held.clone()
    };
    store.log_mail(&released).await.expect("logged again");
    assert_eq!(
        store.mail_log_entry(&held.id).await.expect("read"),
        Some(released)
    );
    assert_eq!(
        store
            .mail_log_entry("nobody@example.org")
            .await
            .expect("read"),
        None
    );
}

/// Entries over three days come back newest first between the bounds;
/// the outcome filter and the limit cut as asked.
pub async fn the_log_lists_newest_first_between_two_instants_by_outcome_within_the_limit(
    store: Arc<dyn Store>,
) {
    let day = 24 * 60;
    let written = [
        entry("a@x", Refusal::Rejected, 0),
        entry("b@x", Refusal::Held, 10),
        entry("c@x", Refusal::Held, day + 5),
        entry("d@x", Refusal::Bounce, day + 20),
        entry("e@x", Refusal::Held, 2 * day + 1),
        entry("f@x", Refusal::Rejected, 3 * day),
    ];
    for e in &written {
        store.log_mail(e).await.expect("logged");
    }
    let query = |since: i64, until: i64, outcome: Option<Refusal>, limit: usize| MailLogQuery {
        since: at(since),
        until: at(until),
        outcome,
        limit,
    };
    let all = store
        .mail_log(&query(0, 2 * day + 1, None, 100))
        .await
        .expect("listed");
    assert_eq!(ids(&all), ["e@x", "d@x", "c@x", "b@x", "a@x"]);
    let held = store
        .mail_log(&query(0, 3 * day, Some(Refusal::Held), 100))
        .await
        .expect("listed");
    assert_eq!(ids(&held), ["e@x", "c@x", "b@x"]);
    let two = store
        .mail_log(&query(0, 3 * day, None, 2))
        .await
        .expect("listed");
    assert_eq!(ids(&two), ["f@x", "e@x"]);
    let since = store
        .mail_log(&query(day + 5, day + 30, None, 100))
        .await
        .expect("listed");
    assert_eq!(ids(&since), ["d@x", "c@x"]);
    let none = store
        .mail_log(&MailLogQuery {
            since: at(-day),
            until: at(-1) - Duration::seconds(1),
            outcome: None,
            limit: 100,
        })
        .await
        .expect("listed");
    assert!(none.is_empty());
}
