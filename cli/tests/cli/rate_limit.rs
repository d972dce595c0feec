//! `helpdesk serve` limits a form's posts per client address, the TCP peer
//! (a header cannot claim another address).

use crate::support::{post_json, serve_with, temp_dir, workspace};

/// The example configuration with a limit of two posts a minute per client
/// on the support form.
fn limited_config(dir: &std::path::Path) -> std::path::PathBuf {
    let example = std::fs::read_to_string(workspace().join("config/helpdesk.yaml")).unwrap();
    let form = "  support:\n    queue: SUP\n";
    assert!(example.contains(form), "the example's support form moved");
    let limited = example.replacen(
        form,
        &format!("{form}    rate_limit:\n      per_client: {{ count: 2, window: 1m }}\n"),
        1,
    );
    let path = dir.join("helpdesk.yaml");
    std::fs::write(&path, limited).unwrap();
    path
}

#[test]
fn a_third_post_from_one_address_within_a_minute_gets_429_from_serve() {
    let dir = temp_dir();
    let config = limited_config(&dir);
    let server = serve_with(&dir, &[], &["--config", config.to_str().unwrap()]);
    let body = r#"{"name":"Jane","email":"jane@customer.org","subject":"Hello","message":"Hi","topic":"other"}"#;
    for _ in 0..2 {
        let (status, answer) = post_json(&server.address, "/forms/support", body);
        assert_eq!(status, 201, "{answer}");
    }
    let (status, answer) = post_json(&server.address, "/forms/support", body);
    assert_eq!(status, 429, "{answer}");
    let problem: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(problem["type"], "/problems/rate-limited");
}
