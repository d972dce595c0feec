//! A bounded fuzz of the mail parsing entry point (`mail::parse::parse`,
//! which every inbound mail goes through): arbitrary bytes, and HTML bodies
//! of random tags nested and repeated at random, never panic; the HTML a
//! body keeps never nests deeper than the bound, and its text is kept.
//! proptest runs a fixed number of cases (`PROPTEST_CASES` raises it for a
//! longer session).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use helpdesk::mail::nesting::{self, MAX_DEPTH};
use helpdesk::mail::parse::{MailLimits, parse};
use proptest::prelude::*;

fn mail(content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Jane <jane@customer.org>\r\nTo: support@example.com\r\nSubject: Fuzz\r\nMessage-ID: <fuzz@customer.org>\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Random HTML: tags from a mail's usual set (and some odd ones), opened
/// and closed in random order, some nested very deep, with text between.
fn html() -> impl Strategy<Value = String> {
    let tag = prop::sample::select(vec![
        "div",
        "blockquote",
        "p",
        "b",
        "table",
        "tr",
        "td",
        "span",
        "a",
        "script",
        "style",
        "br",
        "img",
        "hr",
        "!--",
        "x-odd",
    ]);
    let piece = (tag, any::<bool>(), 0_usize..400, "[a-z <>&\"']{0,8}");
    prop::collection::vec(piece, 0..64).prop_map(|pieces| {
        let mut html = String::new();
        for (tag, close, repeat, text) in pieces {
            let one = match (tag, close) {
                ("!--", _) => "<!-- c -->".to_owned(),
                (tag, false) => format!("<{tag} class=\"a>b\">"),
                (tag, true) => format!("</{tag}>"),
            };
            html.push_str(&one.repeat(repeat));
            html.push_str(&text);
        }
        html
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn html_bodies_parse_without_panic_and_stay_within_the_bound(body in html()) {
        let parsed = parse(&mail("text/html; charset=utf-8", &body), &MailLimits::default());
        prop_assert!(parsed.is_ok(), "{parsed:?}");
        // Inside <script> and <style> tags are text, which this simple
        // count below would take for elements.
        if body.contains("<script") || body.contains("<style") {
            return Ok(());
        }
        let bounded = nesting::bounded(&body);
        // The depth of the kept tags, a closing tag ending the innermost
        // open element of its name and everything inside it (as HTML does).
        let mut open: Vec<&str> = Vec::new();
        let mut deepest = 0_usize;
        for piece in bounded.split('<').skip(1) {
            let closing = piece.starts_with('/');
            let name: String = piece
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            // A tag no `>` ends is text, as the parser takes it.
            if name.is_empty() || !piece.contains('>') || ["br", "img", "hr"].contains(&name.as_str()) {
                continue;
            }
            if closing {
                if let Some(at) = open.iter().rposition(|n| *n == name) {
                    open.truncate(at);
                }
            } else {
                open.push(Box::leak(name.into_boxed_str()));
                deepest = deepest.max(open.len());
            }
        }
        prop_assert!(deepest <= MAX_DEPTH, "{deepest}");
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse(&bytes, &MailLimits::default());
        let mut as_mail = mail("multipart/mixed; boundary=\"b\"", "");
        as_mail.extend_from_slice(&bytes);
        let _ = parse(&as_mail, &MailLimits::default());
    }
}
