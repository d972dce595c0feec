//! `helpdesk mail log`, `mail raw` and `mail release`: a message held
//! because it names no usable sender shows in the log with why, its raw
//! bytes come back, and an agent releases it into a ticket of its own,
//! once. And what a taken mail left out shows on its ticket, with why.

use std::path::Path;
use std::process::Output;

use crate::support::{helpdesk_over, mailgate, temp_dir};

// Addressed to no one in its headers: only the mailgate's --queue names
// the queue, which the release must find again.
const HELD: &[u8] = b"From: undisclosed recipients\r\nTo: undisclosed-recipients:;\r\n\
Subject: Invoice question\r\nMessage-ID: <held-1@customer.org>\r\nReturn-Path: <>\r\n\r\n\
Why was I charged twice?\r\n";

fn run(dir: &Path, args: &[&str]) -> Output {
    helpdesk_over(dir).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_held_message_is_listed_with_why_and_an_agent_releases_it_once() {
    let dir = temp_dir();
    let mailgate = mailgate(&dir, HELD);
    assert!(mailgate.status.success(), "{mailgate:?}");

    let log = run(
        &dir,
        &["mail", "log", "--outcome", "held", "--since", "3650d"],
    );
    assert!(log.status.success(), "{log:?}");
    let shown = text(&log);
    assert!(shown.contains("held-1@customer.org"), "{shown}");
    assert!(shown.contains("no usable sender"), "{shown}");
    assert!(shown.contains("Invoice question"), "{shown}");
    let rejected = run(
        &dir,
        &["mail", "log", "--outcome", "rejected", "--since", "3650d"],
    );
    assert!(text(&rejected).contains("no messages"), "{rejected:?}");

    let raw = run(&dir, &["mail", "raw", "held-1@customer.org"]);
    assert_eq!(raw.stdout, HELD);

    let no_sender = run(
        &dir,
        &["mail", "release", "held-1@customer.org", "--as", "anna"],
    );
    assert_eq!(no_sender.status.code(), Some(1), "{no_sender:?}");
    assert!(String::from_utf8_lossy(&no_sender.stderr).contains("names no usable sender"));

    let release_for_kim = || {
        run(
            &dir,
            &[
                "mail",
                "release",
                "held-1@customer.org",
                "--as",
                "anna",
                "--requester",
                "kim@customer.org",
            ],
        )
    };
    let release = release_for_kim();
    assert!(release.status.success(), "{release:?}");
    assert!(text(&release).contains("into SUP-1"), "{release:?}");

    let ticket = run(&dir, &["tickets", "show", "SUP-1"]);
    let shown = text(&ticket);
    assert!(shown.contains("kim@customer.org"), "{shown}");
    assert!(shown.contains("Why was I charged twice?"), "{shown}");
    assert!(
        shown.contains("Released from the mail log by anna"),
        "{shown}"
    );

    let again = release_for_kim();
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("released before, into SUP-1"));
    let log = run(&dir, &["mail", "log", "--since", "3650d"]);
    assert!(text(&log).contains("released into SUP-1"), "{log:?}");
}

#[test]
fn tickets_show_says_why_a_long_html_body_was_read_only_in_part() {
    let dir = temp_dir();
    let cells: String = (0..12_000)
        .map(|i| format!("<p>Offer {i}: <a href=\"https://shop.example/{i}\">item</a></p>"))
        .collect();
    let raw = format!(
        "From: Shop <news@shop.example>\r\nTo: support@example.com\r\nSubject: Big newsletter\r\n\
         Message-ID: <big-news@shop.example>\r\nContent-Type: text/html\r\n\r\n\
         <html><body>{cells}</body></html>\r\n"
    );
    let mailgate = mailgate(&dir, raw.as_bytes());
    assert!(mailgate.status.success(), "{mailgate:?}");

    let shown = text(&run(&dir, &["tickets", "show", "SUP-1"]));
    assert!(shown.contains("Offer 0:"), "{shown}");
    assert!(
        shown.contains(
            "left out: the HTML body (741 KB) was read only up to its first 256 KB; \
             the whole part is in the raw message"
        ),
        "{shown}"
    );
}

#[test]
fn the_mailgate_takes_its_options_after_the_subcommand_as_an_mta_alias_gives_them() {
    use std::io::Write;
    let dir = temp_dir();
    let db = dir.join("helpdesk.db");
    let outbox = format!("outbox:{}", dir.join("outbox").display());
    let mut child = crate::support::helpdesk()
        .args(["mailgate", "--queue", "SUP", "--db"])
        .arg(&db)
        .arg("--blobs")
        .arg(dir.join("blobs"))
        .args(["--mail-transport", &outbox])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"From: Kim <kim@customer.org>\r\nTo: support@example.com\r\nSubject: Printer jam\r\n\
Message-ID: <alias-1@customer.org>\r\n\r\nThe printer jams.\r\n",
        )
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("new ticket SUP-1"),
        "{output:?}"
    );
    let listed = run(&dir, &["tickets", "list"]);
    assert!(text(&listed).contains("Printer jam"), "{listed:?}");

    let unknown = crate::support::helpdesk()
        .args(["mailgate", "--queue", "SUP", "--no-such-option"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--no-such-option"));
}
