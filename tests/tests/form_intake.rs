//! Form intake end to end over SQLite: what a website, a browser and a form
//! provider see, and what ends up in the queue.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use helpdesk::domain::{Channel, TimelineEvent};
use helpdesk::forms::signature::{Scheme, sign};
use helpdesk_tests::app::{PARTNER_SECRET, TALLY_SECRET, TYPEFORM_SECRET, corpus_dir, spawn_app};
use serde_json::json;

fn support(topic: &str) -> serde_json::Value {
    json!({
        "name": "Jane Doe",
        "email": "Jane.Doe@Customer.org",
        "subject": "Charged twice for March",
        "message": "My card was charged twice.\nPlease refund one.",
        "topic": topic,
        "customer_id": "C-1042"
    })
}

#[tokio::test]
async fn a_billing_question_becomes_a_first_line_billing_ticket() {
    let app = spawn_app();
    let answer = app.post_json("support", support("billing")).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let key = answer.ticket();
    assert_eq!(key.to_string(), "SUP-1");

    let ticket = app.ticket(&key).await;
    assert_eq!(ticket.summary, "Charged twice for March");
    assert_eq!(
        ticket.description,
        "My card was charged twice.\nPlease refund one."
    );
    assert_eq!(ticket.status, "New");
    assert_eq!(ticket.priority, "normal");
    assert_eq!(ticket.line, Some(1));
    assert_eq!(ticket.components, vec!["Billing"]);
    assert_eq!(ticket.channel, Channel::Form);
    assert_eq!(
        ticket.requester.email.as_ref().unwrap().as_str(),
        "jane.doe@customer.org"
    );
    assert_eq!(ticket.requester.name.as_deref(), Some("Jane Doe"));
    assert_eq!(ticket.custom_fields["customer_id"], json!("C-1042"));
    assert_eq!(ticket.version, 1);

    let contact = app
        .store
        .as_ref()
        .find_contact_by_email(ticket.requester.email.as_ref().unwrap())
        .await
        .unwrap()
        .expect("the requester became a contact");
    assert_eq!(Some(contact.id), ticket.requester.contact_id);
}

#[tokio::test]
async fn an_outage_goes_to_the_second_line_as_critical_and_login_to_accounts() {
    let app = spawn_app();
    let outage = app.post_json("support", support("outage")).await.ticket();
    let login = app.post_json("support", support("login")).await.ticket();
    let other = app.post_json("support", support("other")).await.ticket();

    let outage = app.ticket(&outage).await;
    assert_eq!(
        (outage.line, outage.priority.as_str()),
        (Some(2), "critical")
    );
    assert_eq!(outage.components, vec!["Outages"]);
    let login = app.ticket(&login).await;
    assert_eq!(
        (login.line, login.components.clone()),
        (Some(1), vec!["Accounts".to_owned()])
    );
    let other = app.ticket(&other).await;
    assert_eq!((other.line, other.components.len()), (None, 0));
}

#[tokio::test]
async fn the_timeline_records_the_submission_with_every_answer_and_the_matched_rules() {
    let app = spawn_app();
    let key = app.post_json("support", support("billing")).await.ticket();
    let timeline = app.timeline(&key).await;
    assert!(matches!(
        timeline[0].event,
        TimelineEvent::Created {
            channel: Channel::Form
        }
    ));
    match &timeline[1].event {
        TimelineEvent::FormSubmitted {
            form,
            answers,
            routing_rules,
            ..
        } => {
            assert_eq!(form, "support");
            assert_eq!(answers["customer_id"], "C-1042");
            assert_eq!(
                routing_rules,
                &vec!["Billing questions go to the first line".to_owned()]
            );
        }
        other => panic!("expected the submission, got {other:?}"),
    }
    assert!(timeline.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn missing_and_invalid_answers_are_named_and_nothing_is_stored() {
    let app = spawn_app();
    let answer = app
        .post_json(
            "support",
            json!({"subject": "Help", "email": "not-an-address", "topic": "weather"}),
        )
        .await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.headers["content-type"], "application/problem+json");
    let mut fields = answer.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["email", "message", "topic"]);
    assert!(app.tickets().await.is_empty());
}

#[tokio::test]
async fn a_browser_posting_a_plain_html_form_is_sent_to_the_thank_you_page() {
    let app = spawn_app();
    let body = "name=Jane&email=jane%40customer.org&subject=Cannot+sign+in&message=Password+reset+fails&topic=login";
    let answer = app
        .post(
            "support",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", "text/html,application/xhtml+xml"),
            ],
            body,
        )
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(
        answer.headers["location"],
        "https://www.example.com/support/thanks?ticket=SUP-1"
    );
    assert_eq!(app.tickets().await[0].components, vec!["Accounts"]);
}

#[tokio::test]
async fn a_script_posting_urlencoded_without_asking_for_html_gets_json() {
    let app = spawn_app();
    let answer = app
        .post(
            "support",
            &[("content-type", "application/x-www-form-urlencoded")],
            "email=a%40b.org&subject=S&message=M",
        )
        .await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.ticket().to_string(), "SUP-1");
}

fn multipart(files: &[(&str, &[u8])], fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----helpdesk-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file_name, data) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

const FIELDS: &[(&str, &str)] = &[
    ("email", "jane@customer.org"),
    ("subject", "Screenshot"),
    ("message", "See attached"),
    ("topic", "other"),
];

#[tokio::test]
async fn uploaded_files_are_stored_as_attachments_of_the_ticket() {
    let app = spawn_app();
    let (content_type, body) = multipart(
        &[
            ("screen shot.png", b"\x89PNG fake"),
            ("../../etc/passwd", b"root:x"),
        ],
        FIELDS,
    );
    let answer = app
        .post("support", &[("content-type", &content_type)], body)
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let key = answer.ticket();
    let attachments: Vec<_> = app
        .timeline(&key)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::AttachmentAdded {
                file_name,
                blob_key,
                size,
                ..
            } => Some((file_name, blob_key, size)),
            _ => None,
        })
        .collect();
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0].0, "screen shot.png");
    assert_eq!(attachments[0].2, 9);
    let stored = std::fs::read(app.blob_dir.join(&attachments[0].1)).unwrap();
    assert_eq!(stored, b"\x89PNG fake");
    assert!(
        attachments[1].1.starts_with("attachments/SUP-1/"),
        "{}",
        attachments[1].1
    );
    assert!(!attachments[1].1.contains(".."));
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_413_and_nothing_is_stored() {
    let app = spawn_app();
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let (content_type, body) = multipart(&[("big.bin", &big)], FIELDS);
    let answer = app
        .post("support", &[("content-type", &content_type)], body)
        .await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(app.tickets().await.is_empty());
    assert!(!app.blob_dir.exists());
}

#[tokio::test]
async fn unknown_forms_unsupported_types_and_malformed_bodies_get_clear_errors() {
    let app = spawn_app();
    let unknown = app.post_json("no-such-form", support("billing")).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json["type"], "/problems/unknown-form");

    let text = app
        .post("support", &[("content-type", "text/plain")], "hello")
        .await;
    assert_eq!(text.status, 415);
    let none = app.post("support", &[], "hello").await;
    assert_eq!(none.status, 415);

    let broken = app
        .post(
            "support",
            &[("content-type", "application/json")],
            "{\"email\": ",
        )
        .await;
    assert_eq!(broken.status, 400);
    assert!(broken.json["detail"].as_str().is_some());
    assert!(app.tickets().await.is_empty());
}

#[tokio::test]
async fn a_filled_honeypot_looks_like_success_and_creates_nothing() {
    let app = spawn_app();
    let mut body = support("billing");
    body["website"] = json!("http://spam.example");
    let answer = app.post_json("support", body).await;
    assert_eq!(answer.status, 200);
    assert!(answer.json["ticket"].is_null());
    assert!(app.tickets().await.is_empty());
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_ticket_on_redelivery() {
    let app = spawn_app();
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "order-77"),
    ];
    let body = support("billing").to_string();
    let first = app.post("support", &headers, body.clone()).await;
    let second = app.post("support", &headers, body).await;
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 201);
    assert_eq!(first.ticket(), second.ticket());
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(app.tickets().await.len(), 1);
    assert_eq!(app.timeline(&first.ticket()).await.len(), 2);

    let other = app
        .post("support", &headers, support("outage").to_string())
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(other.json["type"], "/problems/idempotency-key-reused");
    assert_eq!(app.tickets().await.len(), 1);
}

#[tokio::test]
async fn concurrent_redeliveries_of_one_submission_make_one_ticket() {
    let app = spawn_app();
    let body = support("billing").to_string();
    let answers = futures::future::join_all((0..10).map(|_| {
        app.post(
            "support",
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "k-1"),
            ],
            body.clone(),
        )
    }))
    .await;
    let keys: std::collections::BTreeSet<String> =
        answers.iter().map(|a| a.ticket().to_string()).collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(app.tickets().await.len(), 1);
}

#[tokio::test]
async fn fifty_concurrent_submissions_get_fifty_distinct_increasing_keys() {
    let app = spawn_app();
    let answers =
        futures::future::join_all((0..50).map(|_| app.post_json("support", support("billing"))))
            .await;
    let mut numbers: Vec<u64> = answers.iter().map(|a| a.ticket().number()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
}

fn typeform_delivery(token: &str, topic: &str) -> String {
    json!({
        "event_id": "01HZTESTEVENT",
        "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j",
            "token": token,
            "submitted_at": "2026-03-02T09:29:00Z",
            "definition": {"id": "lT4Z3j", "title": "Feedback", "fields": [
                {"id": "f1", "ref": "email", "type": "email", "title": "Your email"},
                {"id": "f2", "ref": "subject", "type": "short_text", "title": "Subject"},
                {"id": "f3", "ref": "message", "type": "long_text", "title": "Tell us more"},
                {"id": "f4", "ref": "topic", "type": "multiple_choice", "title": "Topic"}
            ]},
            "answers": [
                {"type": "email", "email": "pat@customer.org", "field": {"id": "f1", "ref": "email", "type": "email"}},
                {"type": "text", "text": "Dashboard is down", "field": {"id": "f2", "ref": "subject", "type": "short_text"}},
                {"type": "text", "text": "Since 9:00 nothing loads", "field": {"id": "f3", "ref": "message", "type": "long_text"}},
                {"type": "choice", "choice": {"label": topic}, "field": {"id": "f4", "ref": "topic", "type": "multiple_choice"}}
            ]
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_signed_typeform_delivery_becomes_a_ticket_once() {
    let app = spawn_app();
    let body = typeform_delivery("tok-1", "outage");
    let signature = sign(
        Scheme::Typeform,
        TYPEFORM_SECRET.as_bytes(),
        0,
        body.as_bytes(),
    );
    let headers = [
        ("content-type", "application/json"),
        ("typeform-signature", signature.as_str()),
    ];
    let first = app.post("typeform-feedback", &headers, body.clone()).await;
    assert_eq!(first.status, 201, "{first:?}");
    let ticket = app.ticket(&first.ticket()).await;
    assert_eq!(ticket.summary, "Feedback: Dashboard is down");
    assert_eq!(
        (ticket.priority.as_str(), ticket.line),
        ("critical", Some(2))
    );
    assert_eq!(ticket.requester.email.unwrap().as_str(), "pat@customer.org");

    let again = app.post("typeform-feedback", &headers, body).await;
    assert_eq!(
        again.ticket(),
        first.ticket(),
        "the provider's token makes redelivery idempotent"
    );
    assert_eq!(app.tickets().await.len(), 1);
}

#[tokio::test]
async fn a_signed_form_whose_secret_is_not_set_is_refused_as_unverifiable_without_a_retry() {
    let mut app = spawn_app();
    app.services.secrets = std::sync::Arc::new(helpdesk::app::StaticSecrets(Default::default()));
    let body = typeform_delivery("tok-3", "billing");
    let signature = sign(
        Scheme::Typeform,
        TYPEFORM_SECRET.as_bytes(),
        0,
        body.as_bytes(),
    );
    let answer = app
        .post(
            "typeform-feedback",
            &[
                ("content-type", "application/json"),
                ("typeform-signature", &signature),
            ],
            body,
        )
        .await;
    // Not a 5xx: the provider would retry until it gives up; the operator
    // learns it from the error log.
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json["type"], "/problems/secret-missing");
    assert!(app.tickets().await.is_empty());
}

#[tokio::test]
async fn a_delivery_with_a_bad_or_missing_signature_is_refused_with_401() {
    let app = spawn_app();
    let body = typeform_delivery("tok-2", "billing");
    let wrong = sign(Scheme::Typeform, b"another secret", 0, body.as_bytes());
    let bad = app
        .post(
            "typeform-feedback",
            &[
                ("content-type", "application/json"),
                ("typeform-signature", &wrong),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json["type"], "/problems/bad-signature");
    let missing = app
        .post(
            "typeform-feedback",
            &[("content-type", "application/json")],
            body,
        )
        .await;
    assert_eq!(missing.status, 401);
    assert!(app.tickets().await.is_empty());
}

#[tokio::test]
async fn a_signed_tally_delivery_maps_questions_by_label() {
    let app = spawn_app();
    let body = json!({
        "eventId": "evt-9", "eventType": "FORM_RESPONSE", "createdAt": "2026-03-02T09:00:00Z",
        "data": {"responseId": "resp-9", "formId": "w4Ml", "formName": "Bugs", "fields": [
            {"key": "question_a", "label": "Your email", "type": "INPUT_EMAIL", "value": "lee@customer.org"},
            {"key": "question_b", "label": "What went wrong?", "type": "INPUT_TEXT", "value": "Export fails"},
            {"key": "details", "label": "Details", "type": "TEXTAREA", "value": "CSV export returns 500"}
        ]}
    })
    .to_string();
    let signature = sign(Scheme::Tally, TALLY_SECRET.as_bytes(), 0, body.as_bytes());
    let answer = app
        .post(
            "tally-bugs",
            &[
                ("content-type", "application/json"),
                ("tally-signature", &signature),
            ],
            body,
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let ticket = app.ticket(&answer.ticket()).await;
    assert_eq!(ticket.summary, "Export fails");
    assert_eq!(ticket.description, "CSV export returns 500");
}

#[tokio::test]
async fn a_generic_signature_older_than_five_minutes_is_refused() {
    let app = spawn_app();
    let body = json!({"email": "ops@partner.org", "subject": "Sync", "message": "Sync failed"})
        .to_string();
    let now = app.clock.as_ref();
    let fresh_ts = helpdesk::clock::Clock::now(now).timestamp();
    let fresh = sign(
        Scheme::Generic,
        PARTNER_SECRET.as_bytes(),
        fresh_ts - 299,
        body.as_bytes(),
    );
    let ok = app
        .post(
            "partner-api",
            &[
                ("content-type", "application/json"),
                ("x-signature-256", &fresh),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(ok.status, 201, "{ok:?}");

    let stale = sign(
        Scheme::Generic,
        PARTNER_SECRET.as_bytes(),
        fresh_ts - 301,
        body.as_bytes(),
    );
    let refused = app
        .post(
            "partner-api",
            &[
                ("content-type", "application/json"),
                ("x-signature-256", &stale),
            ],
            body,
        )
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(app.tickets().await.len(), 1);
}

#[tokio::test]
async fn browsers_from_allowed_origins_get_cors_headers_and_others_are_refused() {
    let app = spawn_app();
    let allowed = app
        .post(
            "support",
            &[
                ("content-type", "application/json"),
                ("origin", "https://www.example.com"),
            ],
            support("billing").to_string(),
        )
        .await;
    assert_eq!(allowed.status, 201);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://www.example.com"
    );

    let preflight = app
        .request(
            http::Method::OPTIONS,
            "support",
            &[("origin", "https://www.example.com")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert!(
        preflight.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );

    let foreign = app
        .post(
            "support",
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
            support("billing").to_string(),
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.headers.get("access-control-allow-origin").is_none());
    assert_eq!(app.tickets().await.len(), 1);
}

#[tokio::test]
async fn the_real_jotform_delivery_produces_a_ticket() {
    let Some(corpus) = corpus_dir() else { return };
    let body = std::fs::read(corpus.join("form_webhooks/jotform/zulip_jotform_response.multipart"))
        .unwrap();
    let app = spawn_app();
    let content_type =
        "multipart/form-data; boundary=------------------------J1JNT4vbVO4FCC1qLG4HSv";
    let answer = app
        .post(
            "jotform-tutoring",
            &[("content-type", content_type)],
            body.clone(),
        )
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let ticket = app.ticket(&answer.ticket()).await;
    assert_eq!(ticket.summary, "Tutor Appointment Form: Niloth P (Math)");
    assert_eq!(ticket.requester.name.as_deref(), Some("Niloth P"));
    assert!(ticket.requester.email.is_none());
    assert!(
        ticket.description.contains("Grade: 12"),
        "{}",
        ticket.description
    );

    let again = app
        .post("jotform-tutoring", &[("content-type", content_type)], body)
        .await;
    assert_eq!(
        again.ticket(),
        answer.ticket(),
        "Jotform's submissionID makes redelivery idempotent"
    );
}

#[tokio::test]
async fn the_local_server_answers_over_http_like_the_lambda() {
    let app = spawn_app();
    let base = app.serve().await;
    helpdesk::automation::webhook::install_crypto_provider();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/forms/support"))
        .header("content-type", "application/json")
        .body(support("outage").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["ticket"], "SUP-1");
    let health = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

fn from(email: &str) -> serde_json::Value {
    let mut body = support("billing");
    body["email"] = json!(email);
    body
}

#[tokio::test]
async fn posts_over_a_forms_rate_limits_get_429_with_retry_after_and_store_nothing() {
    use helpdesk::config::{FormRateLimit, RateLimit, Span};
    use std::time::Duration;
    let mut app = spawn_app();
    let mut config = (*app.services.config).clone();
    config.forms.get_mut("support").unwrap().rate_limit = FormRateLimit {
        per_client: Some(RateLimit {
            count: 2,
            window: Span(Duration::from_secs(60)),
        }),
        per_email: Some(RateLimit {
            count: 3,
            window: Span(Duration::from_secs(3600)),
        }),
    };
    app.services.config = std::sync::Arc::new(config);

    // Two posts from one address pass, the third is refused until the
    // minute's window ends.
    app.client = Some("203.0.113.7".parse().unwrap());
    for _ in 0..2 {
        assert_eq!(
            app.post_json("support", from("a@customer.org"))
                .await
                .status,
            201
        );
    }
    let refused = app.post_json("support", from("b@customer.org")).await;
    assert_eq!(refused.status, 429, "{:?}", refused.json);
    assert_eq!(refused.json["type"], "/problems/rate-limited");
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        app.tickets().await.len(),
        2,
        "nothing stored for the refused post"
    );

    // Another address has its own count; the requester's third submission
    // passes, the fourth from yet another address does not.
    app.client = Some("198.51.100.9".parse().unwrap());
    assert_eq!(
        app.post_json("support", from("a@customer.org"))
            .await
            .status,
        201
    );
    app.client = Some("198.51.100.10".parse().unwrap());
    let refused = app.post_json("support", from("a@customer.org")).await;
    assert_eq!(refused.status, 429, "{:?}", refused.json);
    assert!(
        refused.json["detail"]
            .as_str()
            .unwrap()
            .contains("email address"),
        "{:?}",
        refused.json
    );

    // A new window lets the first address post again.
    app.clock.advance(chrono::Duration::seconds(61));
    app.client = Some("203.0.113.7".parse().unwrap());
    assert_eq!(
        app.post_json("support", from("c@customer.org"))
            .await
            .status,
        201
    );
    assert_eq!(app.tickets().await.len(), 4);
}

#[tokio::test]
async fn answers_no_field_takes_are_named_on_the_ticket() {
    let app = spawn_app();
    let mut body = support("billing");
    body["favourite_colour"] = json!("teal");
    body["Order #"] = json!("A-1001");
    let answer = app.post_json("support", body).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    let unmatched = app
        .timeline(&answer.ticket())
        .await
        .into_iter()
        .find_map(|e| match e.event {
            TimelineEvent::FormSubmitted { unmatched, .. } => Some(unmatched),
            _ => None,
        })
        .expect("the submission is on the timeline");
    assert_eq!(unmatched, ["Order #", "favourite_colour"]);
}
