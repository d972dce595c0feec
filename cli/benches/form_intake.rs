//! Benchmark: a form submission to a stored ticket over SQLite, in process
//! (the handler called directly) and through `helpdesk serve` over HTTP.
//!
//! Run with `cargo bench -p helpdesk-cli --bench form_intake`. Prints p50/p99
//! latency, submissions per second and the server's peak RSS (VmHWM).
//! `BENCH_N` sets the number of submissions per phase (default 5000).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use helpdesk::app::{BlobChoice, Services, Settings, StoreChoice};
use helpdesk::intake::{self, FormRequest};

mod common;
use common::percentile;

fn body(i: usize) -> String {
    let topic = ["billing", "login", "outage", "other"][i % 4];
    format!(
        r#"{{"name":"Customer {i}","email":"customer{}@example.org","subject":"Request {i}","message":"Something about request number {i}.\nThanks!","topic":"{topic}","customer_id":"C-{i}"}}"#,
        i % 500
    )
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort_unstable();
    println!(
        "{name}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms throughput={:.0} submissions/s",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("helpdesk-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml")
}

async fn in_process(n: usize) {
    let dir = temp_dir("inproc");
    let settings = Settings {
        config: config_path(),
        store: StoreChoice::Sqlite(dir.join("bench.db")),
        blobs: BlobChoice::Dir(dir.join("blobs")),
        mail_transport: helpdesk::app::MailTransportChoice::Outbox(dir.join("outbox")),
        events: helpdesk::app::EventsChoice::Log(dir.join("events.jsonl")),
        secrets: None,
    };
    let services = Services::build(&settings).await.unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    // Warm up.
    for i in 0..100 {
        let request = FormRequest {
            method: http::Method::POST,
            form_id: "support".into(),
            headers: headers.clone(),
            body: body(i).into(),
            client: None,
        };
        assert_eq!(intake::handle(&services, request).await.status(), 201);
    }
    let mut latencies = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let request = FormRequest {
            method: http::Method::POST,
            form_id: "support".into(),
            headers: headers.clone(),
            body: body(i).into(),
            client: None,
        };
        let t = Instant::now();
        let response = intake::handle(&services, request).await;
        latencies.push(t.elapsed());
        assert_eq!(response.status(), 201);
    }
    report(
        "in process (sequential, SQLite file)",
        latencies,
        start.elapsed(),
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn read_response(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    status
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn over_http(n: usize, connections: usize) {
    let dir = temp_dir("serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config_path())
        .arg("--db")
        .arg(dir.join("bench.db"))
        .arg("--blobs")
        .arg(dir.join("blobs"))
        .arg("--mail-transport")
        .arg(format!("outbox:{}", dir.join("outbox").display()))
        .arg("--events")
        .arg(format!("log:{}", dir.join("events.jsonl").display()))
        .env("RUST_LOG", "warn,helpdesk=info")
        .env_remove("HELPDESK_STORE")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let idle_rss = peak_rss_kb(child.id());
    let address = Arc::new(address);
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|w| {
            let address = Arc::clone(&address);
            std::thread::spawn(move || {
                let stream = TcpStream::connect(address.as_str()).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut latencies = Vec::new();
                for i in (w..n).step_by(connections) {
                    let body = body(i);
                    let t = Instant::now();
                    write!(writer, "POST /forms/support HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
                    let status = read_response(&mut reader);
                    latencies.push(t.elapsed());
                    assert_eq!(status, 201);
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let elapsed = start.elapsed();
    report(
        &format!("helpdesk serve over HTTP ({connections} keep-alive connections)"),
        latencies,
        elapsed,
    );
    println!(
        "helpdesk serve RSS: {:.1} MB at start, peak {:.1} MB under load",
        idle_rss as f64 / 1024.0,
        peak_rss_kb(child.id()) as f64 / 1024.0
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(in_process(n));
    over_http(n, 1);
    over_http(n, 8);
}
