//! Slow and idle clients cannot wear `helpdesk serve` out: half-sent
//! headers and bodies are cut off after their timeouts, and while a
//! thousand of them are open a normal form post is answered at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{post_json, serve_with, temp_dir};

/// How many connections this test process may open beside its own files.
fn connections_we_may_open(wanted: usize) -> usize {
    let soft = helpdesk_cli::listen::open_file_limit();
    let room = soft.saturating_sub(200);
    if room < wanted {
        eprintln!("only {room} connections fit under this process's open-file limit ({soft})");
    }
    wanted.min(room)
}

/// Whether the server closed the connection (a read ends or is reset).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buffer = [0_u8; 512];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            // Still open after the wait: not closed.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
            // An answer (408 or problem+json) before the close is fine.
            Ok(_) => continue,
        }
    }
}

#[test]
fn a_thousand_slow_connections_do_not_keep_a_form_post_waiting_and_are_cut_off() {
    let dir = temp_dir();
    let server = serve_with(&dir, &[], &["--header-timeout", "3", "--body-timeout", "3"]);
    let count = connections_we_may_open(1000);
    let mut half_headers = Vec::new();
    let mut half_bodies = Vec::new();
    for i in 0..count {
        let mut stream = TcpStream::connect(&server.address).unwrap();
        if i % 2 == 0 {
            stream
                .write_all(b"POST /forms/support HTTP/1.1\r\nHost: x\r\nContent-Ty")
                .unwrap();
            half_headers.push(stream);
        } else {
            stream
                .write_all(
                    b"POST /mail HTTP/1.1\r\nHost: x\r\nContent-Type: message/rfc822\r\nContent-Length: 100000\r\n\r\nFrom: a@b.c\r\n",
                )
                .unwrap();
            half_bodies.push(stream);
        }
    }

    let started = Instant::now();
    let (status, body) = post_json(
        &server.address,
        "/forms/support",
        r#"{"name":"Jane","email":"jane@customer.org","subject":"Still there?","message":"Hello","topic":"other"}"#,
    );
    let took = started.elapsed();
    eprintln!("a form post beside {count} slow connections took {took:?}");
    assert_eq!(status, 201, "{body}");
    assert!(
        took < Duration::from_secs(1),
        "a form post took {took:?} beside {count} slow connections"
    );

    // Past the timeouts the server has closed both kinds.
    std::thread::sleep(Duration::from_secs(4));
    assert!(closed_by_server(&mut half_headers[0]), "a half-sent header");
    assert!(closed_by_server(&mut half_bodies[0]), "a half-sent body");
    let (status, _) = post_json(
        &server.address,
        "/forms/support",
        r#"{"name":"Lee","email":"lee@customer.org","subject":"And now?","message":"Hi","topic":"other"}"#,
    );
    assert_eq!(status, 201);
}
