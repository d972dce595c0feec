//! Benchmark: peak memory and time of taking in one large message, for the
//! mail intake function's `MemorySize` in `infra/template.yaml` (SES
//! accepts messages up to 40 MB) and the mail fidelity issue's target (any
//! message up to 5 MB in under 1 s, peak memory under 3 times its size).
//!
//! For each case (`BENCH_MAIL` takes a comma-separated list of `kind:MB`;
//! default attachments of 1, 10, 25 and 39 MB, and a text body and an
//! HTML newsletter of 5 MB), a child process of this benchmark:
//!
//! 1. builds the services the function builds (example config, a fresh
//!    SQLite file, blobs and outbox in directories) and writes a message of
//!    that size to a file: `attachments`, a short text body and two
//!    attachments of random bytes (base64), each under the example's
//!    25 MiB attachment limit so that both are kept; `text`, a plain text
//!    body of log lines (8bit); `html`, a newsletter of layout tables
//!    (quoted-printable), as the mail fidelity tests have;
//! 2. notes its resident set (VmRSS), reads the file into one `Bytes` (as
//!    the function holds the S3 object's body) and runs
//!    `helpdesk::mail::ingest` on it, with the raw message already stored
//!    (as SES stores it): parse, store both attachments (checked: two
//!    files), create the ticket, send the acknowledgement;
//! 3. reports its peak resident set (VmHWM), what the message added to the
//!    resident set it had before, and how long `ingest` took.
//!
//! A process per size, so that one size's peak does not hide the next's.
//! The Lambda function also holds the SDK's buffers of the S3 body while
//! it is read, at most about one more copy of the raw message; add that to
//! what is printed here. Linux only (/proc/self/status).
//!
//! Run with `cargo bench -p helpdesk --bench mail_memory`.
//!
//! ```text
//! BENCH_MAIL=text:5,html:5 cargo bench -p helpdesk --bench mail_memory
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use helpdesk::app::Services;
use helpdesk::clock::SystemClock;
use helpdesk::mail::ingest::{Envelope, ingest};
use helpdesk::store::sqlite::SqliteStore;
use mail_builder::MessageBuilder;

#[path = "../tests/support/newsletter.rs"]
mod newsletter;
mod support;

const MB: usize = 1_000_000;
const CHILD: &str = "HELPDESK_BENCH_MAIL_CHILD";

/// What a message of the benchmark carries.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A short text and two attachments.
    Attachments,
    /// One long text body.
    Text,
    /// One long HTML body.
    Html,
}

fn parse_case(case: &str) -> (Kind, usize) {
    let (kind, size) = case.trim().split_once(':').expect("kind:MB");
    let kind = match kind {
        "attachments" => Kind::Attachments,
        "text" => Kind::Text,
        "html" => Kind::Html,
        other => panic!("unknown kind {other}: attachments, text or html"),
    };
    (kind, size.parse().expect("a size in MB"))
}

fn main() {
    if let Ok(case) = std::env::var(CHILD) {
        let (kind, size) = parse_case(&case);
        child(kind, size);
        return;
    }
    let cases = std::env::var("BENCH_MAIL").unwrap_or_else(|_| {
        "attachments:1,attachments:10,attachments:25,attachments:39,text:5,html:5".into()
    });
    println!(
        "mail intake memory: one message per process (peak VmHWM; added = peak - VmRSS before the read)"
    );
    println!(
        "{:<12} {:>8} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "kind", "raw MB", "before MiB", "peak MiB", "added MiB", "added/raw", "ingest ms"
    );
    let me = std::env::current_exe().expect("this benchmark's path");
    for case in cases.split(',') {
        let status = Command::new(&me)
            .env(CHILD, case.trim())
            .status()
            .expect("the child process");
        assert!(status.success(), "the {case} run failed");
    }
}

fn child(kind: Kind, megabytes: usize) {
    let dir = std::env::temp_dir().join(format!("helpdesk-bench-mail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let services = services(&dir);
        let file = dir.join("message.eml");
        let raw = match kind {
            Kind::Attachments => message(megabytes * MB),
            Kind::Text => text_message(megabytes * MB),
            Kind::Html => html_message(megabytes * MB),
        };
        std::fs::write(&file, raw).unwrap();
        let raw_len = std::fs::metadata(&file).unwrap().len() as f64 / MB as f64;

        let before = status_kib("VmRSS");
        let raw = Bytes::from(std::fs::read(&file).unwrap());
        // As on Lambda: SES has stored the raw message already.
        let envelope = Envelope {
            recipients: vec!["support@example.com".into()],
            raw_key: Some("raw/bench-large".into()),
            ..Envelope::default()
        };
        let started = std::time::Instant::now();
        let ingested = ingest(&services, raw, envelope)
            .await
            .expect("the message is taken in");
        let took = started.elapsed();
        let peak = status_kib("VmHWM");
        let added = (peak - before) / 1024.0;
        println!(
            "{:<12} {raw_len:>8.1} {:>12.1} {:>12.1} {added:>12.1} {:>10.2} {:>10.0}",
            format!("{kind:?}").to_lowercase(),
            before / 1024.0,
            peak / 1024.0,
            added / (raw_len * MB as f64 / 1_048_576.0),
            took.as_secs_f64() * 1e3,
        );
        std::hint::black_box(ingested);
        if let Kind::Attachments = kind {
            let kept = files_under(&dir.join("blobs"));
            assert_eq!(kept, 2, "both attachments stored, nothing else");
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A message of about `size` bytes: two attachments of random bytes.
fn message(size: usize) -> Vec<u8> {
    // base64 with line breaks takes 4/3 and a bit; leave room for headers.
    let each = (size.saturating_sub(4096)) * 3 / 4 * 76 / 78 / 2;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    MessageBuilder::new()
        .from(("Jo Customer", "jo@customer.example"))
        .to("support@example.com")
        .subject("Logs from last night")
        .message_id("bench-large@customer.example")
        .text_body("Hello, the two log archives are attached.")
        .attachment("application/gzip", "one.tar.gz", noise(each))
        .attachment("application/gzip", "two.tar.gz", noise(each))
        .write_to_vec()
        .unwrap()
}

/// A message of about `size` bytes of log lines in one text body.
fn text_message(size: usize) -> Vec<u8> {
    let mut text = String::with_capacity(size);
    let mut line = 0;
    while text.len() < size {
        text.push_str(&format!(
            "line {line:07} of the export log: the job ran, wrote its rows and went on\n"
        ));
        line += 1;
    }
    MessageBuilder::new()
        .from(("Jo Customer", "jo@customer.example"))
        .to("support@example.com")
        .subject("The whole export log")
        .message_id("bench-text@customer.example")
        .text_body(text)
        .write_to_vec()
        .unwrap()
}

/// A newsletter of about `size` bytes of HTML.
fn html_message(size: usize) -> Vec<u8> {
    MessageBuilder::new()
        .from(("Shop", "news@shop.example"))
        .to("support@example.com")
        .subject("This week")
        .message_id("bench-html@customer.example")
        .html_body(newsletter::newsletter(size))
        .write_to_vec()
        .unwrap()
}

fn services(dir: &Path) -> Services {
    let config = helpdesk::config::load(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml"),
    )
    .unwrap();
    support::local_services(
        Arc::new(config),
        Arc::new(SqliteStore::open(dir.join("helpdesk.db")).unwrap()),
        Arc::new(SystemClock),
        dir,
    )
}

/// A `/proc/self/status` figure in KiB.
fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .map(|entry| entry.unwrap().path())
            .map(|path| if path.is_dir() { files_under(&path) } else { 1 })
            .sum()
    })
}
