//! Links the `helpdesk` binary as a position-dependent executable; see
//! docs/benchmarks.md ("Mail ingestion") for why.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=helpdesk=-no-pie");
    }
}
