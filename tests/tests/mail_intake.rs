//! Email intake as customers and mail systems exercise it: new mail becomes
//! a ticket, replies thread (by header, by token, by subject key), nothing
//! is recorded twice, and automatic mail never starts a loop.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use helpdesk::config::StrangerPolicy;
use helpdesk::domain::{QueueKey, TicketKey, TimelineEvent};
use helpdesk::mail::ingest::{IngestError, Ingested, Refusal};
use helpdesk::mail::send::SendOutcome;
use helpdesk::tickets;
use helpdesk_tests::app::{TestApp, spawn_app};

#[derive(Clone)]
struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

fn mail(from: &str, subject: &str, body: &str) -> Mail {
    Mail {
        headers: vec![
            ("From".into(), from.into()),
            ("To".into(), "Support <support@example.com>".into()),
            ("Subject".into(), subject.into()),
            ("Date".into(), "Mon, 02 Mar 2026 09:00:00 +0000".into()),
            (
                "Message-ID".into(),
                format!("<{}@customer.example>", uuid::Uuid::new_v4().simple()),
            ),
            ("MIME-Version".into(), "1.0".into()),
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
        ],
        body: body.into(),
    }
}

impl Mail {
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }
    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }
    fn id(&self) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n == "Message-ID")
            .map(|(_, v)| v.trim_matches(['<', '>']).to_owned())
            .unwrap_or_default()
    }
    fn raw(&self) -> Vec<u8> {
        let mut text = String::new();
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(&self.body.replace('\n', "\r\n"));
        text.into_bytes()
    }
}

async fn deliver(app: &TestApp, mail: &Mail) -> Ingested {
    app.deliver(mail.raw()).await.expect("accepted")
}

fn new_ticket(outcome: &Ingested) -> TicketKey {
    match outcome {
        Ingested::NewTicket { ticket, .. } => ticket.clone(),
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

fn header_of(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// The first internal note on `key` whose text contains `containing`.
async fn internal_note(app: &TestApp, key: &TicketKey, containing: &str) -> Option<String> {
    app.timeline(key)
        .await
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::Comment {
                public: false,
                body,
                ..
            } if body.contains(containing) => Some(body),
            _ => None,
        })
}

fn sup() -> QueueKey {
    QueueKey::parse("SUP").unwrap()
}

#[tokio::test]
async fn a_new_mail_becomes_a_ticket_and_is_acknowledged() {
    let app = spawn_app();
    let first = mail(
        "Jane Doe <Jane@Customer.org>",
        "Printer on fire",
        "The printer is on fire.\n\n-- \nJane\nACME Corp",
    );
    let key = new_ticket(&deliver(&app, &first).await);
    let ticket = app.ticket(&key).await;
    assert_eq!(ticket.summary, "Printer on fire");
    assert_eq!(ticket.description, "The printer is on fire.");
    assert_eq!(
        ticket.requester.email.as_ref().unwrap().as_str(),
        "jane@customer.org"
    );
    assert_eq!(ticket.requester.name.as_deref(), Some("Jane Doe"));
    assert_eq!(ticket.channel, helpdesk::domain::Channel::Email);

    let sent = app.sent();
    assert_eq!(sent.len(), 1, "one acknowledgement");
    let ack = &sent[0].1;
    assert!(
        header_of(ack, "Subject").unwrap().contains("[SUP-1]"),
        "{ack}"
    );
    assert_eq!(
        header_of(ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header_of(ack, "X-Helpdesk-Loop").as_deref(),
        Some("example-helpdesk")
    );
    assert!(header_of(ack, "In-Reply-To").unwrap().contains(&first.id()));
    assert!(
        header_of(ack, "Reply-To")
            .unwrap()
            .trim_start_matches('<')
            .starts_with("support+sup-1-"),
        "{ack}"
    );
    let timeline = app.timeline(&key).await;
    assert!(timeline.iter().any(|e| matches!(
        &e.event,
        TimelineEvent::EmailOut {
            automatic: true,
            ..
        }
    )));
}

#[tokio::test]
async fn a_reply_by_header_lands_on_the_same_ticket_without_the_quote() {
    let app = spawn_app();
    let first = mail("jane@customer.org", "Invoice", "Please resend the invoice.");
    let key = new_ticket(&deliver(&app, &first).await);
    let ack_id = header_of(&app.sent()[0].1, "Message-ID").unwrap();

    let reply = mail("jane@customer.org", "Re: [SUP-1] Invoice", "Thanks, got it.\n\nOn Mon, Mar 2, 2026 at 9:00 AM Support <support@example.com> wrote:\n> We received your request")
        .header("In-Reply-To", &ack_id);
    match deliver(&app, &reply).await {
        Ingested::Reply { ticket, how, .. } => {
            assert_eq!(ticket, key);
            assert_eq!(how, "In-Reply-To/References");
        }
        other => panic!("{other:?}"),
    }
    let comments: Vec<String> = app
        .timeline(&key)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::Comment {
                public: true, body, ..
            } => Some(body),
            _ => None,
        })
        .collect();
    assert_eq!(comments, vec!["Thanks, got it."]);
    assert_eq!(app.tickets().await.len(), 1);
    assert_eq!(
        app.sent().len(),
        1,
        "a reply gets no second acknowledgement"
    );
}

#[tokio::test]
async fn a_reply_by_token_from_a_new_address_adds_a_participant() {
    let app = spawn_app();
    let key = new_ticket(&deliver(&app, &mail("jane@customer.org", "VPN", "VPN is down")).await);
    let reply_to = header_of(&app.sent()[0].1, "Reply-To").unwrap();
    let colleague = mail("bob@customer.org", "VPN still down", "Same here.")
        .header("To", &reply_to)
        .header("Cc", "Carol <carol@customer.org>, support-team@example.com");
    match deliver(&app, &colleague).await {
        Ingested::Reply { ticket, how, .. } => {
            assert_eq!((ticket, how.as_str()), (key.clone(), "Reply-To token"))
        }
        other => panic!("{other:?}"),
    }
    let ticket = app.ticket(&key).await;
    assert_eq!(
        ticket.requester.email.unwrap().as_str(),
        "jane@customer.org",
        "a reply never replaces the requester"
    );
    let participants: Vec<&str> = ticket.participants.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        participants,
        ["bob@customer.org", "carol@customer.org"],
        "the forwarding address is no participant"
    );
}

#[tokio::test]
async fn a_forged_token_does_not_thread() {
    let app = spawn_app();
    new_ticket(&deliver(&app, &mail("jane@customer.org", "VPN", "VPN is down")).await);
    let forged = mail("mallory@evil.example", "hello", "hi")
        .header("To", "support+sup-1-aaaaaaaaaa@example.com");
    let outcome = deliver(&app, &forged).await;
    assert_eq!(new_ticket(&outcome).number(), 2);
}

#[tokio::test]
async fn a_subject_key_from_a_stranger_follows_the_queue_policy() {
    let app = spawn_app();
    let key =
        new_ticket(&deliver(&app, &mail("jane@customer.org", "Refund", "Refund please")).await);
    let stranger = mail("eve@other.org", "About [SUP-1]", "I saw this ticket");
    let outcome = deliver(&app, &stranger).await;
    assert_eq!(
        new_ticket(&outcome).number(),
        2,
        "policy new_ticket: the key may be a guess"
    );

    let mut config = (*app.services.config).clone();
    config
        .queues
        .get_mut(&sup())
        .unwrap()
        .mail
        .subject_key_from_stranger = StrangerPolicy::Accept;
    let mut services = app.services.clone();
    services.config = Arc::new(config);
    let again = mail("frank@other.org", "Re: [SUP-1] Refund", "Me too");
    let outcome = helpdesk::mail::ingest::ingest(&services, again.raw().into(), Default::default())
        .await
        .unwrap();
    assert!(
        matches!(outcome, Ingested::Reply { ref ticket, .. } if *ticket == key),
        "{outcome:?}"
    );
    assert!(
        app.ticket(&key)
            .await
            .participants
            .iter()
            .any(|p| p.as_str() == "frank@other.org")
    );

    let mut config = (*app.services.config).clone();
    config
        .queues
        .get_mut(&sup())
        .unwrap()
        .mail
        .subject_key_from_stranger = StrangerPolicy::Hold;
    services.config = Arc::new(config);
    let held = mail("gina@other.org", "Re: [SUP-1] Refund", "Let me in");
    let outcome = helpdesk::mail::ingest::ingest(&services, held.raw().into(), Default::default())
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            Ingested::NotAccepted {
                outcome: Refusal::Held,
                ..
            }
        ),
        "{outcome:?}"
    );
    let record = app
        .store
        .mail_log_entry(&held.id())
        .await
        .unwrap()
        .expect("the hold is in the mail log");
    assert_eq!(record.outcome, Refusal::Held);
    assert!(record.reason.contains("held for review"), "{record:?}");
}

#[tokio::test]
async fn the_same_message_delivered_twice_or_to_two_addresses_is_recorded_once() {
    let app = spawn_app();
    let message = mail("jane@customer.org", "Twice", "Hello")
        .header("To", "support@example.com, help@example.com");
    let key = new_ticket(&deliver(&app, &message).await);
    assert_eq!(
        deliver(&app, &message).await,
        Ingested::Duplicate {
            ticket: key.clone()
        }
    );
    let concurrent = futures::future::join_all((0..5).map(|_| app.deliver(message.raw()))).await;
    assert!(
        concurrent
            .iter()
            .all(|r| matches!(r, Ok(Ingested::Duplicate { .. })))
    );
    assert_eq!(app.tickets().await.len(), 1);
    assert_eq!(app.sent().len(), 1, "one acknowledgement");
    let inbound = app
        .timeline(&key)
        .await
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::EmailIn { .. }))
        .count();
    assert_eq!(inbound, 1);
}

#[tokio::test]
async fn a_message_without_message_id_gets_a_stable_id_and_is_recorded_once() {
    let app = spawn_app();
    let message = mail("jane@customer.org", "No id", "Hello").without("Message-ID");
    let key = new_ticket(&deliver(&app, &message).await);
    assert_eq!(
        deliver(&app, &message).await,
        Ingested::Duplicate { ticket: key }
    );
}

#[tokio::test]
async fn an_autoresponder_ping_pong_gets_bounded_answers_and_each_suppression_is_recorded() {
    let app = spawn_app();
    let mut sent_before = 0;
    let mut suppressed = 0;
    for i in 0..100 {
        // A broken autoresponder that sets no headers and writes new mail each time.
        let message = mail(
            "robot@autoresponder.example",
            &format!("Your message {i}"),
            "I am a robot.",
        );
        match deliver(&app, &message).await {
            Ingested::NewTicket {
                acknowledgement: Some(SendOutcome::Suppressed { .. }),
                ticket,
            } => {
                suppressed += 1;
                let reasons: Vec<String> = app
                    .timeline(&ticket)
                    .await
                    .into_iter()
                    .filter_map(|e| match e.event {
                        TimelineEvent::EmailSuppressed { reason, .. } => Some(reason),
                        _ => None,
                    })
                    .collect();
                assert_eq!(reasons.len(), 1);
                assert!(reasons[0].contains("rate limit"), "{reasons:?}");
            }
            Ingested::NewTicket {
                acknowledgement: Some(SendOutcome::Sent { .. }),
                ..
            } => sent_before += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        sent_before, 30,
        "30 automatic mails per recipient per 10 minutes"
    );
    assert_eq!(suppressed, 70);
    assert_eq!(app.sent().len(), 30);

    // Ten minutes later the window is fresh again.
    app.clock.advance(chrono::Duration::minutes(10));
    let later = deliver(&app, &mail("robot@autoresponder.example", "again", "robot")).await;
    assert!(
        matches!(
            later,
            Ingested::NewTicket {
                acknowledgement: Some(SendOutcome::Sent { .. }),
                ..
            }
        ),
        "{later:?}"
    );
}

#[tokio::test]
async fn automatic_mail_is_recorded_but_never_answered() {
    let app = spawn_app();
    let auto = mail(
        "alerts@monitoring.example",
        "Disk full",
        "Disk /var is full",
    )
    .header("Auto-Submitted", "auto-generated");
    let outcome = deliver(&app, &auto).await;
    match outcome {
        Ingested::NewTicket {
            acknowledgement: Some(SendOutcome::Suppressed { reason }),
            ticket,
        } => {
            assert!(reason.contains("Auto-Submitted"), "{reason}");
            let recorded = app.timeline(&ticket).await.iter().any(|e| matches!(&e.event, TimelineEvent::EmailSuppressed { reason, .. } if reason.contains("Auto-Submitted")));
            assert!(recorded, "the suppression is visible on the ticket");
        }
        other => panic!("{other:?}"),
    }
    assert!(app.sent().is_empty());

    for (name, value) in [
        ("Precedence", "bulk"),
        ("X-Auto-Response-Suppress", "All"),
        ("Return-Path", "<>"),
    ] {
        let m = mail("list@news.example", "News", "news").header(name, value);
        assert!(
            matches!(
                deliver(&app, &m).await,
                Ingested::NewTicket {
                    acknowledgement: Some(SendOutcome::Suppressed { .. }),
                    ..
                }
            ),
            "{name}"
        );
    }
    let noreply = mail("no-reply@shop.example", "Your order", "shipped");
    assert!(matches!(
        deliver(&app, &noreply).await,
        Ingested::NewTicket {
            acknowledgement: Some(SendOutcome::Suppressed { .. }),
            ..
        }
    ));
    assert!(app.sent().is_empty());
}

async fn resolve(app: &TestApp, key: &TicketKey, status: &str, days_ago: i64) {
    let now = app.clock.as_ref();
    let at = helpdesk::clock::Clock::now(now) - chrono::Duration::days(days_ago);
    tickets::apply(
        app.store.as_ref(),
        &app.services.config,
        key,
        &helpdesk::domain::Actor::Agent {
            login: "anna".into(),
            via: None,
        },
        at,
        &[],
        |t| {
            t.status = status.into();
            t.resolved_at = Some(at);
            vec![]
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_bounce_is_noted_on_its_ticket_and_never_reopens_it() {
    let app = spawn_app();
    let key = new_ticket(&deliver(&app, &mail("jane@customer.org", "Hello", "Hi")).await);
    let ack_id = header_of(&app.sent()[0].1, "Message-ID").unwrap();
    resolve(&app, &key, "Resolved", 0).await;
    let original = ack_id.trim_matches(['<', '>']);
    let boundary = "BOUNDARY";
    let bounce = Mail {
        headers: vec![
            (
                "From".into(),
                "Mail Delivery System <MAILER-DAEMON@mx.customer.org>".into(),
            ),
            ("To".into(), "support@example.com".into()),
            (
                "Subject".into(),
                "Undelivered Mail Returned to Sender".into(),
            ),
            ("Message-ID".into(), "<bounce-1@mx.customer.org>".into()),
            ("MIME-Version".into(), "1.0".into()),
            (
                "Content-Type".into(),
                format!("multipart/report; report-type=delivery-status; boundary=\"{boundary}\""),
            ),
        ],
        body: format!(
            "--{boundary}\nContent-Type: text/plain\n\nDelivery failed.\n\n--{boundary}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.customer.org\n\nFinal-Recipient: rfc822; jane@customer.org\nAction: failed\nStatus: 5.1.1\n\n--{boundary}\nContent-Type: text/rfc822-headers\n\nMessage-ID: <{original}>\nSubject: [SUP-1] Hello\n\n--{boundary}--\n"
        ),
    };
    assert_eq!(
        deliver(&app, &bounce).await,
        Ingested::Bounce {
            ticket: Some(key.clone())
        }
    );
    let ticket = app.ticket(&key).await;
    assert_eq!(ticket.status, "Resolved");
    assert_eq!(ticket.reopen_count, 0);
    let note = internal_note(&app, &key, "Delivery problem").await;
    assert!(note.unwrap().contains("5.1.1"));
    assert_eq!(app.sent().len(), 1, "no answer to a bounce");
}

#[tokio::test]
async fn a_reply_to_a_resolved_ticket_reopens_it_and_an_out_of_office_does_not() {
    let app = spawn_app();
    let first = mail("jane@customer.org", "Login", "Cannot log in");
    let key = new_ticket(&deliver(&app, &first).await);
    resolve(&app, &key, "Resolved", 1).await;

    let ooo = mail(
        "jane@customer.org",
        "Automatic reply: [SUP-1] Login",
        "I am out of office",
    )
    .header("In-Reply-To", &format!("<{}>", first.id()))
    .header("Auto-Submitted", "auto-replied");
    assert!(matches!(
        deliver(&app, &ooo).await,
        Ingested::Reply {
            reopened: false,
            ..
        }
    ));
    assert_eq!(app.ticket(&key).await.status, "Resolved");

    let person = mail("jane@customer.org", "Re: [SUP-1] Login", "It broke again")
        .header("In-Reply-To", &format!("<{}>", first.id()));
    assert!(matches!(
        deliver(&app, &person).await,
        Ingested::Reply { reopened: true, .. }
    ));
    let ticket = app.ticket(&key).await;
    assert_eq!((ticket.status.as_str(), ticket.reopen_count), ("Open", 1));
}

#[tokio::test]
async fn a_reply_long_after_closing_opens_a_new_linked_ticket() {
    let app = spawn_app();
    let first = mail("jane@customer.org", "Login", "Cannot log in");
    let key = new_ticket(&deliver(&app, &first).await);
    resolve(&app, &key, "Closed", 30).await;
    let late = mail(
        "jane@customer.org",
        "Re: [SUP-1] Login",
        "Broken again a month later",
    )
    .header("In-Reply-To", &format!("<{}>", first.id()));
    let follow_up = new_ticket(&deliver(&app, &late).await);
    assert_ne!(follow_up, key);
    let linked = |events: Vec<helpdesk::domain::TimelineEntry>| {
        events.into_iter().find_map(|e| match e.event {
            TimelineEvent::Linked { other, relation } => Some((other, relation)),
            _ => None,
        })
    };
    assert_eq!(
        linked(app.timeline(&follow_up).await),
        Some((key.clone(), "follow_up_of".into()))
    );
    assert_eq!(
        linked(app.timeline(&key).await),
        Some((follow_up, "followed_up_by".into()))
    );
    assert_eq!(app.ticket(&key).await.status, "Closed");
}

#[tokio::test]
async fn a_sender_outside_the_allowed_patterns_is_rejected_with_a_recorded_reason() {
    let app = spawn_app();
    let mut config = (*app.services.config).clone();
    let queue = config.queues.get_mut(&sup()).unwrap();
    queue.mail.allowed_senders = vec!["*@company.com".into()];
    queue.mail.rejection = Some(helpdesk::config::MailTemplate {
        subject: "We could not take your request".into(),
        body: "Hello {{ sender.email }}, this address serves company.com only.".into(),
    });
    let mut services = app.services.clone();
    services.config = Arc::new(config);
    let outsider = mail("someone@gmail.example", "Hi", "Let me in");
    let outcome =
        helpdesk::mail::ingest::ingest(&services, outsider.raw().into(), Default::default())
            .await
            .unwrap();
    assert!(
        matches!(
            outcome,
            Ingested::NotAccepted {
                outcome: Refusal::Rejected,
                ..
            }
        ),
        "{outcome:?}"
    );
    let record = app
        .store
        .mail_log_entry(&outsider.id())
        .await
        .unwrap()
        .unwrap()
        .reason;
    assert!(record.contains("not allowed"), "{record}");
    assert!(
        record.contains("answered with the queue's rejection"),
        "{record}"
    );
    let sent = app.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header_of(&sent[0].1, "To").as_deref(),
        Some("<someone@gmail.example>")
    );
    assert_eq!(
        header_of(&sent[0].1, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    helpdesk::mail::ingest::ingest(&services, outsider.raw().into(), Default::default())
        .await
        .unwrap();
    assert_eq!(app.sent().len(), 1, "a redelivery is not answered twice");
    let robot =
        mail("daemon@gmail.example", "Hi", "beep").header("Auto-Submitted", "auto-generated");
    helpdesk::mail::ingest::ingest(&services, robot.raw().into(), Default::default())
        .await
        .unwrap();
    assert_eq!(app.sent().len(), 1, "automatic mail gets no answer");
    let insider = mail("kim@company.com", "Hi", "Hello");
    let outcome =
        helpdesk::mail::ingest::ingest(&services, insider.raw().into(), Default::default())
            .await
            .unwrap();
    assert!(matches!(outcome, Ingested::NewTicket { .. }));
}

#[tokio::test]
async fn data_that_is_no_mail_is_refused_but_its_raw_bytes_are_kept() {
    let app = spawn_app();
    match app.deliver(Vec::new()).await {
        Err(IngestError::Unacceptable { raw_key, .. }) => {
            assert!(app.blob_dir.join(&raw_key).exists())
        }
        other => panic!("{other:?}"),
    }
    let message = mail("jane@customer.org", "Kept", "raw first");
    let key = new_ticket(&deliver(&app, &message).await);
    let raw_key = app
        .timeline(&key)
        .await
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::EmailIn { raw_key, .. } => raw_key,
            _ => None,
        })
        .unwrap();
    assert_eq!(
        std::fs::read(app.blob_dir.join(raw_key)).unwrap(),
        message.raw()
    );
}

#[tokio::test]
async fn mail_to_an_unknown_address_is_rejected_unless_a_queue_is_given() {
    let app = spawn_app();
    let stray = mail("jane@customer.org", "Hi", "Hello").header("To", "sales@example.com");
    assert!(matches!(
        deliver(&app, &stray).await,
        Ingested::NotAccepted { .. }
    ));
    let envelope = helpdesk::mail::ingest::Envelope {
        queue: Some(sup()),
        ..Default::default()
    };
    let stray2 = mail("jane@customer.org", "Hi", "Hello").header("To", "sales@example.com");
    let outcome = helpdesk::mail::ingest::ingest(&app.services, stray2.raw().into(), envelope)
        .await
        .unwrap();
    assert!(matches!(outcome, Ingested::NewTicket { .. }));
}

#[tokio::test]
async fn ses_verdicts_are_honoured_per_config() {
    let app = spawn_app();
    let spam = helpdesk::mail::ingest::Envelope {
        spam: true,
        ..Default::default()
    };
    let outcome = helpdesk::mail::ingest::ingest(
        &app.services,
        mail("win@lottery.example", "You won", "Claim").raw().into(),
        spam.clone(),
    )
    .await
    .unwrap();
    assert!(
        matches!(
            outcome,
            Ingested::NotAccepted {
                outcome: Refusal::Quarantined,
                ..
            }
        ),
        "{outcome:?}"
    );
    let virus = helpdesk::mail::ingest::Envelope {
        virus: true,
        ..Default::default()
    };
    let outcome = helpdesk::mail::ingest::ingest(
        &app.services,
        mail("x@infected.example", "Invoice", "see exe")
            .raw()
            .into(),
        virus,
    )
    .await
    .unwrap();
    assert!(
        matches!(
            outcome,
            Ingested::NotAccepted {
                outcome: Refusal::Dropped,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(app.tickets().await.is_empty());

    let mut config = (*app.services.config).clone();
    config.desk.mail.verdicts.spam = helpdesk::config::VerdictAction::Tag;
    let mut services = app.services.clone();
    services.config = Arc::new(config);
    let outcome = helpdesk::mail::ingest::ingest(
        &services,
        mail("maybe@promo.example", "Offer", "Buy").raw().into(),
        spam,
    )
    .await
    .unwrap();
    match outcome {
        Ingested::NewTicket {
            ticket,
            acknowledgement: Some(SendOutcome::Suppressed { reason }),
        } => {
            assert_eq!(app.ticket(&ticket).await.tags, vec!["spam"]);
            assert!(reason.contains("SES verdict"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(app.sent().is_empty(), "no answer to spam");
}

/// Fault injection: a transport that fails the first `failures` sends
/// (temporarily, or for good) and then writes to the real outbox.
struct FailingTransport {
    failures: std::sync::atomic::AtomicUsize,
    permanent: bool,
    then: Arc<helpdesk::mail::transport::OutboxDir>,
}

#[async_trait::async_trait]
impl helpdesk::mail::transport::MailTransport for FailingTransport {
    async fn send(
        &self,
        from: &str,
        to: &[String],
        raw: &[u8],
    ) -> Result<String, helpdesk::mail::transport::TransportError> {
        use helpdesk::mail::transport::TransportError;
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(if self.permanent {
                TransportError::Permanent("MessageRejected: Email address is not verified".into())
            } else {
                TransportError::Temporary("Throttling: rate exceeded".into())
            });
        }
        self.then.send(from, to, raw).await
    }
}

#[tokio::test]
async fn an_acknowledgement_that_failed_to_send_is_sent_on_redelivery_exactly_once() {
    let mut app = spawn_app();
    app.services.mail = Arc::new(FailingTransport {
        failures: 1.into(),
        permanent: false,
        then: app.outbox.clone(),
    });
    let message = mail("jane@customer.org", "Help", "Please help");
    assert!(
        matches!(
            app.deliver(message.raw()).await,
            Err(IngestError::Temporary { .. })
        ),
        "the MTA or Lambda retries"
    );
    assert_eq!(app.tickets().await.len(), 1, "the ticket is kept");
    assert!(app.sent().is_empty());
    assert!(matches!(
        app.deliver(message.raw()).await,
        Ok(Ingested::Duplicate { .. })
    ));
    assert_eq!(app.sent().len(), 1, "the retry sends the acknowledgement");
    assert!(matches!(
        app.deliver(message.raw()).await,
        Ok(Ingested::Duplicate { .. })
    ));
    assert_eq!(app.sent().len(), 1, "and only once");
}

/// The message the template's `OutboundMailFailures` metric filters match.
fn outbound_failure_message() -> String {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap();
    let pattern = template
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("FilterPattern: '{ $.fields.message = \"")
        })
        .expect("the template counts failed outbound mail");
    pattern.trim_end_matches("\" }'").to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn each_failed_send_is_one_error_line_that_the_stack_counts_as_outbound_mail_failures() {
    let message = outbound_failure_message();
    for permanent in [false, true] {
        let mut app = spawn_app();
        app.services.mail = Arc::new(FailingTransport {
            failures: 1.into(),
            permanent,
            then: app.outbox.clone(),
        });
        let raw = mail("jane@customer.org", "Help", "Please help").raw();
        let capture = helpdesk::telemetry::JsonCapture::start();
        let _ = app.deliver(raw).await;
        let logs: Vec<serde_json::Value> = capture
            .lines()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let failures: Vec<_> = logs
            .iter()
            .filter(|line| line["fields"]["message"] == message.as_str())
            .collect();
        assert_eq!(failures.len(), 1, "permanent: {permanent}, {logs:?}");
        assert_eq!(failures[0]["level"], "ERROR");
        assert_eq!(failures[0]["fields"]["permanent"], permanent);
    }
}

#[tokio::test]
async fn an_acknowledgement_that_can_never_be_sent_is_recorded_not_retried() {
    let mut app = spawn_app();
    app.services.mail = Arc::new(FailingTransport {
        failures: 100.into(),
        permanent: true,
        then: app.outbox.clone(),
    });
    let outcome = app
        .deliver(mail("jane@customer.org", "Help", "Please help").raw())
        .await
        .unwrap();
    let key = match outcome {
        Ingested::NewTicket {
            ticket,
            acknowledgement: Some(SendOutcome::Suppressed { reason }),
        } => {
            assert!(reason.contains("not verified"), "{reason}");
            ticket
        }
        other => panic!("{other:?}"),
    };
    let recorded = app.timeline(&key).await.iter().any(|e| matches!(&e.event, TimelineEvent::EmailSuppressed { reason, .. } if reason.contains("could not be sent")));
    assert!(recorded);
}

#[tokio::test]
async fn a_corrupt_stored_ticket_is_a_permanent_failure_the_mailgate_does_not_ask_to_retry() {
    let app = spawn_app();
    let first = app
        .deliver(mail("jane@customer.org", "Printer", "It is on fire").raw())
        .await
        .expect("the first mail opens a ticket");
    let Ingested::NewTicket { ticket, .. } = first else {
        panic!("{first:?}");
    };
    let db = rusqlite::Connection::open(app.db_path()).expect("the store's file opens");
    db.execute(
        "UPDATE tickets SET doc = '{\"not\": \"a ticket\"}' WHERE key = ?1",
        [ticket.to_string()],
    )
    .expect("the ticket is damaged");
    drop(db);

    let reply = mail(
        "jane@customer.org",
        &format!("Re: [{ticket}] Printer"),
        "Still burning",
    );
    let result = app.deliver(reply.raw()).await;
    match &result {
        Err(e @ IngestError::Permanent { .. }) => {
            assert!(!e.is_retryable());
            assert!(e.to_string().contains("corrupt"), "{e}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    // The MTA is told that retrying cannot help (EX_SOFTWARE), not to try
    // again later (EX_TEMPFAIL) for days; the raw message stays kept.
    assert_eq!(helpdesk_cli::mailgate::exit_code(&result), 70);
    let raw = std::fs::read_dir(app.blob_dir.join("raw"))
        .expect("raw mail is kept")
        .count();
    assert_eq!(raw, 2, "both messages are kept raw");
}

/// The recipients (To and Cc) of a sent mail, lower-cased.
fn recipients_of(text: &str) -> Vec<String> {
    let header = text.split("\r\n\r\n").next().unwrap_or_default();
    header
        .split("\r\n")
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            lower.starts_with("to:") || lower.starts_with("cc:")
        })
        .flat_map(|line| line.split_once(':').map(|(_, v)| v.to_owned()))
        .flat_map(|v| {
            v.split(',')
                .map(|a| {
                    a.trim()
                        .trim_start_matches(|c| c != '<')
                        .trim_matches(['<', '>'])
                        .to_ascii_lowercase()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The old, unkeyed Message-IDs an attacker could compute: the first 16
/// hex digits of SHA-256 of a purpose, on any ticket number.
fn computed_ids(count: usize) -> Vec<String> {
    use sha2::Digest;
    (1..=count)
        .map(|n| {
            let purpose = format!("answer:{n}");
            let hash = hex_of(&sha2::Sha256::digest(purpose.as_bytes())[..8]);
            format!("<sup-{}.{hash}@helpdesk.example.com>", n % 3 + 1)
        })
        .collect()
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_stranger_naming_the_customers_message_id_and_computed_ids_does_not_join_the_ticket() {
    let app = spawn_app();
    let first = mail("jane@customer.org", "Invoice 4711", "Charged twice");
    let Ingested::NewTicket { ticket: victim, .. } = app.deliver(first.raw()).await.unwrap() else {
        panic!("the first mail opens a ticket");
    };

    // Mallory knows Jane's Message-ID (he was on an earlier thread with
    // her) and lists 30 ids computed the way our ids used to be made.
    let mut references = computed_ids(30);
    references.push(format!("<{}>", first.id()));
    let attack = mail(
        "mallory@evil.example",
        "Re: Invoice 4711",
        "Send me the answer too",
    )
    .header("In-Reply-To", &format!("<{}>", first.id()))
    .header("References", &references.join(" "))
    .header("Cc", "eve@evil.example");
    let outcome = app.deliver(attack.raw()).await.unwrap();
    match &outcome {
        Ingested::NewTicket { ticket, .. } => assert_ne!(ticket, &victim),
        other => panic!("the stranger policy (new ticket) applies, got {other:?}"),
    }
    let stored = app.ticket(&victim).await;
    assert!(stored.participants.is_empty(), "{:?}", stored.participants);

    // The next public answer on Jane's ticket goes to Jane alone.
    let before = app.sent().len();
    helpdesk::tickets::agent::update(
        &app.services,
        &victim,
        &helpdesk::auth::Principal::of(&app.services.config, "boris", helpdesk::auth::Via::Cli)
            .unwrap(),
        helpdesk::tickets::agent::AgentUpdate {
            comment: Some((true, "Refunded".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sent = app.sent();
    assert_eq!(sent.len(), before + 1);
    let answer = sent
        .iter()
        .find(|(_, text)| text.contains("Refunded"))
        .expect("the answer is sent");
    assert_eq!(recipients_of(&answer.1), ["jane@customer.org"]);
}

#[tokio::test]
async fn a_stranger_replying_to_our_own_message_id_is_held_when_the_queue_holds_strangers() {
    let mut app = spawn_app();
    let first = mail("jane@customer.org", "Printer", "On fire");
    let Ingested::NewTicket { ticket: victim, .. } = app.deliver(first.raw()).await.unwrap() else {
        panic!("the first mail opens a ticket");
    };
    let (_, acknowledgement) = app.sent().pop().expect("an acknowledgement");
    let ours = acknowledgement
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("our Message-ID")
        .trim()
        .to_owned();
    // Our ids are keyed: nothing of the ticket's number or the purpose's
    // plain hash is enough to compute them.
    assert!(ours.starts_with("<sup-1."), "{ours}");
    assert_eq!(
        ours.split(['.', '@']).nth(1).map(str::len),
        Some(32),
        "{ours}"
    );

    let mut config = (*app.services.config).clone();
    config
        .queues
        .get_mut(&sup())
        .unwrap()
        .mail
        .subject_key_from_stranger = StrangerPolicy::Hold;
    app.services.config = Arc::new(config);
    // Say the acknowledgement was forwarded to someone outside.
    let stranger = mail("frank@other.org", "Re: Printer", "Me too")
        .header("In-Reply-To", &ours)
        .header("References", &ours);
    let outcome = app.deliver(stranger.raw()).await.unwrap();
    assert!(
        matches!(
            outcome,
            Ingested::NotAccepted {
                outcome: Refusal::Held,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(app.ticket(&victim).await.participants.is_empty());

    // Jane herself, from the same header, is a reply as before.
    let reply = mail("jane@customer.org", "Re: Printer", "Still burning")
        .header("In-Reply-To", &ours)
        .header("References", &ours);
    let outcome = app.deliver(reply.raw()).await.unwrap();
    assert!(
        matches!(outcome, Ingested::Reply { ref ticket, .. } if *ticket == victim),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_huge_subject_becomes_a_bounded_summary_and_stays_whole_on_the_timeline() {
    let app = spawn_app();
    let subject = "Printer ".repeat(100_000);
    let message = mail("jane@customer.org", &subject, "It is on fire");
    let Ingested::NewTicket { ticket, .. } = app.deliver(message.raw()).await.unwrap() else {
        panic!("a new ticket");
    };
    let stored = app.ticket(&ticket).await;
    assert_eq!(stored.summary.chars().count(), tickets::SUMMARY_MAX);
    assert!(stored.summary.ends_with('…'));
    let (excerpt, blob) = app
        .timeline(&ticket)
        .await
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::EmailIn {
                subject,
                subject_blob,
                ..
            } => Some((subject, subject_blob)),
            _ => None,
        })
        .expect("the mail is on the timeline");
    assert!(subject.trim().starts_with(excerpt.trim()));
    let blob = blob.expect("the whole subject is kept as a blob");
    let whole = app.services.blobs.get(&blob.blob_key).await.unwrap();
    let whole = String::from_utf8(whole.expect("the blob").to_vec()).unwrap();
    assert_eq!(whole.trim(), subject.trim(), "the whole subject is kept");
    let (_, acknowledgement) = app.sent().pop().expect("an acknowledgement");
    // The acknowledgement echoes the summary, not the 800 KB subject.
    let head = acknowledgement.split("\r\n\r\n").next().unwrap_or_default();
    assert!(head.len() < 5_000, "{} bytes of headers", head.len());
}

#[tokio::test]
async fn the_trusted_mtas_failing_verdicts_hold_the_mail_and_anyone_elses_are_ignored() {
    use helpdesk::config::UnauthenticatedPolicy;
    let mut app = spawn_app();
    let mut config = (*app.services.config).clone();
    config.desk.mail.trusted_authserv_id = Some("mx.example.com".into());
    config.queues.get_mut(&sup()).unwrap().mail.unauthenticated = UnauthenticatedPolicy::Hold;
    app.services.config = Arc::new(config);

    // A header under another name may be the sender's own: ignored.
    let forged_pass = mail("alice@customer.org", "Invoice", "Pay me")
        .header("Authentication-Results", "evil.example; dmarc=fail");
    assert!(matches!(
        app.deliver(forged_pass.raw()).await.unwrap(),
        Ingested::NewTicket { .. }
    ));

    let failing = mail("alice@customer.org", "Re: [SUP-1] Invoice", "Send it to me")
        .header(
            "Authentication-Results",
            "mx.example.com; spf=fail smtp.mailfrom=customer.org; dkim=none; dmarc=fail header.from=customer.org",
        );
    let outcome = app.deliver(failing.raw()).await.unwrap();
    assert!(
        matches!(outcome, Ingested::NotAccepted { outcome: Refusal::Held, ref reason } if reason.contains("fails authentication")),
        "{outcome:?}"
    );
    assert_eq!(app.tickets().await.len(), 1, "nothing more was opened");

    let passing = mail("alice@customer.org", "Re: [SUP-1] Invoice", "Thanks").header(
        "Authentication-Results",
        "mx.example.com; spf=pass; dkim=pass; dmarc=pass",
    );
    assert!(matches!(
        app.deliver(passing.raw()).await.unwrap(),
        Ingested::Reply { .. }
    ));
}

#[tokio::test]
async fn a_japanese_mail_makes_a_japanese_ticket_and_acknowledgement() {
    let app = spawn_app();
    let raw = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/tests/fixtures/mail/fidelity/iso-2022-jp.eml"),
    )
    .unwrap();
    let Ingested::NewTicket { ticket, .. } = app.deliver(raw).await.unwrap() else {
        panic!("a new ticket");
    };
    let stored = app.ticket(&ticket).await;
    assert_eq!(stored.summary, "メルマガ解除");
    assert_eq!(stored.requester.name.as_deref(), Some("山田太郎"));
    assert!(stored.description.contains("解約の手続きをお願いします。"));

    let (_, acknowledgement) = app.sent().pop().expect("an acknowledgement");
    let parsed = helpdesk::mail::parse::parse(
        acknowledgement.as_bytes(),
        &helpdesk::mail::parse::MailLimits::default(),
    )
    .unwrap();
    assert!(
        parsed.subject.contains("メルマガ解除"),
        "the acknowledgement's subject: {:?}",
        parsed.subject
    );
}

#[tokio::test]
async fn an_intranet_sender_without_a_dot_in_its_domain_opens_a_ticket() {
    let app = spawn_app();
    let outcome = deliver(&app, &mail("Kim <kim@redacted>", "VPN down", "Help")).await;
    let ticket = app.ticket(&new_ticket(&outcome)).await;
    assert_eq!(
        ticket.requester.email.as_ref().map(|e| e.as_str()),
        Some("kim@redacted")
    );
}

#[tokio::test]
async fn a_malformed_from_falls_back_to_sender_reply_to_and_return_path() {
    let app = spawn_app();
    let spam = mail("\"Your Bank\" <not an address>", "Offer", "Buy")
        .header("Reply-To", "Real Person <real@customer.org>");
    let ticket = app.ticket(&new_ticket(&deliver(&app, &spam).await)).await;
    assert_eq!(
        ticket.requester.email.as_ref().map(|e| e.as_str()),
        Some("real@customer.org")
    );

    let bare = mail("undisclosed", "Hello", "Anyone?").header("Return-Path", "<back@customer.org>");
    let ticket = app.ticket(&new_ticket(&deliver(&app, &bare).await)).await;
    assert_eq!(
        ticket.requester.email.as_ref().map(|e| e.as_str()),
        Some("back@customer.org")
    );
}

#[tokio::test]
async fn a_mail_naming_no_usable_sender_is_held_for_an_agent_not_refused() {
    let app = spawn_app();
    let nobody = mail("undisclosed recipients", "Hello", "Anyone?").header("Return-Path", "<>");
    match deliver(&app, &nobody).await {
        Ingested::NotAccepted { outcome, reason } => {
            assert_eq!(outcome, Refusal::Held, "{reason}");
            assert!(reason.contains("no usable sender"), "{reason}");
        }
        other => panic!("expected the mail held, got {other:?}"),
    }
    assert!(app.tickets().await.is_empty());
}

#[tokio::test]
async fn a_message_reusing_an_earlier_message_id_with_other_content_is_a_message_of_its_own() {
    let app = spawn_app();
    let first = mail("jane@customer.org", "Printer", "It is on fire")
        .header("Message-ID", "<reused@gateway.example>");
    let second = mail("bob@partner.org", "Invoice", "Please resend March")
        .header("Message-ID", "<reused@gateway.example>");
    let first_ticket = new_ticket(&deliver(&app, &first).await);
    let second_ticket = new_ticket(&deliver(&app, &second).await);
    assert_ne!(first_ticket, second_ticket);

    let note = internal_note(&app, &second_ticket, "reuses the Message-ID")
        .await
        .expect("a note says the id was reused");
    assert!(note.contains(&first_ticket.to_string()), "{note}");

    // Each, delivered again, is a duplicate of itself.
    for (mail, ticket) in [(&first, &first_ticket), (&second, &second_ticket)] {
        match deliver(&app, mail).await {
            Ingested::Duplicate { ticket: again } => assert_eq!(&again, ticket),
            other => panic!("expected a duplicate, got {other:?}"),
        }
    }
    assert_eq!(app.tickets().await.len(), 2);
}

#[tokio::test]
async fn the_same_message_through_another_relay_is_a_duplicate() {
    let app = spawn_app();
    let original = mail("jane@customer.org", "Printer", "It is on fire");
    let ticket = new_ticket(&deliver(&app, &original).await);
    let relayed = original
        .clone()
        .header(
            "Received",
            "from relay2.example by mx.example; Mon, 2 Mar 2026 09:01:00 +0000",
        )
        .header("X-Spam-Score", "0.1");
    match deliver(&app, &relayed).await {
        Ingested::Duplicate { ticket: again } => assert_eq!(again, ticket),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // A gateway that tags the subject and adds a banner keeps From and Date.
    let mut bannered = original.clone().header("Subject", "[EXTERNAL] Printer");
    bannered.body = format!(
        "CAUTION: this mail comes from outside.\n\n{}",
        original.body
    );
    match deliver(&app, &bannered).await {
        Ingested::Duplicate { ticket: again } => assert_eq!(again, ticket),
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sender_named_only_by_reply_to_is_a_stranger_to_every_ticket() {
    let app = spawn_app();
    let ticket = new_ticket(&deliver(&app, &mail("jane@customer.org", "Printer", "Fire")).await);
    let forged = mail(
        "undisclosed",
        &format!("Re: [{ticket}] Printer"),
        "Close it",
    )
    .header("Reply-To", "jane@customer.org");
    match deliver(&app, &forged).await {
        Ingested::NewTicket { ticket: other, .. } => assert_ne!(other, ticket),
        other => panic!("expected the stranger policy (a new ticket), got {other:?}"),
    }
    let comments = app
        .timeline(&ticket)
        .await
        .into_iter()
        .filter(|e| matches!(e.event, TimelineEvent::Comment { .. }))
        .count();
    assert_eq!(comments, 0, "nothing was written on Jane's ticket");
}
