//! Mail parsing, reply extraction and loop protection against our own
//! fixtures (`tests/fixtures/mail/`, always present) and real-world corpora
//! in `../shared/corpus` (skipped, saying so, when that folder is absent).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use helpdesk::mail::auto::{self, AutoReason, OurIdentity};
use helpdesk::mail::html;
use helpdesk::mail::parse::{MailLimits, MailParseError, ParsedMail, parse};
use helpdesk::mail::reply;

mod support;
use support::{corpus, files_with_suffix};

// ---------------------------------------------------------------- helpers

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mail")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse_fixture(name: &str) -> ParsedMail {
    parse(&fixture(name), &MailLimits::default())
        .unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn us() -> OurIdentity {
    OurIdentity {
        loop_header: "X-Helpdesk-Loop".to_owned(),
        loop_value: "acme-prod".to_owned(),
        message_id_domain: "helpdesk.example.com".to_owned(),
    }
}

/// Whitespace-insensitive comparison form: words joined by single spaces.
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn report_misses(what: &str, matched: usize, total: usize, misses: &[String]) {
    eprintln!("{what}: {matched}/{total} match");
    for miss in misses {
        eprintln!("  miss: {miss}");
    }
}

// ------------------------------------------------------- talon reply texts

/// talon keeps signatures in its reply text; our `extract` also drops them.
/// For these two cases the expected text after signature removal is `Hello`.
const SIGNATURE_IN_TALON_EXPECTATION: &[&str] = &["iphone.eml", "sparrow.eml"];

#[test]
fn talon_standard_replies_give_the_expected_reply_text() {
    let Some(dir) = corpus("talon_reply_extraction") else {
        return;
    };
    let expected = read_json(&dir.join("EXPECTED.json"));
    let cases = expected["standard_replies"].as_object().unwrap();
    let (mut quotes_ok, mut extract_ok) = (0, 0);
    let mut misses = Vec::new();
    for (file, case) in cases {
        let want = case["expected_reply_text"].as_str().unwrap();
        let mail = parse(
            &fs::read(dir.join("standard_replies").join(file)).unwrap(),
            &MailLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        // talon's own expectation: quotes removed, signature kept.
        let quotes_removed = reply::strip_quotes(&mail.text);
        if normalize(&quotes_removed) == normalize(want) {
            quotes_ok += 1;
        } else {
            misses.push(format!(
                "{file} (strip_quotes): {quotes_removed:?} != {want:?}"
            ));
        }
        // Ours: the signature goes too, and ParsedMail carries it.
        let want_extract = if SIGNATURE_IN_TALON_EXPECTATION.contains(&file.as_str()) {
            "Hello"
        } else {
            want
        };
        assert_eq!(mail.reply_text, reply::extract(&mail.text), "{file}");
        if normalize(&mail.reply_text) == normalize(want_extract) {
            extract_ok += 1;
        } else {
            misses.push(format!(
                "{file} (extract): {:?} != {want_extract:?}",
                mail.reply_text
            ));
        }
    }
    report_misses(
        "talon standard replies, strip_quotes",
        quotes_ok,
        cases.len(),
        &misses,
    );
    eprintln!(
        "talon standard replies, extract: {extract_ok}/{}",
        cases.len()
    );
    assert_eq!(cases.len(), 12);
    assert_eq!(quotes_ok, 12, "{misses:#?}");
    assert_eq!(extract_ok, 12, "{misses:#?}");
}

#[test]
fn talon_html_replies_give_the_expected_reply_text_after_html_to_text() {
    let Some(dir) = corpus("talon_reply_extraction") else {
        return;
    };
    let expected = read_json(&dir.join("EXPECTED.json"));
    let cases = expected["html_replies"].as_object().unwrap();
    let mut matched = 0;
    let mut misses = Vec::new();
    for (file, case) in cases {
        let want = case["expected_reply_text_whitespace_insensitive"]
            .as_str()
            .unwrap();
        let html_body =
            String::from_utf8_lossy(&fs::read(dir.join("html_replies").join(file)).unwrap())
                .into_owned();
        // Both renderings: wrapped for display, unwrapped as parse uses it.
        let wrapped = reply::extract(&html::to_text(&html_body));
        let unwrapped = reply::extract(&html::to_text_unwrapped(&html_body));
        if normalize(&wrapped) == normalize(want) && normalize(&unwrapped) == normalize(want) {
            matched += 1;
        } else {
            misses.push(format!("{file}: {wrapped:?} / {unwrapped:?}"));
        }
    }
    report_misses("talon html replies", matched, cases.len(), &misses);
    assert_eq!(cases.len(), 9);
    assert_eq!(matched, 9, "{misses:#?}");
}

#[test]
fn talon_extra_samples_keep_the_reply_and_drop_the_quote() {
    let Some(dir) = corpus("talon_reply_extraction") else {
        return;
    };
    // talon's test_reply_separated_by_hr: the reply is "Hi there Bob".
    let html_body = fs::read_to_string(dir.join("reply-separated-by-hr.html")).unwrap();
    assert_eq!(
        normalize(&reply::extract(&html::to_text(&html_body))),
        "Hi there Bob"
    );

    // A Yahoo reply whose quote header starts with dashes ("--- On Wed, … wrote:").
    let mail = parse(
        &fs::read(dir.join("reply-quotations-share-block.eml")).unwrap(),
        &MailLimits::default(),
    )
    .unwrap();
    assert!(
        mail.reply_text.starts_with("Hi Katharine."),
        "{:?}",
        mail.reply_text
    );
    assert!(
        mail.reply_text.ends_with("Joe XXX"),
        "{:?}",
        mail.reply_text
    );
    assert!(
        !mail.reply_text.contains("booking inquiry"),
        "{:?}",
        mail.reply_text
    );
}

/// talon's signature fixtures come from its sender-aware machine-learning
/// extractor; `extract` only knows `-- ` and client lines, so these are a
/// measure, not a goal: the body minus the expected signature is compared.
#[test]
fn talon_signature_samples_are_measured() {
    let Some(dir) = corpus("talon_reply_extraction") else {
        return;
    };
    let expected = read_json(&dir.join("EXPECTED.json"));
    let cases = expected["signature_stripped"].as_object().unwrap();
    let stripped = dir.join("signature/emails/stripped");
    let mut matched = 0;
    let mut misses = Vec::new();
    for (name, case) in cases {
        let body = fs::read_to_string(stripped.join(case["body_file"].as_str().unwrap())).unwrap();
        let signature =
            fs::read_to_string(stripped.join(case["expected_signature_file"].as_str().unwrap()))
                .unwrap();
        let want = body
            .trim_end()
            .strip_suffix(signature.trim_end())
            .unwrap_or(&body)
            .to_owned();
        let got = reply::extract(&body);
        assert!(!got.is_empty(), "{name}");
        if normalize(&got) == normalize(&want) {
            matched += 1;
        } else {
            misses.push(format!("{name}: signature not recognised"));
        }
    }
    report_misses("talon signature samples", matched, cases.len(), &misses);
    assert!(matched >= 1, "{misses:#?}");
}

// ------------------------------------------------------------ MIME corpora

/// Messages that parsed, and files that were refused with the reason.
type ParseOutcome = (Vec<(PathBuf, ParsedMail)>, Vec<(PathBuf, MailParseError)>);

/// Parses every file; returns (ok, errors) and fails on a panic.
fn parse_all(files: &[PathBuf]) -> ParseOutcome {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for file in files {
        let raw = fs::read(file).unwrap();
        match parse(&raw, &MailLimits::default()) {
            Ok(mail) => ok.push((file.clone(), mail)),
            Err(error) => failed.push((file.clone(), error)),
        }
    }
    (ok, failed)
}

/// The value of the last top-level header `name` in a Stalwart expectation.
fn expected_header<'a>(
    expected: &'a serde_json::Value,
    name: &str,
) -> Option<&'a serde_json::Value> {
    expected["parts"][0]["headers"]
        .as_array()?
        .iter()
        .rev()
        .find(|header| header["name"] == name)
        .map(|header| &header["value"])
}

#[test]
fn stalwart_corpus_parses_without_panic_and_matches_expected_subjects() {
    let Some(dir) = corpus("stalwart_mail_parser/eml") else {
        return;
    };
    let files = files_with_suffix(&dir, ".eml");
    let (ok, failed) = parse_all(&files);
    eprintln!("stalwart corpus: {} of {} parse Ok", ok.len(), files.len());
    for (file, error) in &failed {
        eprintln!("  not a message: {} ({error})", file.display());
    }
    assert_eq!(files.len(), 107);
    assert_eq!(ok.len(), 107);

    let (mut subjects, mut subject_ok, mut attachment_lists, mut attachments_ok) = (0, 0, 0, 0);
    for (file, mail) in &ok {
        let json = file.with_extension("json");
        if !json.exists() {
            continue;
        }
        let expected = read_json(&json);
        // An expectation with U+FFFD is the other parser not reading 8-bit
        // bytes; ours reads them (see tests/mail_fidelity.rs).
        if let Some(subject) = expected_header(&expected, "subject")
            .and_then(|v| v["Text"].as_str())
            .filter(|subject| !subject.contains('\u{fffd}'))
        {
            subjects += 1;
            if normalize(subject) == normalize(&mail.subject) {
                subject_ok += 1;
            } else {
                eprintln!(
                    "  subject differs in {}: {:?} vs {:?}",
                    file.display(),
                    subject,
                    mail.subject
                );
            }
        }
        if let Some(list) = expected["attachments"].as_array() {
            attachment_lists += 1;
            // Every expected attachment part is kept (none is over the limit).
            if list.len() == mail.attachments.len() + mail.skipped.len() {
                attachments_ok += 1;
            } else {
                eprintln!(
                    "  attachment count differs in {}: expected {}, got {}",
                    file.display(),
                    list.len(),
                    mail.attachments.len()
                );
            }
        }
        // What a helpdesk needs is always there.
        assert!(!mail.message_id.is_empty(), "{}", file.display());
        assert_eq!(
            mail.reply_text.is_empty(),
            mail.text.trim().is_empty(),
            "{}",
            file.display()
        );
        if let Some(html) = &mail.html {
            assert!(
                !html.to_ascii_lowercase().contains("<script"),
                "{}",
                file.display()
            );
        }
    }
    eprintln!(
        "stalwart subjects: {subject_ok}/{subjects}; attachment counts: {attachments_ok}/{attachment_lists}"
    );
    assert_eq!(subject_ok, subjects);
    assert_eq!(attachments_ok, attachment_lists);
}

#[test]
fn stalwart_malformed_crlf_variants_parse_too() {
    let Some(dir) = corpus("stalwart_mail_parser/eml") else {
        return;
    };
    let mut count = 0;
    for file in files_with_suffix(&dir, ".eml") {
        let raw = fs::read(&file).unwrap();
        let mut crlf = Vec::with_capacity(raw.len() + raw.len() / 20);
        for byte in raw {
            if byte == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(byte);
        }
        let lf = parse(&fs::read(&file).unwrap(), &MailLimits::default()).unwrap();
        let mail = parse(&crlf, &MailLimits::default()).unwrap();
        assert_eq!(mail.subject, lf.subject, "{}", file.display());
        count += 1;
    }
    assert_eq!(count, 107);
}

#[test]
fn mime4j_corpus_parses_without_panic_and_keeps_binary_parts() {
    let Some(dir) = corpus("mime4j") else {
        return;
    };
    let files = files_with_suffix(&dir, ".msg");
    let (ok, failed) = parse_all(&files);
    eprintln!("mime4j corpus: {} of {} parse Ok", ok.len(), files.len());
    for (file, error) in &failed {
        eprintln!("  not a message: {} ({error})", file.display());
    }
    assert_eq!(files.len(), 80);
    assert_eq!(ok.len(), 78);
    // The two without a header block say so in their names.
    assert!(failed.iter().all(|(file, error)| {
        file.to_string_lossy().ends_with("-noheader.msg")
            && matches!(error, MailParseError::NotAMessage(_))
    }));

    // mime4j's decoded binary parts: each should be one of our attachments,
    // byte for byte (parts inside attached messages travel inside the .eml).
    let by_message: BTreeMap<String, &ParsedMail> = ok
        .iter()
        .map(|(file, mail)| (file.with_extension("").to_string_lossy().into_owned(), mail))
        .collect();
    let (mut bins, mut found) = (0, 0);
    for bin in files_with_suffix(&dir, ".bin") {
        let name = bin.to_string_lossy().into_owned();
        let Some((stem, _)) = name.rsplit_once("_decoded_") else {
            continue;
        };
        let Some(mail) = by_message.get(stem) else {
            continue;
        };
        bins += 1;
        let bytes = fs::read(&bin).unwrap();
        let has_attached_message = mail
            .attachments
            .iter()
            .any(|a| a.content_type == "message/rfc822");
        if mail.attachments.iter().any(|a| a.bytes[..] == bytes[..]) {
            found += 1;
        } else {
            eprintln!(
                "  binary part {} not among attachments{}",
                bin.display(),
                if has_attached_message {
                    " (message has attached messages)"
                } else {
                    ""
                }
            );
        }
    }
    eprintln!("mime4j binary parts found as attachments: {found}/{bins}");
    assert_eq!(bins, 34);
    assert!(found >= MIME4J_BINARY_PARTS_FOUND, "{found}/{bins}");
}

/// How many of mime4j's 34 decoded binary parts come out byte-identical.
const MIME4J_BINARY_PARTS_FOUND: usize = 30;

#[test]
fn garbage_never_panics() {
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\r\n\r\n".to_vec(),
        b":".to_vec(),
        b"From:\r\n".to_vec(),
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n".to_vec(),
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient\r\n  folded\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n".to_vec(),
        b"Subject: =?UTF-8?B?####?= =?x-unknown?Q?=FF?=\r\nFrom: \"unterminated <a@\r\n\r\n\xff\xfe\x00".to_vec(),
        (0u8..=255).cycle().take(5000).collect(),
        b"Content-Type: message/rfc822\r\n\r\n".repeat(50),
    ];
    for input in inputs {
        let _ = parse(&input, &MailLimits::default());
    }
}

// ------------------------------------------------------------ our fixtures

#[test]
fn a_reply_shows_only_the_new_text_and_threads_by_its_headers() {
    let mail = parse_fixture("reply-with-quote.eml");
    assert_eq!(
        mail.reply_text,
        "I restarted it as you suggested and it prints again. Thank you!"
    );
    assert!(
        mail.text.contains("> please switch the printer off"),
        "the full text stays"
    );
    assert_eq!(mail.in_reply_to, ["sup-17.2@helpdesk.example.com"]);
    assert_eq!(
        mail.references,
        [
            "sup-17.1@helpdesk.example.com",
            "sup-17.2@helpdesk.example.com"
        ]
    );
    let from = mail.from.clone().unwrap();
    assert_eq!(
        (from.name.as_deref(), from.email.as_str()),
        (Some("Anna Petrova"), "anna@example.org")
    );
    assert_eq!(mail.cc[0].email, "bob@example.org");
    assert_eq!(mail.delivered_to, ["support@helpdesk.example.com"]);
    assert_eq!(
        mail.subject,
        "Re: [SUP-17] Printer on floor 2 does not print"
    );
    assert_eq!(auto::classify(&mail, &us()), []);
    assert!(!auto::is_out_of_office(&mail));
}

#[test]
fn crlf_line_ends_give_the_same_result() {
    let raw = fixture("reply-with-quote.eml");
    let crlf = String::from_utf8(raw).unwrap().replace('\n', "\r\n");
    let mail = parse(crlf.as_bytes(), &MailLimits::default()).unwrap();
    assert_eq!(
        mail.reply_text,
        parse_fixture("reply-with-quote.eml").reply_text
    );
}

#[test]
fn an_html_only_mail_gets_a_text_body_and_safe_html() {
    let mail = parse_fixture("html-only.eml");
    assert!(
        mail.text.contains("since this morning the"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("checkout page"), "{}", mail.text);
    assert!(
        mail.text.contains("https://shop.example.net/checkout"),
        "link target kept: {}",
        mail.text
    );
    assert!(!mail.text.contains("alert"), "{}", mail.text);
    assert!(mail.reply_text.starts_with("Hello,"), "{}", mail.reply_text);
    let html = mail.html.unwrap();
    for forbidden in ["<script", "onload", "tracker.example.net", "<style"] {
        assert!(!html.contains(forbidden), "{forbidden} in {html}");
    }
    assert!(html.contains(r#"rel="noopener noreferrer""#), "{html}");
    assert!(html.contains("<b>checkout page</b>"), "{html}");
}

#[test]
fn rfc2231_and_rfc2047_file_names_are_decoded() {
    let mail = parse_fixture("rfc2231-filename.eml");
    let names: Vec<&str> = mail
        .attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect();
    assert_eq!(names, ["отчёт.pdf", "логотип.png"]);
    let pdf = &mail.attachments[0];
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-1.4"));
    assert!(!pdf.inline);
    let logo = &mail.attachments[1];
    assert!(logo.inline);
    assert_eq!(logo.content_id.as_deref(), Some("logo@example.ru"));
    assert_eq!(mail.text, "The monthly report is attached, plus the logo.");
    assert!(mail.skipped.is_empty());
}

#[test]
fn an_attachment_over_the_limit_is_skipped_with_a_reason() {
    let limits = MailLimits {
        max_attachment_bytes: 10,
        max_attachments: 50,
        ..MailLimits::default()
    };
    let mail = parse(&fixture("rfc2231-filename.eml"), &limits).unwrap();
    assert_eq!(mail.attachments.len(), 1, "the 8-byte logo stays");
    assert_eq!(
        mail.skipped,
        ["attachment отчёт.pdf (21 bytes) exceeds the 10 bytes limit"]
    );
}

#[test]
fn a_russian_subject_and_sender_name_are_decoded() {
    let mail = parse_fixture("russian-subject.eml");
    assert_eq!(mail.subject, "Не работает принтер в офисе");
    assert_eq!(mail.from.unwrap().name.as_deref(), Some("Сергей Петров"));
    assert_eq!(mail.text, "Принтер не печатает.");
}

#[test]
fn a_broken_charset_does_not_fail_the_message() {
    let mail = parse_fixture("broken-charset.eml");
    assert_eq!(mail.subject, "Old system");
    assert!(
        mail.text.starts_with("Order 4711 failed: caf"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("invalid bytes, please check."),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains('\u{fffd}'),
        "undecodable bytes become U+FFFD: {}",
        mail.text
    );
}

#[test]
fn a_bounce_names_the_message_it_concerns() {
    let mail = parse_fixture("bounce.eml");
    let report = mail.report.clone().expect("a delivery report");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some("sup-17.3@helpdesk.example.com")
    );
    assert_eq!(report.recipients, ["nobody@example.org"]);
    assert_eq!(report.action.as_deref(), Some("failed"));
    assert_eq!(report.status.as_deref(), Some("5.1.1"));
    let reasons = auto::classify(&mail, &us());
    assert!(reasons.contains(&AutoReason::DeliveryReport), "{reasons:?}");
    assert!(
        reasons.contains(&AutoReason::EmptyReturnPath),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&AutoReason::SystemSender(
            "mailer-daemon@mx.example.org".to_owned()
        )),
        "{reasons:?}"
    );
    // The loop header of the bounced original is inside the report, not on the bounce.
    assert!(!reasons.contains(&AutoReason::OurLoopHeader), "{reasons:?}");
    let described: Vec<String> = reasons.iter().map(AutoReason::describe).collect();
    assert!(
        described.contains(&"Auto-Submitted: auto-replied".to_owned()),
        "{described:?}"
    );
    assert!(mail.text.contains("could not"), "{}", mail.text);
}

#[test]
fn an_out_of_office_reply_is_recognised_and_gets_no_answer() {
    let mail = parse_fixture("out-of-office.eml");
    assert!(auto::is_out_of_office(&mail));
    let reasons = auto::classify(&mail, &us());
    assert_eq!(
        reasons,
        [
            AutoReason::AutoSubmitted("auto-replied".to_owned()),
            AutoReason::AutoResponseSuppress("All".to_owned()),
        ]
    );
    assert!(mail.text.contains("nicht im Büro"));
}

#[test]
fn a_mail_without_message_id_gets_the_same_generated_id_twice() {
    let first = parse_fixture("no-message-id.eml");
    let second = parse_fixture("no-message-id.eml");
    assert!(first.message_id_generated);
    assert_eq!(first.message_id, second.message_id);
    assert!(
        first.message_id.starts_with("generated-"),
        "{}",
        first.message_id
    );
    assert!(
        first.message_id.ends_with("@helpdesk.invalid"),
        "{}",
        first.message_id
    );
    assert_eq!(
        first.message_id.len(),
        "generated-".len() + 32 + "@helpdesk.invalid".len()
    );
    let mut other = fixture("no-message-id.eml");
    other.extend_from_slice(b"One more line.\n");
    let third = parse(&other, &MailLimits::default()).unwrap();
    assert_ne!(
        third.message_id, first.message_id,
        "different bytes, different id"
    );
}

#[test]
fn an_inline_image_keeps_its_cid_in_the_html() {
    let mail = parse_fixture("inline-image.eml");
    assert_eq!(mail.attachments.len(), 1);
    let image = &mail.attachments[0];
    assert!(image.inline);
    assert_eq!(image.content_id.as_deref(), Some("logo123@example.com"));
    assert_eq!(image.file_name, "attachment-1.png");
    let html = mail.html.unwrap();
    assert!(html.contains(r#"src="cid:logo123@example.com""#), "{html}");
    assert!(mail.text.contains("See the logo"), "{}", mail.text);
}
