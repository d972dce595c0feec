//! Benchmark: what a function does before its first event (issue 7's cold
//! start), step by step, so that `scripts/coldstart`'s totals can be
//! explained and a regression in one step shows.
//!
//! Each step runs `BENCH_N` times (default 50) in this one process and the
//! median and worst are printed. Repeating in one warm process leaves out
//! what only a new process pays (loading and relocating the binary, first
//! touches of its pages), so the sum is below what `scripts/coldstart`
//! measures; the steps are the ones `helpdesk::app::Services::build` takes:
//!
//! - `config parse`: the example `config/helpdesk.yaml` through the YAML
//!   parser into the model, no checks;
//! - `config validate`: the reference checks of `config::validate` on it;
//! - `config load (YAML)`: `config::load` as a function calls it (read,
//!   parse, validate, build the business calendars) with no snapshot;
//! - `config load (snapshot)`: the same with the snapshot `helpdesk config
//!   compile` writes beside the file, as the deployed layer has it (read
//!   both, hash the YAML, deserialize the JSON, validate, calendars);
//! - `sqlite open (new file)`: `SqliteStore::open` on a file that does not
//!   exist yet (schema created), as the Lambda checks' SQLite passes do;
//! - `sqlite open (existing)`: the same file opened again (schema there);
//! - `root certificates`: building a reqwest client with the system's root
//!   certificates, which the webhook sender does on its first call only;
//! - `aws client (construction)`: building an S3 client on
//!   [`helpdesk::aws::https_client`], as every function that talks to AWS
//!   does at start; it connects on the first request, so no root
//!   certificate is parsed here (the SDK's own client parses them all at
//!   every construction);
//! - `aws connector (compiled-in roots)`: what that first request pays
//!   once: the SDK's HTTPS client building its connector, every
//!   compiled-in root decoded and parsed.
//!
//! Run with `cargo bench -p helpdesk --bench startup`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{self, TlsContext};
use helpdesk::automation::webhook::install_crypto_provider;
use helpdesk::config::{self, Config};
use helpdesk::store::sqlite::SqliteStore;

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let config_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/helpdesk.yaml");
    let text = std::fs::read_to_string(&config_path).expect("the example config");
    let parsed: Config = serde_saphyr::from_str(&text).expect("the example config parses");
    let dir = std::env::temp_dir().join(format!("helpdesk-bench-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");

    println!("startup steps, {n} runs each (median, worst)");
    step("config parse", n, || {
        let config: Config = serde_saphyr::from_str(&text).unwrap();
        std::hint::black_box(config);
    });
    step("config validate", n, || {
        let findings = config::validate::validate(&parsed);
        assert!(findings.is_empty(), "{findings:?}");
    });
    // Copies of config/, one without a snapshot and one with it.
    let yaml_only = dir.join("yaml-only.yaml");
    std::fs::copy(&config_path, &yaml_only).expect("a copy of the config");
    step("config load (YAML)", n, || {
        std::hint::black_box(config::load(&yaml_only).unwrap());
    });
    let with_snapshot = dir.join("with-snapshot.yaml");
    std::fs::copy(&config_path, &with_snapshot).expect("a copy of the config");
    let snapshot = config::snapshot::compile(&text, "with-snapshot.yaml").unwrap();
    std::fs::write(config::snapshot::snapshot_path(&with_snapshot), snapshot).unwrap();
    step("config load (snapshot)", n, || {
        std::hint::black_box(config::load(&with_snapshot).unwrap());
    });
    let mut fresh = 0;
    step("sqlite open (new file)", n, || {
        fresh += 1;
        let path = dir.join(format!("new-{fresh}.db"));
        std::hint::black_box(SqliteStore::open(&path).unwrap());
    });
    let existing = dir.join("new-1.db");
    step("sqlite open (existing)", n, || {
        std::hint::black_box(SqliteStore::open(&existing).unwrap());
    });
    install_crypto_provider();
    step("root certificates", n, || {
        std::hint::black_box(reqwest::Client::builder().build().unwrap());
    });
    step("aws client (construction)", n, || {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .http_client(helpdesk::aws::https_client())
            .build();
        std::hint::black_box(aws_sdk_s3::Client::from_conf(config));
    });
    let context = TlsContext::builder()
        .with_trust_store(helpdesk::aws::trust_store())
        .build()
        .unwrap();
    step("aws connector (compiled-in roots)", n, || {
        let connector = Connector::builder()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context.clone())
            .build();
        std::hint::black_box(connector);
    });
    std::fs::remove_dir_all(&dir).expect("the temporary directory removed");
}

fn step(name: &str, n: usize, mut f: impl FnMut()) {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {name:<32} {:>8.3} ms  {:>8.3} ms",
        ms(times[n / 2]),
        ms(times[n - 1])
    );
}
