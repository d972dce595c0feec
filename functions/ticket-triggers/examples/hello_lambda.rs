//! `hello-lambda`: the smallest `lambda_runtime` function there is, the
//! yardstick for `scripts/coldstart`.
//!
//! It builds nothing (no configuration, no store, no clients, no logging)
//! and answers every event with `{"ok": true}`. `scripts/coldstart`
//! measures it exactly as it measures the four helpdesk functions (time
//! from process start to the first event answered, peak RSS), and a
//! function passes when it stays within twice this binary's time to its
//! first event. It lives here, as an example of the ticket triggers crate,
//! only because that crate already depends on `lambda_runtime`,
//! `serde_json` and `tokio`; it is not part of any deployment.
//!
//! Build it with the release profile the functions ship with:
//! `cargo build --release -p ticket-triggers --example hello-lambda`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"ok": true}))
    }))
    .await
}
