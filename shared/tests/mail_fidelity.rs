//! Mail fidelity, one class of real-world mail per test, each from a small
//! fixture of our own (`tests/fixtures/mail/fidelity/`): text in every
//! charset encoding_rs knows (RFC 2047 headers, bodies, RFC 2231 file
//! names), undeclared 8-bit header bytes, forwarded messages attached as
//! `message/rfc822`, uuencoded parts, and base64 without padding or
//! wrapped badly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use helpdesk::mail::parse::{MailLimits, ParsedMail, parse};

mod support;
use support::newsletter::newsletter;
use support::{corpus, files_with_suffix};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mail/fidelity")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parsed(name: &str) -> ParsedMail {
    parse(&fixture(name), &MailLimits::default())
        .unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn display_name(mail: &ParsedMail) -> String {
    mail.from
        .as_ref()
        .and_then(|from| from.name.clone())
        .unwrap_or_default()
}

fn attachment_names(mail: &ParsedMail) -> Vec<&str> {
    mail.attachments
        .iter()
        .map(|a| a.file_name.as_str())
        .collect()
}

#[test]
fn iso_2022_jp_subjects_names_and_bodies_are_japanese_text() {
    let mail = parsed("iso-2022-jp.eml");
    assert_eq!(mail.subject, "メルマガ解除");
    assert_eq!(display_name(&mail), "山田太郎");
    assert!(
        mail.text.contains("お問い合わせありがとうございます。"),
        "{:?}",
        mail.text
    );
}

#[test]
fn gb2312_and_gbk_subjects_bodies_and_file_names_are_chinese_text() {
    let mail = parsed("gb2312.eml");
    assert_eq!(mail.subject, "绩效管理");
    assert_eq!(display_name(&mail), "李明");
    assert!(
        mail.text.contains("请查看附件中的绩效管理表格"),
        "{:?}",
        mail.text
    );
    assert_eq!(attachment_names(&mail), ["绩效管理.xls", "报告.pdf"]);
}

#[test]
fn shift_jis_bodies_are_japanese_text() {
    let mail = parsed("shift_jis.eml");
    assert_eq!(mail.subject, "請求書について");
    assert!(
        mail.text.contains("日本語のテキストです。"),
        "{:?}",
        mail.text
    );
}

#[test]
fn undeclared_8_bit_header_bytes_are_read_in_the_messages_charset() {
    let mail = parsed("latin1-8bit-headers.eml");
    assert_eq!(mail.subject, "Grüße aus Köln");
    assert_eq!(display_name(&mail), "Jörg Müller");
    assert_eq!(attachment_names(&mail), ["Bücher.pdf"]);
    assert!(mail.text.contains("Schöne Grüße"), "{:?}", mail.text);
}

#[test]
fn undeclared_8_bit_header_bytes_without_a_charset_are_read_as_windows_1252() {
    let mail = parsed("windows-1252-undeclared.eml");
    assert_eq!(mail.subject, "Factura de 100 € – pagada");
    assert_eq!(display_name(&mail), "Zoë Señor");
    assert!(!mail.subject.contains('\u{fffd}'));
}

#[test]
fn a_forwarded_message_is_stored_as_exactly_its_own_bytes_named_by_its_subject() {
    let mail = parsed("forwarded-rfc822.eml");
    assert_eq!(
        attachment_names(&mail),
        ["Original subject one.eml", "Original subject two.eml"]
    );
    assert_eq!(
        mail.attachments[0].bytes[..],
        fixture("forwarded-inner-1.eml")[..]
    );
    assert_eq!(
        mail.attachments[1].bytes[..],
        fixture("forwarded-inner-2.eml")[..]
    );
    assert_eq!(mail.attachments[0].content_type, "message/rfc822");
}

#[test]
fn an_x_uuencode_part_is_stored_decoded() {
    let mail = parsed("uuencode.eml");
    assert_eq!(attachment_names(&mail), ["hello.txt"]);
    assert_eq!(&mail.attachments[0].bytes[..], b"Hello");
}

#[test]
fn base64_without_padding_or_wrapped_badly_is_decoded_whole() {
    let mail = parsed("base64-unpadded.eml");
    assert_eq!(attachment_names(&mail), ["eleven.bin", "wrapped.bin"]);
    assert_eq!(&mail.attachments[0].bytes[..], b"Hello World");
    assert_eq!(&mail.attachments[1].bytes[..], b"Hello World!!");
}

/// A header's value in a Stalwart expectation's part.
fn header<'a>(part: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    part["headers"]
        .as_array()?
        .iter()
        .rev()
        .find(|header| header["name"] == name)
        .map(|header| &header["value"])
}

/// The named attribute of a content type or disposition header.
fn attribute(value: Option<&serde_json::Value>, name: &str) -> Option<String> {
    value?["ContentType"]["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["value"].as_str())
        .map(str::to_owned)
}

/// An expected attachment: its name (when it has one) and its bytes (when
/// it is not a nested message).
fn expected_attachment(part: &serde_json::Value) -> (Option<String>, Option<Vec<u8>>) {
    let name = attribute(header(part, "content_disposition"), "filename")
        .or_else(|| attribute(header(part, "content_type"), "name"));
    let body = &part["body"];
    let bytes = if let Some(list) = body["Binary"]
        .as_array()
        .or_else(|| body["InlineBinary"].as_array())
    {
        Some(
            list.iter()
                .map(|b| u8::try_from(b.as_u64().unwrap_or(0)).unwrap_or(0))
                .collect(),
        )
    } else {
        body["Text"]
            .as_str()
            .or_else(|| body["Html"].as_str())
            .map(|text| text.as_bytes().to_vec())
    };
    (name, bytes)
}

/// Counts of what matched, out of what the expectations have.
#[derive(Default, Debug)]
struct Fidelity {
    subjects: (usize, usize),
    names: (usize, usize),
    attachment_names: (usize, usize),
    attachment_bytes: (usize, usize),
    /// Expectations with U+FFFD or undecoded uuencode, not counted.
    not_ours_to_meet: usize,
}

fn count(pair: &mut (usize, usize), ok: bool) {
    pair.1 += 1;
    if ok {
        pair.0 += 1;
    }
}

/// How much of each message of the Stalwart corpus comes out as its
/// expectation says: the subject, the From display name, each attachment's
/// name and bytes. Printed for the note; held at least at today's figures.
#[test]
fn the_stalwart_corpus_keeps_subjects_names_and_attachments() {
    let Some(dir) = corpus("stalwart_mail_parser/eml") else {
        return;
    };
    let mut fidelity = Fidelity::default();
    for file in files_with_suffix(&dir, ".eml") {
        let raw = fs::read(&file).unwrap();
        // The expectations of a message with CRLF line ends are NNN.crlf.json.
        let crlf = raw.windows(2).any(|w| w == b"\r\n");
        let json = file.with_extension(if crlf { "crlf.json" } else { "json" });
        if !json.exists() {
            continue;
        }
        let expected: serde_json::Value =
            serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
        let Ok(mail) = parse(&raw, &MailLimits::default()) else {
            continue;
        };
        let root = &expected["parts"][0];
        let subject = header(root, "subject").and_then(|v| v["Text"].as_str());
        if let Some(garbled) = subject.filter(|subject| subject.contains('\u{fffd}')) {
            eprintln!(
                "  expected subject garbled in {}: {garbled:?}, ours {:?}",
                file.display(),
                mail.subject
            );
            fidelity.not_ours_to_meet += 1;
        }
        let subject = subject.filter(|subject| !subject.contains('\u{fffd}'));
        if let Some(subject) = subject {
            let ok = subject.trim() == mail.subject.trim();
            if !ok {
                eprintln!(
                    "  subject differs in {}: {subject:?} vs {:?}",
                    file.display(),
                    mail.subject
                );
            }
            count(&mut fidelity.subjects, ok);
        }
        let expected_name = header(root, "from")
            .and_then(|v| v["Address"]["List"][0]["name"].as_str())
            .filter(|name| !name.trim().is_empty() && !name.contains('\u{fffd}'));
        if let Some(name) = expected_name {
            let ok = name.trim() == display_name(&mail).trim();
            if !ok {
                eprintln!(
                    "  name differs in {}: {name:?} vs {:?}",
                    file.display(),
                    display_name(&mail)
                );
            }
            count(&mut fidelity.names, ok);
        }
        let parts = expected["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (index, id) in parts.iter().enumerate() {
            let part = &expected["parts"][id.as_u64().unwrap_or(0) as usize];
            let (name, bytes) = expected_attachment(part);
            let ours = mail.attachments.get(index);
            // Stalwart keeps uuencode undecoded and shows undecodable
            // header bytes as U+FFFD; we decode both, so those expectations
            // are not ours to meet.
            let uuencoded = header(part, "content_transfer_encoding")
                .and_then(|v| v["Text"].as_str())
                .is_some_and(|cte| cte.to_ascii_lowercase().contains("uu"));
            if name.as_ref().is_some_and(|name| name.contains('\u{fffd}')) || uuencoded {
                eprintln!(
                    "  expected attachment {index} garbled or undecoded in {}: {name:?}, ours {:?} ({} bytes)",
                    file.display(),
                    ours.map(|a| &a.file_name),
                    ours.map_or(0, |a| a.bytes.len())
                );
                fidelity.not_ours_to_meet += 1;
            }
            let name = name.filter(|name| !name.contains('\u{fffd}'));
            let bytes = bytes.filter(|_| !uuencoded);
            if let Some(name) = name {
                let ok = ours.is_some_and(|a| a.file_name == name.trim());
                if !ok {
                    eprintln!(
                        "  attachment name differs in {}: {name:?} vs {:?}",
                        file.display(),
                        ours.map(|a| &a.file_name)
                    );
                }
                count(&mut fidelity.attachment_names, ok);
            }
            if let Some(bytes) = bytes {
                let ok = ours.is_some_and(|a| a.bytes[..] == bytes[..]);
                if !ok {
                    eprintln!(
                        "  attachment {index} bytes differ in {}: {} expected, {:?} ours, starting {:?} vs {:?}",
                        file.display(),
                        bytes.len(),
                        ours.map(|a| a.bytes.len()),
                        String::from_utf8_lossy(&bytes[..bytes.len().min(40)]),
                        ours.map(
                            |a| String::from_utf8_lossy(&a.bytes[..a.bytes.len().min(40)])
                                .into_owned()
                        )
                    );
                }
                count(&mut fidelity.attachment_bytes, ok);
            }
        }
    }
    eprintln!("stalwart corpus fidelity: {fidelity:?}");
    let Fidelity {
        subjects,
        names,
        attachment_names,
        attachment_bytes,
        ..
    } = fidelity;
    assert!(subjects.0 >= STALWART_FLOOR[0], "subjects {subjects:?}");
    assert!(names.0 >= STALWART_FLOOR[1], "names {names:?}");
    assert!(
        attachment_names.0 >= STALWART_FLOOR[2],
        "attachment names {attachment_names:?}"
    );
    assert!(
        attachment_bytes.0 >= STALWART_FLOOR[3],
        "attachment bytes {attachment_bytes:?}"
    );
}

/// The Stalwart corpus's subjects, display names, attachment names and
/// attachment bytes that come out as expected (at least).
const STALWART_FLOOR: [usize; 4] = [74, 66, 76, 102];

fn html_mail(html: &str) -> Vec<u8> {
    format!(
        "From: News <news@shop.example>\r\nTo: support@example.com\r\nSubject: This week\r\n\
         Message-ID: <news-1@shop.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    )
    .into_bytes()
}

#[test]
fn a_newsletter_past_the_tag_count_keeps_its_text_from_the_first_offer_to_the_last() {
    let html = newsletter(2 * 1024 * 1024);
    let last = last_offer(&html);
    // All of the HTML read: the tag count, not the read limit, is tested.
    let limits = MailLimits {
        max_html_read: html.len(),
        ..MailLimits::default()
    };
    let mail = parse(&html_mail(&html), &limits).unwrap();
    assert!(
        mail.text.starts_with("### Offer 0"),
        "{:?}",
        &mail.text[..200]
    );
    assert!(mail.text.contains(&last), "{last} is missing");
    assert!(mail.reply_text.starts_with("### Offer 0"));
}

#[test]
fn a_newsletter_over_the_read_limit_is_read_up_to_it_and_says_where_the_rest_is() {
    let html = newsletter(2 * 1024 * 1024);
    let limits = MailLimits::default();
    let mail = parse(&html_mail(&html), &limits).unwrap();
    assert!(mail.text.starts_with("### Offer 0"));
    assert!(!mail.text.contains(&last_offer(&html)));
    let sanitized = mail.html.expect("the sanitized HTML");
    // Links gain a rel attribute, so a little more than was read.
    assert!(
        sanitized.len() < 2 * limits.max_html_read,
        "{}",
        sanitized.len()
    );
    assert_eq!(
        mail.skipped,
        [
            "the HTML body (2.1 MB) was read only up to its first 256 KB; the whole part is in the raw message"
        ]
    );
}

/// The heading of the newsletter's last offer.
fn last_offer(html: &str) -> String {
    html.rfind("<h3>Offer ")
        .map(|at| &html[at + 4..at + 4 + html[at + 4..].find('<').unwrap_or(0)])
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_newsletter_of_layout_tables_reads_as_text_without_border_art_or_endless_lines() {
    let html = newsletter(290 * 1024);
    let mail = parse(&html_mail(&html), &MailLimits::default()).unwrap();
    for (what, text) in [("text", &mail.text), ("description", &mail.reply_text)] {
        assert!(
            text.len() < html.len(),
            "the {what} ({} bytes) is longer than the HTML ({} bytes)",
            text.len(),
            html.len()
        );
        let art = text
            .chars()
            .filter(|c| ('\u{2500}'..='\u{257f}').contains(c))
            .count();
        assert!(art < 100, "{art} box-drawing characters in the {what}");
        let longest = text.lines().map(str::len).max().unwrap_or(0);
        assert!(longest < 1_000, "a line of {longest} bytes in the {what}");
        assert!(
            text.contains("Offer 101") && text.contains("https://shop.example/item/101"),
            "{what}: {}",
            &text[text.len().saturating_sub(600)..]
        );
    }
}

#[test]
fn a_forward_keeps_the_forwarded_message_as_the_request() {
    let gmail = parsed("forward-gmail.eml");
    assert!(
        gmail.request_text().starts_with("FYI, see below."),
        "{gmail:?}"
    );
    assert!(
        gmail
            .request_text()
            .contains("Our card was charged twice for invoice 2026-114"),
        "{gmail:?}"
    );
    let outlook = parsed("forward-outlook.eml");
    assert!(
        outlook
            .request_text()
            .contains("Der Drucker im 2. Stock druckt seit gestern nichts mehr."),
        "{outlook:?}"
    );
}

#[test]
fn a_reply_to_a_forward_is_no_forward() {
    let text = "Thanks, done.\n\nOn Mon, 2 Mar 2026 at 10:00, Office <office@customer.org> wrote:\n> Fwd: please refund\n";
    assert!(!helpdesk::mail::reply::is_forward("Re: Fwd: Invoice", text));
    assert!(helpdesk::mail::reply::is_forward(
        "[SUP-3] Fwd: Invoice",
        "x"
    ));
    assert!(helpdesk::mail::reply::is_forward("WG: Rechnung", "x"));
}
