//! `helpdesk tickets show` and `list` print what customers wrote; escape
//! sequences, other control characters and bidi overrides in it are shown,
//! never passed to the agent's terminal.

use crate::support::{helpdesk, mailgate, temp_dir};

/// A mail whose subject, body and attachment name carry terminal escapes
/// and a right-to-left override.
fn hostile_mail() -> Vec<u8> {
    let mut mail = String::new();
    mail.push_str("From: Mallory <mallory@customer.org>\r\n");
    mail.push_str("To: support@example.com\r\n");
    mail.push_str("Subject: =?utf-8?B?");
    mail.push_str(&base64_of("Invoice \u{1b}[2J\u{202e}fdp.exe"));
    mail.push_str("?=\r\n");
    mail.push_str("Message-ID: <hostile@customer.org>\r\n");
    mail.push_str("MIME-Version: 1.0\r\n");
    mail.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    mail.push_str("--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    mail.push_str("Hello \u{1b}]0;owned\u{7}there\u{1b}[2J\r\nbye\r\n");
    mail.push_str("--b\r\nContent-Type: application/octet-stream\r\n");
    mail.push_str("Content-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\r\n");
    mail.push_str("Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n");
    mail.into_bytes()
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn control_characters_and_bidi_overrides_from_mail_are_shown_not_obeyed() {
    let dir = temp_dir();
    let db = dir.join("helpdesk.db");
    let output = mailgate(&dir, &hostile_mail());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    for args in [&["tickets", "show", "SUP-1"][..], &["tickets", "list"][..]] {
        let output = helpdesk().args(args).arg("--db").arg(&db).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        let shown = String::from_utf8(output.stdout).unwrap();
        for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\r'] {
            assert!(!shown.contains(bad), "{args:?} printed {bad:?}: {shown}");
        }
        assert!(shown.contains("<U+202E>fdp.exe"), "{args:?}: {shown}");
        if args[1] == "show" {
            assert!(shown.contains("Hello ␛]0;owned␇there␛[2J"), "{shown}");
            assert!(
                shown.contains("invoice<U+202E>fdp.exe"),
                "the attachment: {shown}"
            );
        }
    }
}
