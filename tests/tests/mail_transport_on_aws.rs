//! Outbound mail through SES v2 on moto's server: a message built by
//! `helpdesk::mail::outbound` goes out through the `ses` transport and shows
//! up in moto's sent mail (`GET /moto-api/data.json`). Skipped without
//! `HELPDESK_TEST_DYNAMODB_ENDPOINT` (moto serves every service on one
//! port), unless `HELPDESK_REQUIRE_MOTO=1`, which makes it fail instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed expectation is a failed test"
)]

use chrono::{TimeZone, Utc};
use helpdesk::domain::{EmailAddress, TicketKey};
use helpdesk::mail::outbound::{Address, OutboundMail, build, message_id_for};
use helpdesk::mail::token::{plus_address, reply_token};
use helpdesk::mail::transport::TransportError;
use helpdesk_tests::moto::{
    create_sender_identity, endpoint as moto_endpoint, sent_messages, ses_transport,
};

fn acknowledgement(ticket: &TicketKey, from: &str, run: &str) -> OutboundMail {
    let support = EmailAddress::parse(from).unwrap();
    OutboundMail {
        from: Address::named("Example Support", from),
        to: vec![Address::named("Kim Lee", "kim@customer.org")],
        cc: Vec::new(),
        reply_to: Some(Address::new(plus_address(
            &support,
            &reply_token(b"test secret", ticket),
        ))),
        subject: format!("Invoice question {run}"),
        text: "We got your request and will answer soon.".to_owned(),
        html: None,
        message_id: message_id_for(ticket, &format!("ack:{run}"), "example.com", b"test key"),
        in_reply_to: Some(format!("original-{run}@customer.org")),
        references: Vec::new(),
        ticket: Some(ticket.clone()),
        automatic: true,
        loop_header: ("X-Helpdesk-Loop".to_owned(), "example-helpdesk".to_owned()),
        attachments: Vec::new(),
        date: Utc.with_ymd_and_hms(2025, 3, 14, 9, 26, 53).unwrap(),
    }
}

#[tokio::test]
async fn an_acknowledgement_sent_through_ses_reaches_the_sent_mail_unchanged() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let sender = format!("support-{run}@example.com");
    create_sender_identity(&endpoint, &sender).await;
    let transport = ses_transport(&endpoint).await;

    let ticket = TicketKey::parse("SUP-17").unwrap();
    let mail = acknowledgement(&ticket, &sender, &run);
    let raw = build(&mail).expect("the message builds");
    let provider_id = transport
        .send(&sender, &["kim@customer.org".to_owned()], &raw)
        .await
        .expect("SES accepts the message");
    assert!(!provider_id.is_empty(), "SES returns its message id");

    let sent = sent_messages(&endpoint).await;
    let ours = sent
        .iter()
        .find(|m| m["id"].as_str() == Some(provider_id.as_str()))
        .unwrap_or_else(|| panic!("message {provider_id} not in moto's sent mail: {sent:?}"));
    assert_eq!(ours["source"].as_str(), Some(sender.as_str()));
    let destinations = ours["destinations"].to_string();
    assert!(destinations.contains("kim@customer.org"), "{destinations}");
    let data = ours["raw_data"].as_str().expect("the raw message is kept");
    assert_eq!(
        data.as_bytes(),
        raw.as_slice(),
        "SES got our bytes unchanged"
    );
    assert!(data.contains(&format!("Message-ID: <{}>\r\n", mail.message_id)));
    assert!(data.contains(&format!("Subject: [SUP-17] Invoice question {run}\r\n")));
    assert!(data.contains("Auto-Submitted: auto-replied\r\n"));
    assert!(data.contains("X-Helpdesk-Loop: example-helpdesk\r\n"));
}

#[tokio::test]
async fn ses_refuses_an_unverified_sender_permanently() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let sender = format!("nobody-{run}@unverified-{run}.org");
    let transport = ses_transport(&endpoint).await;
    let ticket = TicketKey::parse("SUP-18").unwrap();
    let raw = build(&acknowledgement(&ticket, &sender, &run)).unwrap();
    let error = transport
        .send(&sender, &["kim@customer.org".to_owned()], &raw)
        .await
        .expect_err("moto refuses an unverified sender");
    assert!(
        matches!(&error, TransportError::Permanent(m) if m.contains("MessageRejected")),
        "not worth retrying, and says why: {error}"
    );
}
