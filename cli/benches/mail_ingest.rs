//! Benchmark: mail ingestion of the shared bench corpus
//! (`../shared/bench/gen_mail_corpus.py --n 500 --tag '[SUP-{id}]'`, 30%
//! replies), in process and through `helpdesk mailgate` (one process per
//! message, as an MTA does), plus the peak RSS of the mailgate for a 10 MB
//! message. Checks that the expected tickets and threaded replies result,
//! with the SUP queue taking a ticket key in the subject from anyone (see
//! [`CONFIG`]).
//!
//! Run with `cargo bench -p helpdesk-cli --bench mail_ingest`; skipped,
//! saying so, when `../shared/bench` is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use helpdesk::app::{BlobChoice, Services, Settings, StoreChoice};
use helpdesk::mail::ingest::{self, Ingested};

mod common;
use common::{percentile, workspace};

fn generate(n: usize) -> Option<(PathBuf, serde_json::Value)> {
    let script = workspace().join("../shared/bench/gen_mail_corpus.py");
    if !script.exists() {
        eprintln!("skipping: ../shared/bench/gen_mail_corpus.py is absent");
        return None;
    }
    let root = std::env::temp_dir().join(format!("helpdesk-mail-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let out = root.join("corpus");
    let status = Command::new("python3")
        .arg(&script)
        .args(["--n", &n.to_string(), "--tag", "[SUP-{id}]", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("corpus_manifest.json")).unwrap()).unwrap();
    Some((out, manifest))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort_unstable();
    println!(
        "{name}: n={} p50={:.3} ms p99={:.3} ms throughput={:.0} messages/s",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
}

/// The example configuration, but taking a key in the subject from anyone
/// (`subject_key_from_stranger: accept`, as Request Tracker does): the
/// corpus has colleagues of a reporter answering on the reporter's ticket,
/// which the default policy (a ticket of their own) would not thread.
static CONFIG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn write_config(root: &Path) {
    let example = std::fs::read_to_string(workspace().join("config/helpdesk.yaml")).unwrap();
    let accepting = example.replacen(
        "subject_key_from_stranger: new_ticket",
        "subject_key_from_stranger: accept",
        1,
    );
    assert_ne!(accepting, example, "the example's SUP queue changed");
    let path = root.join("helpdesk.yaml");
    std::fs::write(&path, accepting).unwrap();
    // As the README asks of a desk fed by an MTA: each mailgate process
    // then reads the snapshot instead of parsing the YAML.
    let compiled = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .args(["config", "compile"])
        .arg(&path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(compiled.success(), "helpdesk config compile failed");
    let _ = CONFIG.set(path);
}

fn config() -> PathBuf {
    CONFIG.get().cloned().unwrap()
}

fn settings(dir: &Path) -> Settings {
    Settings {
        config: config(),
        store: StoreChoice::Sqlite(dir.join("bench.db")),
        blobs: BlobChoice::Dir(dir.join("blobs")),
        mail_transport: helpdesk::app::MailTransportChoice::Outbox(dir.join("outbox")),
        events: helpdesk::app::EventsChoice::Log(dir.join("events.jsonl")),
        secrets: None,
    }
}

fn expected(manifest: &serde_json::Value, index: usize) -> (String, String) {
    let entry = &manifest["files"][index];
    let entry = if entry.is_null() {
        &manifest
            .as_array()
            .map(|a| a[index].clone())
            .unwrap_or_default()
    } else {
        entry
    };
    (
        entry["kind"].as_str().unwrap_or_default().to_owned(),
        entry["expected_ticket"]
            .to_string()
            .trim_matches('"')
            .to_owned(),
    )
}

async fn in_process(corpus: &Path, manifest: &serde_json::Value) {
    let dir = corpus.with_file_name("inproc");
    std::fs::create_dir_all(&dir).unwrap();
    let services = Services::build(&settings(&dir)).await.unwrap();
    let raws: Vec<Vec<u8>> = files(corpus)
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    let (mut tickets, mut replies, mut mismatches) = (0, 0, 0);
    let mut latencies = Vec::new();
    let start = Instant::now();
    for (index, raw) in raws.into_iter().enumerate() {
        let t = Instant::now();
        let outcome = ingest::ingest(&services, raw.into(), Default::default())
            .await
            .unwrap();
        latencies.push(t.elapsed());
        let (kind, ticket) = expected(manifest, index);
        let got = match &outcome {
            Ingested::NewTicket { ticket, .. } => {
                tickets += 1;
                ("new", ticket.to_string())
            }
            Ingested::Reply { ticket, .. } => {
                replies += 1;
                ("reply", ticket.to_string())
            }
            other => panic!("message {index}: {other:?}"),
        };
        if got.0 != kind || ticket != got.1.trim_start_matches("SUP-") {
            mismatches += 1;
        }
    }
    report("in process (SQLite file)", latencies, start.elapsed());
    println!(
        "in process: {tickets} tickets, {replies} threaded replies, {mismatches} differ from the manifest"
    );
}

fn max_rss_kb(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("MAXRSS "))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs the mailgate on `raw`; under `/usr/bin/time` (when present) for
/// its peak RSS when `rss` is set, which adds a process of its own to the
/// time taken.
fn mailgate(dir: &Path, raw: &[u8], rss: bool) -> (Duration, String, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    let mut command = if rss && time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "MAXRSS %M"])
            .arg(env!("CARGO_BIN_EXE_helpdesk"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_helpdesk"))
    };
    command
        .current_dir(workspace())
        .env_remove("HELPDESK_STORE")
        .env("RUST_LOG", "warn")
        .args(["mailgate", "--config"])
        .arg(config())
        .arg("--db")
        .arg(dir.join("bench.db"))
        .arg("--blobs")
        .arg(dir.join("blobs"))
        .arg("--mail-transport")
        .arg(format!("outbox:{}", dir.join("outbox").display()))
        .arg("--events")
        .arg(format!("log:{}", dir.join("events.jsonl").display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let output = child.wait_with_output().unwrap();
    let elapsed = t.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let rss = max_rss_kb(&stderr);
    (elapsed, stderr, rss)
}

fn through_mailgate(corpus: &Path) {
    let dir = corpus.with_file_name("mailgate");
    std::fs::create_dir_all(&dir).unwrap();
    let (mut tickets, mut replies, mut peak) = (0, 0, 0);
    let mut latencies = Vec::new();
    let mut sampled = 0;
    for (index, file) in files(corpus).iter().enumerate() {
        // Every 20th message runs under /usr/bin/time for the peak RSS and
        // is left out of the latencies.
        let rss_sample = index % 20 == 19;
        let (elapsed, stderr, rss) = mailgate(&dir, &std::fs::read(file).unwrap(), rss_sample);
        if rss_sample {
            sampled += 1;
        } else {
            latencies.push(elapsed);
        }
        peak = peak.max(rss.unwrap_or(0));
        if stderr.contains("new ticket") {
            tickets += 1;
        } else if stderr.contains("reply on") {
            replies += 1;
        }
    }
    // One message after another: the throughput of the timed ones.
    let timed: Duration = latencies.iter().sum();
    report(
        "helpdesk mailgate (one process per message)",
        latencies,
        timed,
    );
    println!(
        "mailgate: {tickets} tickets, {replies} threaded replies, peak RSS {:.1} MB (of {sampled} messages run under /usr/bin/time, not in the latencies)",
        peak as f64 / 1024.0
    );
}

fn big_message(dir: &Path) {
    let payload: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let encoded = {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(&payload);
        text.as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let raw = format!(
        "From: Big Sender <big@customer.example>\r\nTo: support@example.com\r\nSubject: Large log file\r\nMessage-ID: <big-1@customer.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nLog attached.\r\n--b\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
    );
    let dir = dir.with_file_name("big");
    std::fs::create_dir_all(&dir).unwrap();
    let (elapsed, stderr, rss) = mailgate(&dir, raw.as_bytes(), true);
    println!(
        "10 MB attachment ({:.1} MB raw): mailgate took {:.0} ms, peak RSS {} ({})",
        raw.len() as f64 / 1048576.0,
        elapsed.as_secs_f64() * 1e3,
        rss.map_or("unknown".into(), |kb| format!(
            "{:.1} MB = {:.2}x the message",
            kb as f64 / 1024.0,
            kb as f64 * 1024.0 / raw.len() as f64
        )),
        stderr.lines().next().unwrap_or_default()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let Some((corpus, manifest)) = generate(n) else {
        return;
    };
    write_config(corpus.parent().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(in_process(&corpus, &manifest));
    through_mailgate(&corpus);
    big_message(&corpus);
    let _ = std::fs::remove_dir_all(corpus.parent().unwrap());
}
