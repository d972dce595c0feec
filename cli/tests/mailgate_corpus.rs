//! Every message of the shared mail corpora (stalwart mail-parser's and
//! mime4j's test messages, malformed ones included) goes through
//! `helpdesk mailgate` as an MTA would pipe it: none panics, each ends as a
//! ticket or a recorded rejection with a reason, and its raw bytes are kept.
//! Skipped, saying so, where `../shared/corpus` is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

// The CLI tests' helpers; this file uses the mailgate's.
#[allow(dead_code)]
#[path = "cli/support.rs"]
mod support;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/corpus is absent (a fresh clone does not have it)");
        None
    }
}

fn messages(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            messages(&path, extension, found);
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
}

#[test]
fn every_corpus_message_ends_as_a_ticket_or_a_recorded_rejection_with_its_raw_bytes_kept() {
    let Some(corpus) = corpus() else { return };
    let mut files = Vec::new();
    messages(&corpus.join("stalwart_mail_parser/eml"), "eml", &mut files);
    messages(&corpus.join("mime4j"), "msg", &mut files);
    files.sort();
    assert!(files.len() >= 180, "found only {} messages", files.len());

    let dir = std::env::temp_dir().join(format!("helpdesk-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mut tickets, mut replies, mut rejected) = (0, 0, 0);
    for file in &files {
        let raw = std::fs::read(file).unwrap();
        let output = support::mailgate(&dir, &raw);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        assert!(
            matches!(code, Some(0) | Some(65)),
            "{}: exit {code:?}\n{stderr}",
            file.display()
        );
        let line = stderr.lines().last().unwrap_or_default();
        if line.contains("new ticket") {
            tickets += 1;
        } else if line.contains("reply on")
            || line.contains("already recorded")
            || line.contains("delivery report")
        {
            replies += 1;
        } else {
            assert!(
                line.contains(": ") && line.len() > "mailgate: rejected: ".len(),
                "{}: no reason given: {stderr}",
                file.display()
            );
            rejected += 1;
        }
        let kept = dir
            .join("blobs/raw")
            .join(format!("{}.eml", hex::encode(Sha256::digest(&raw))));
        assert_eq!(
            std::fs::read(&kept).unwrap_or_default(),
            raw,
            "{}: raw bytes not kept",
            file.display()
        );
    }
    eprintln!(
        "{} messages: {tickets} new tickets, {replies} replies or duplicates, {rejected} recorded rejections",
        files.len()
    );
    assert_eq!(tickets + replies + rejected, files.len());
    let _ = std::fs::remove_dir_all(dir);
}
