//! Benchmark: parsing mails whose HTML is built to be slow (issue 19,
//! point 3: any mail of up to 1 MB of HTML in under 1 s in a release
//! build). Each case is a whole message through `mail::parse::parse`, which
//! sanitizes the HTML and turns it into text twice: nested `<div>`s and
//! `<blockquote>`s 10,000 and 100,000 deep, a million tags side by side,
//! 1 MB of ordinary mail HTML (tables, paragraphs, links, quotes), and
//! newsletters of layout tables four deep (290 KB and 5 MB; issue 20: any
//! message up to 5 MB in under 1 s). Each line also gives the length of the
//! text and of the description (the reply text) the message came to.
//!
//! Run with `cargo bench -p helpdesk --bench mail_html`; `BENCH_N` sets the
//! runs per case (default 3; the slowest is printed with the median).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use helpdesk::mail::parse::{MailLimits, parse};

#[path = "../tests/support/newsletter.rs"]
mod newsletter;
use newsletter::newsletter;

fn mail(html: &str) -> Vec<u8> {
    format!(
        "From: Jane <jane@customer.org>\r\nTo: support@example.com\r\nSubject: Slow?\r\nMessage-ID: <bench@customer.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    )
    .into_bytes()
}

fn nested(tag: &str, depth: usize) -> String {
    format!(
        "<html><body>{}text{}</body></html>",
        format!("<{tag}>").repeat(depth),
        format!("</{tag}>").repeat(depth)
    )
}

fn ordinary(bytes: usize) -> String {
    let block = "<table><tr><td><p>Dear support, the <b>invoice</b> of <a href=\"https://example.com/i/42\">March</a> was charged twice.</p></td><td><ul><li>one</li><li>two</li></ul></td></tr></table><blockquote><p>On Monday you wrote:</p><p>Thanks for your mail.</p></blockquote><hr>";
    let mut html = String::from("<html><body>");
    while html.len() < bytes {
        html.push_str(block);
    }
    html.push_str("</body></html>");
    html
}

fn main() {
    let runs: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let cases: Vec<(&str, String)> = vec![
        ("10,000 nested <div>", nested("div", 10_000)),
        ("100,000 nested <div>", nested("div", 100_000)),
        ("100,000 nested <blockquote>", nested("blockquote", 100_000)),
        (
            "1,000,000 sibling <b> elements",
            "<b>x</b>".repeat(1_000_000),
        ),
        ("1 MB of ordinary mail HTML", ordinary(1_000_000)),
        ("290 KB newsletter (layout tables)", newsletter(290 * 1024)),
        (
            "5 MB newsletter (layout tables)",
            newsletter(5 * 1024 * 1024),
        ),
    ];
    println!("mail HTML parse (release build), {runs} runs each");
    for (name, html) in cases {
        let raw = mail(&html);
        let mut lengths = (0, 0);
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let parsed = parse(&raw, &MailLimits::default()).unwrap();
                let took = started.elapsed();
                assert!(!parsed.text.is_empty() || parsed.html.is_some());
                lengths = (parsed.text.len(), parsed.reply_text.len());
                took
            })
            .collect();
        times.sort();
        println!(
            "{name:<40} median {:>8.1} ms   slowest {:>8.1} ms   ({} bytes of HTML; text {}, description {})",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
            html.len(),
            lengths.0,
            lengths.1
        );
    }
}
