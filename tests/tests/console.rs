//! The agent console over HTTP, served by the `helpdesk serve` router on a
//! random port over SQLite, as a browser sees it: redirects are not
//! followed and the session cookie is read from `Set-Cookie` and sent
//! back by hand. Signing in and out, sessions that end, the CSRF and
//! origin checks of every form, the security headers of every answer,
//! customer text and HTML that cannot run in the page, a long timeline
//! read page by page, a stale fields form, an answer with a file sent
//! once, and list filters that stay put.
//!
//! Most tests open their session with `helpdesk::auth::open_session`
//! (argon2 is slow in a debug build); the sign-in tests go through the
//! password form.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use chrono::Duration;
use helpdesk::auth::{self, Principal, Via};
use helpdesk::clock::Clock;
use helpdesk::domain::ticket::entry_seq;
use helpdesk::domain::{Actor, TicketKey, TimelineEntry, TimelineEvent};
use helpdesk::mail::ingest::Ingested;
use helpdesk::tickets::agent::{self, AgentUpdate};
use helpdesk_tests::app::{TestApp, spawn_app, test_now};
use reqwest::StatusCode;
use serde_json::json;

/// Anna's console password.
const PASSWORD: &str = "a long enough password";

/// A running desk, its base URL, and a client that follows no redirect.
struct Desk {
    app: TestApp,
    base: String,
    http: reqwest::Client,
}

/// An answer of the console: status, headers, body.
#[derive(Debug)]
struct Page {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Page {
    /// The `Location` of a redirect.
    fn location(&self) -> String {
        self.headers
            .get("location")
            .unwrap_or_else(|| panic!("no location in a {} answer", self.status))
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Where a redirect to the sign-in page comes back to (it must be
    /// one).
    fn sign_in_next(&self) -> String {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        let url = reqwest::Url::parse(&format!("http://desk{}", self.location())).unwrap();
        assert_eq!(url.path(), "/signin", "{}", self.location());
        url.query_pairs()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no next in {}", self.location()))
    }

    /// The session cookie the answer sets, whole (`hd_session=...;
    /// Path=/; ...`).
    fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with("hd_session="))
    }

    /// The value of the first `<input name="{name}" value="...">` after
    /// `marker` in the page.
    fn input_after(&self, marker: &str, name: &str) -> String {
        let from = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker:?} in the page"));
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.body[from..]
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} input after {marker:?}"))
            + from
            + needle.len();
        let end = self.body[start..].find('"').unwrap() + start;
        unescape(&self.body[start..end])
    }

    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        self.input_after("<body", "csrf")
    }

    /// The sequence numbers of the timeline entries shown, in page order.
    fn entry_seqs(&self) -> Vec<u64> {
        assert_eq!(
            self.body.matches("class=\"entry ").count(),
            self.body.matches("id=\"entry-").count()
        );
        self.body
            .split("id=\"entry-")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
            .collect()
    }

    /// The "Show older entries" link, if the page has one.
    fn older(&self) -> Option<String> {
        let start = self.body.find("<li class=\"older\"><a href=\"")?;
        let rest = &self.body[start + "<li class=\"older\"><a href=\"".len()..];
        assert!(rest.contains("Show older entries"));
        Some(unescape(&rest[..rest.find('"').unwrap()]))
    }

    /// The markup between `open` and the next `close`.
    fn between(&self, open: &str, close: &str) -> &str {
        let start = self
            .body
            .find(open)
            .unwrap_or_else(|| panic!("no {open:?} in the page"))
            + open.len();
        let end = self.body[start..].find(close).unwrap() + start;
        &self.body[start..end]
    }
}

/// Text of an HTML attribute as written by the templates (minijinja also
/// escapes `/`).
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the `hd_session` cookie in a `Set-Cookie`.
fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("hd_session="))
        .unwrap()
        .to_owned()
}

async fn page(response: reqwest::Response) -> Page {
    Page {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

impl Desk {
    async fn new() -> Self {
        helpdesk::automation::webhook::install_crypto_provider();
        let app = spawn_app();
        let base = app.serve().await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { app, base, http }
    }

    /// Gives `login` the console password [`PASSWORD`].
    async fn set_password(&self, login: &str) {
        auth::set_password(
            &self.app.services.config,
            self.app.store.as_ref(),
            login,
            PASSWORD,
            self.app.clock.now(),
        )
        .await
        .unwrap();
    }

    /// A session of `login` opened now, as sign-in opens it: the cookie's
    /// value.
    async fn session(&self, login: &str) -> String {
        let principal = Principal::of(&self.app.services.config, login, Via::Session).unwrap();
        auth::open_session(self.app.store.as_ref(), principal, self.app.clock.now())
            .await
            .unwrap()
            .secret
    }

    /// `POST /signin`.
    async fn sign_in(&self, login: &str, password: &str, next: Option<&str>) -> Page {
        let mut form = vec![("login", login), ("password", password)];
        form.extend(next.map(|next| ("next", next)));
        self.post(None, "/signin", &form, &[]).await
    }

    fn request(
        &self,
        method: reqwest::Method,
        cookie: Option<&str>,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(secret) = cookie {
            request = request.header("cookie", format!("hd_session={secret}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    }

    async fn get(&self, cookie: Option<&str>, path: &str) -> Page {
        self.get_with(cookie, path, &[]).await
    }

    async fn get_with(&self, cookie: Option<&str>, path: &str, headers: &[(&str, &str)]) -> Page {
        let request = self.request(reqwest::Method::GET, cookie, path, headers);
        page(request.send().await.unwrap()).await
    }

    /// Posts an urlencoded form.
    async fn post(
        &self,
        cookie: Option<&str>,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let request = self
            .request(reqwest::Method::POST, cookie, path, headers)
            .form(form);
        page(request.send().await.unwrap()).await
    }

    /// Posts a multipart form with text `fields` and one file (name,
    /// content type, bytes), as a browser sends the comment form.
    async fn post_multipart(
        &self,
        cookie: &str,
        path: &str,
        fields: &[(&str, &str)],
        (file_name, content_type, bytes): (&str, &str, &[u8]),
    ) -> Page {
        let boundary = "----console-test-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .request(reqwest::Method::POST, Some(cookie), path, &[])
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        page(request.send().await.unwrap()).await
    }

    /// A ticket from the support form with `subject` and `topic`.
    async fn form_ticket(&self, subject: &str, topic: &str) -> TicketKey {
        let answer = self
            .app
            .post_json(
                "support",
                json!({
                    "name": "Jane Doe",
                    "email": "jane.doe@customer.example",
                    "subject": subject,
                    "message": "It does not work.",
                    "topic": topic,
                }),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        answer.ticket()
    }

    async fn version(&self, key: &TicketKey) -> u64 {
        self.app.ticket(key).await.version
    }
}

/// A form field or a header: name and value.
type Pair<'a> = (&'a str, &'a str);

/// A form's fields.
type Form<'a> = Vec<Pair<'a>>;

/// `fields` and, when given, the `csrf` token.
fn with_token<'a>(
    fields: &[(&'a str, &'a str)],
    token: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut form = fields.to_vec();
    form.extend(token.map(|t| ("csrf", t)));
    form
}

/// Owned form pairs as the client takes them.
fn borrowed(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn principal(desk: &Desk, login: &str) -> Principal {
    Principal::of(&desk.app.services.config, login, Via::Session).unwrap()
}

#[tokio::test]
async fn every_console_page_and_form_refuses_a_request_without_a_session() {
    let desk = Desk::new().await;
    let key = desk.form_ticket("Printer on fire", "other").await;
    assert_eq!(key.to_string(), "SUP-1");
    let version = desk.version(&key).await;
    // An unknown session is as good as none.
    let forged = format!("hs_{}", "A".repeat(43));

    for cookie in [None, Some(forged.as_str())] {
        for path in [
            "/tickets",
            "/tickets?view=all&line=1",
            "/tickets/SUP-1",
            "/new",
            "/tickets/SUP-1/older?before=5",
            "/tickets/SUP-1/attachments/1000",
        ] {
            let answer = desk.get(cookie, path).await;
            assert_eq!(answer.sign_in_next(), path, "GET {path}");
            assert!(!answer.body.contains("Printer on fire"), "GET {path}");
        }

        let posts: [(&str, Vec<(&str, &str)>); 4] = [
            ("/tickets/SUP-1/take", vec![("version", "1")]),
            (
                "/tickets/SUP-1/fields",
                vec![("version", "1"), ("status", "Closed"), ("priority", "low")],
            ),
            (
                "/new",
                vec![
                    ("queue", "SUP"),
                    ("summary", "Made without a session"),
                    ("name", "Mallory"),
                ],
            ),
            ("/signout", vec![]),
        ];
        for (path, form) in &posts {
            let answer = desk.post(cookie, path, form, &[]).await;
            assert_eq!(answer.sign_in_next(), "/", "POST {path}");
        }
        let comment = desk
            .post_multipart(
                cookie.unwrap_or("none"),
                "/tickets/SUP-1/comments",
                &[("visibility", "public"), ("body", "Sent without a session")],
                ("a.txt", "text/plain", b"hello"),
            )
            .await;
        assert_eq!(comment.sign_in_next(), "/", "POST comments");

        let state = desk
            .get_with(
                cookie,
                "/tickets/SUP-1/state",
                &[("x-requested-with", "console")],
            )
            .await;
        assert_eq!(state.status, StatusCode::UNAUTHORIZED);
        assert!(!state.body.contains("version"), "{}", state.body);
    }

    let ticket = desk.app.ticket(&key).await;
    assert_eq!(ticket.version, version);
    assert_eq!(ticket.assignee, None);
    assert_eq!(ticket.status, "New");
    assert_eq!(desk.app.tickets().await.len(), 1, "no ticket was opened");
    assert!(desk.app.sent().is_empty(), "no mail was sent");
}

#[tokio::test]
async fn a_login_tried_too_often_is_refused_for_the_window_even_with_its_password() {
    let desk = Desk::new().await;
    desk.set_password("anna").await;
    let now = desk.app.clock.now();
    // Someone guessed anna's password as often as a window allows.
    for _ in 0..auth::SIGN_IN_ATTEMPTS {
        assert!(
            auth::sign_in_allowed(desk.app.store.as_ref(), "anna", now)
                .await
                .unwrap()
        );
    }
    let refused = desk.sign_in("anna", PASSWORD, None).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("Too many sign-in attempts"),
        "{}",
        refused.body
    );
    assert!(refused.session_cookie().is_none());
    // Another login is not held up; nor is anna once the window has passed.
    assert!(
        auth::sign_in_allowed(desk.app.store.as_ref(), "boris", now)
            .await
            .unwrap()
    );
    desk.app
        .clock
        .set(now + Duration::minutes(auth::SIGN_IN_WINDOW_MINUTES));
    let signed_in = desk.sign_in("anna", PASSWORD, None).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert!(signed_in.session_cookie().is_some());
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_the_right_one_opens_a_session_in_a_safe_cookie() {
    let desk = Desk::new().await;
    desk.set_password("anna").await;

    for (login, password) in [
        ("anna", "not the password at all"),
        ("zed", PASSWORD),
        // An agent who has no password yet.
        ("boris", PASSWORD),
    ] {
        let answer = desk.sign_in(login, password, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{login}");
        assert!(
            answer.body.contains("Wrong login or password"),
            "{login}: {}",
            answer.body
        );
        assert!(answer.headers.get("set-cookie").is_none(), "{login}");
        // The login typed is kept, the password is not.
        assert!(answer.body.contains(&format!("value=\"{login}\"")));
        assert!(!answer.body.contains(password));
    }

    let answer = desk.sign_in("anna", PASSWORD, Some("/tickets/SUP-7")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), "/tickets/SUP-7");
    let cookie = answer.session_cookie().expect("a session cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Lax"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(
        !attributes.iter().any(|a| a.eq_ignore_ascii_case("secure")),
        "{cookie}"
    );
    assert!(
        attributes.contains(&format!("Max-Age={}", auth::SESSION_HOURS * 3600).as_str()),
        "{cookie}"
    );

    let secret = cookie_value(&cookie);
    let list = desk.get(Some(&secret), "/tickets?view=mine").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Anna Petrova"));

    // After sign-in, only a path of this desk is followed.
    let answer = desk
        .sign_in("anna", PASSWORD, Some("//evil.example/phish"))
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/tickets?view=mine");
}

#[tokio::test]
async fn a_session_ends_twelve_hours_after_sign_in() {
    let desk = Desk::new().await;
    desk.set_password("anna").await;
    let signed_in = desk.sign_in("anna", PASSWORD, None).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let secret = cookie_value(&signed_in.session_cookie().unwrap());
    let lasts = Duration::hours(auth::SESSION_HOURS);

    desk.app
        .clock
        .set(test_now() + lasts - Duration::seconds(1));
    let late = desk.get(Some(&secret), "/tickets?view=mine").await;
    assert_eq!(late.status, StatusCode::OK, "a second before it ends");

    desk.app
        .clock
        .set(test_now() + lasts + Duration::seconds(1));
    let ended = desk.get(Some(&secret), "/tickets?view=mine").await;
    assert_eq!(ended.sign_in_next(), "/tickets?view=mine");
    let script = desk
        .get_with(
            Some(&secret),
            "/tickets/SUP-1/state",
            &[("x-requested-with", "console")],
        )
        .await;
    assert_eq!(script.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_desk_not_only_in_the_browser() {
    let desk = Desk::new().await;
    let secret = desk.session("anna").await;
    let csrf = desk.get(Some(&secret), "/tickets").await.csrf();

    // Signing out is a form like any other: a wrong token ends nothing.
    let refused = desk
        .post(Some(&secret), "/signout", &[("csrf", "not-the-token")], &[])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let missing = desk.post(Some(&secret), "/signout", &[], &[]).await;
    assert!(missing.status.is_client_error(), "{}", missing.status);
    assert_eq!(
        desk.get(Some(&secret), "/tickets").await.status,
        StatusCode::OK
    );

    let out = desk
        .post(Some(&secret), "/signout", &[("csrf", &csrf)], &[])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/signin?signed_out=1");
    let cleared = out.session_cookie().expect("the cookie is cleared");
    assert!(cleared.starts_with("hd_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(
        desk.get(None, "/signin?signed_out=1")
            .await
            .body
            .contains("You are signed out.")
    );

    // The browser that kept the old cookie is signed out all the same.
    let again = desk.get(Some(&secret), "/tickets").await;
    assert_eq!(again.sign_in_next(), "/tickets");
}

#[tokio::test]
async fn a_form_without_the_sessions_token_or_from_another_site_changes_nothing() {
    let desk = Desk::new().await;
    let key = desk.form_ticket("Cannot log in", "other").await;
    let anna = desk.session("anna").await;
    let boris = desk.session("boris").await;
    let ticket_page = desk.get(Some(&anna), "/tickets/SUP-1").await;
    assert_eq!(ticket_page.status, StatusCode::OK);
    let csrf = ticket_page.csrf();
    let boris_csrf = desk.get(Some(&boris), "/tickets/SUP-1").await.csrf();
    assert_ne!(csrf, boris_csrf, "each session has its own token");
    let version = desk.version(&key).await.to_string();

    let forms = [
        ("/tickets/SUP-1/take", vec![("version", version.as_str())]),
        (
            "/tickets/SUP-1/fields",
            vec![
                ("version", version.as_str()),
                ("status", "Closed"),
                ("priority", "low"),
            ],
        ),
        (
            "/new",
            vec![
                ("queue", "SUP"),
                ("summary", "Opened by a forged form"),
                ("name", "Mallory"),
            ],
        ),
    ];
    let evil = [("origin", "https://evil.example")];
    let cross_site = [("sec-fetch-site", "cross-site")];
    let wrong = "x".repeat(43);
    for (path, fields) in &forms {
        let cases: [(&str, Form, &[Pair]); 5] = [
            ("no token", with_token(fields, None), &[]),
            ("a wrong token", with_token(fields, Some(&wrong)), &[]),
            (
                "another session's token",
                with_token(fields, Some(&boris_csrf)),
                &[],
            ),
            (
                "another site's origin",
                with_token(fields, Some(&csrf)),
                &evil,
            ),
            (
                "a cross-site fetch",
                with_token(fields, Some(&csrf)),
                &cross_site,
            ),
        ];
        for (case, form, headers) in cases {
            let answer = desk.post(Some(&anna), path, &form, headers).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path} with {case}");
            assert!(answer.body.contains("This form has expired"), "{path}");
        }
    }
    let comment = desk
        .post_multipart(
            &anna,
            "/tickets/SUP-1/comments",
            &[
                ("csrf", "wrong"),
                ("visibility", "public"),
                ("body", "Forged answer"),
            ],
            ("a.txt", "text/plain", b"hello"),
        )
        .await;
    assert_eq!(comment.status, StatusCode::FORBIDDEN);

    let ticket = desk.app.ticket(&key).await;
    assert_eq!(ticket.version.to_string(), version, "nothing was written");
    assert_eq!(ticket.assignee, None);
    assert_eq!(desk.app.tickets().await.len(), 1);
    assert!(desk.app.sent().is_empty());

    let taken = desk
        .post(
            Some(&anna),
            "/tickets/SUP-1/take",
            &[("csrf", &csrf), ("version", &version)],
            &[],
        )
        .await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER, "{}", taken.body);
    assert_eq!(taken.location(), "/tickets/SUP-1?done=taken");
    assert_eq!(
        desk.app.ticket(&key).await.assignee.as_deref(),
        Some("anna")
    );
    let shown = desk.get(Some(&anna), &taken.location()).await;
    assert!(shown.body.contains("You have taken this ticket."));
}

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    let desk = Desk::new().await;
    desk.form_ticket("Headers", "other").await;
    let anna = desk.session("anna").await;
    let csrf = desk.get(Some(&anna), "/tickets").await.csrf();

    let mut answers = Vec::new();
    for (cookie, path) in [
        (None, "/"),
        (None, "/signin"),
        (None, "/signin?next=/tickets/SUP-1"),
        (None, "/tickets"),
        (None, "/tickets/SUP-1"),
        (None, "/assets/console.css"),
        (None, "/assets/console.js"),
        (None, "/no/such/page"),
        (Some(anna.as_str()), "/"),
        (Some(anna.as_str()), "/tickets?view=all"),
        (
            Some(anna.as_str()),
            "/tickets?view=all&line=1&priority=high",
        ),
        (Some(anna.as_str()), "/tickets/SUP-1"),
        (Some(anna.as_str()), "/tickets/SUP-1?done=saved"),
        (Some(anna.as_str()), "/tickets/SUP-1/older?before=999999"),
        (Some(anna.as_str()), "/tickets/SUP-1/state"),
        (Some(anna.as_str()), "/tickets/SUP-99"),
        (Some(anna.as_str()), "/tickets/SUP-1/attachments/5"),
        (Some(anna.as_str()), "/new"),
        (Some(anna.as_str()), "/assets/nothing.js"),
    ] {
        answers.push((format!("GET {path}"), desk.get(cookie, path).await));
    }
    answers.push((
        "GET state from the script".into(),
        desk.get_with(
            None,
            "/tickets/SUP-1/state",
            &[("x-requested-with", "console")],
        )
        .await,
    ));
    answers.push((
        "POST /signin (wrong)".into(),
        desk.sign_in("anna", "wrong password!!", None).await,
    ));
    answers.push((
        "POST take (no token)".into(),
        desk.post(Some(&anna), "/tickets/SUP-1/take", &[], &[])
            .await,
    ));
    answers.push((
        "POST fields (stale)".into(),
        desk.post(
            Some(&anna),
            "/tickets/SUP-1/fields",
            &[("csrf", &csrf), ("version", "0"), ("status", "Open")],
            &[],
        )
        .await,
    ));
    answers.push((
        "POST new (incomplete)".into(),
        desk.post(Some(&anna), "/new", &[("csrf", &csrf)], &[])
            .await,
    ));
    answers.push((
        "POST take".into(),
        desk.post(
            Some(&anna),
            "/tickets/SUP-1/take",
            &[("csrf", &csrf), ("version", "1")],
            &[],
        )
        .await,
    ));

    let statuses: Vec<u16> = answers.iter().map(|(_, a)| a.status.as_u16()).collect();
    for expected in [200, 303, 401, 403, 404, 409, 422] {
        assert!(statuses.contains(&expected), "{expected} in {statuses:?}");
    }
    for (what, answer) in &answers {
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .unwrap_or_else(|| panic!("{what}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let policy = header("content-security-policy");
        assert!(!policy.contains("unsafe-inline"), "{what}: {policy}");
        assert!(!policy.contains("unsafe-eval"), "{what}: {policy}");
        assert!(policy.contains("script-src 'self'"), "{what}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{what}: {policy}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
    }
}

#[tokio::test]
async fn a_summary_with_markup_shows_as_text_in_the_list_and_on_the_ticket() {
    let desk = Desk::new().await;
    let key = desk
        .form_ticket("<img src=x onerror=alert(1)>", "other")
        .await;
    assert_eq!(
        desk.app.ticket(&key).await.summary,
        "<img src=x onerror=alert(1)>"
    );
    let anna = desk.session("anna").await;

    for path in ["/tickets?view=all", "/tickets/SUP-1"] {
        let shown = desk.get(Some(&anna), path).await;
        assert_eq!(shown.status, StatusCode::OK, "{path}");
        assert!(
            shown.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{path}: {}",
            shown.body
        );
        assert!(!shown.body.contains("<img src=x onerror"), "{path}");
        assert!(!shown.body.contains("<img"), "{path}");
    }
}

/// A customer's mail to support with `html` as its HTML part.
fn html_mail(html: &str) -> Vec<u8> {
    format!(
        "From: Jane Doe <jane.doe@customer.example>\r\n\
         To: support@example.com\r\n\
         Subject: Look at this\r\n\
         Message-ID: <{}@customer.example>\r\n\
         Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hi\r\n\
         --b1\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         \r\n\
         {html}\r\n\
         --b1--\r\n",
        uuid::Uuid::new_v4().simple()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_mail_with_scripts_shows_its_html_without_them() {
    let desk = Desk::new().await;
    let ingested = desk
        .app
        .deliver(html_mail(
            r#"<p>Hi</p><script>alert(1)</script><img src=x onerror="alert(2)">"#,
        ))
        .await
        .unwrap();
    let Ingested::NewTicket { ticket: key, .. } = ingested else {
        panic!("a new ticket, got {ingested:?}");
    };
    let anna = desk.session("anna").await;

    let shown = desk.get(Some(&anna), &format!("/tickets/{key}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    let mail = shown.between("<div class=\"mail-html\">", "</div>");
    assert!(mail.contains("<p>Hi</p>"), "{mail}");
    assert!(!mail.contains("<script"), "{mail}");
    assert!(!mail.contains("onerror"), "{mail}");
    assert!(!mail.contains("alert("), "{mail}");
    // The page's only script is the console's own.
    assert_eq!(shown.body.matches("<script").count(), 1);
    assert!(!shown.body.contains("onerror"));
}

/// Appends `events` by `actor` to ticket `key` as one stored change (a
/// version of their own), straight through the store: the fastest way to
/// make a long timeline.
async fn append(desk: &Desk, key: &TicketKey, actor: &Actor, events: Vec<TimelineEvent>) {
    let ticket = desk.app.ticket(key).await;
    let mut next = ticket.clone();
    next.version += 1;
    next.updated_at = test_now();
    let entries: Vec<TimelineEntry> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| TimelineEntry {
            ticket: key.clone(),
            seq: entry_seq(next.version, i),
            at: test_now(),
            actor: actor.clone(),
            event,
        })
        .collect();
    desk.app
        .store
        .update_ticket(&next, ticket.version, &entries, &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn customer_html_stored_unsanitised_is_sanitised_before_it_is_shown() {
    let desk = Desk::new().await;
    let key = desk.form_ticket("Older record", "other").await;
    // A mail entry as a desk that kept the HTML as received would have
    // stored it: the console sanitises it again right before showing it.
    let event: TimelineEvent = serde_json::from_value(json!({
        "type": "email_in",
        "message_id": "old@customer.example",
        "from": "jane.doe@customer.example",
        "subject": "Old mail",
        "text": "Hi",
        "html": r#"<p>Hi</p><script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>"#,
    }))
    .unwrap();
    let customer = Actor::Customer {
        email: helpdesk::domain::EmailAddress::parse("jane.doe@customer.example").unwrap(),
    };
    append(&desk, &key, &customer, vec![event]).await;
    let anna = desk.session("anna").await;

    let shown = desk.get(Some(&anna), "/tickets/SUP-1").await;
    assert_eq!(shown.status, StatusCode::OK);
    let mail = shown.between("<div class=\"mail-html\">", "</div>");
    assert!(mail.contains("<p>Hi</p>"), "{mail}");
    for bad in ["<script", "onerror", "javascript:", "alert("] {
        assert!(!mail.contains(bad), "{bad} in {mail}");
    }
    assert_eq!(shown.body.matches("<script").count(), 1);
}

#[tokio::test]
async fn a_long_timeline_opens_with_its_newest_entries_and_the_rest_comes_page_by_page() {
    const ENTRIES: usize = 2_000;
    const SHOWN: usize = 30;
    let desk = Desk::new().await;
    let key = desk.form_ticket("A very long story", "other").await;
    let anna_note = Actor::Agent {
        login: "anna".into(),
        via: Some("session".into()),
    };
    // Changes of every size, so pages end inside and at the edges of
    // versions.
    let mut have = desk.app.timeline(&key).await.len();
    for size in [1_usize, 29, 30, 31, 97, 250].into_iter().cycle() {
        if have >= ENTRIES {
            break;
        }
        let size = size.min(ENTRIES - have);
        let events = (have..have + size)
            .map(|i| TimelineEvent::Comment {
                public: false,
                body: format!("note {i}"),
                body_blob: None,
            })
            .collect();
        append(&desk, &key, &anna_note, events).await;
        have += size;
    }
    let timeline = desk.app.timeline(&key).await;
    assert_eq!(timeline.len(), ENTRIES);
    let newest_first: Vec<u64> = timeline.iter().rev().map(|e| e.seq).collect();
    let anna = desk.session("anna").await;

    let first = desk.get(Some(&anna), &format!("/tickets/{key}")).await;
    assert_eq!(first.status, StatusCode::OK);
    let mut seen = first.entry_seqs();
    assert_eq!(seen.len(), SHOWN);
    assert_eq!(seen, newest_first[..SHOWN]);
    assert!(first.body.contains("Show older entries"));

    let mut next = first.older();
    let mut pages = 1;
    while let Some(link) = next {
        let older = desk.get(Some(&anna), &link).await;
        assert_eq!(older.status, StatusCode::OK, "{link}");
        let page = older.entry_seqs();
        assert!(!page.is_empty() && page.len() <= SHOWN, "{link}: {page:?}");
        seen.extend(page);
        next = older.older();
        pages += 1;
        assert!(pages <= ENTRIES, "the older links never end");
    }
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once"
    );
    assert_eq!(seen.len(), timeline.len());
    assert_eq!(seen, newest_first);
    assert_eq!(pages, ENTRIES.div_ceil(SHOWN), "full pages but the last");
}

#[tokio::test]
async fn a_stale_fields_form_writes_nothing_and_says_someone_else_changed_the_ticket() {
    let desk = Desk::new().await;
    let key = desk.form_ticket("Slow page", "other").await;
    let anna = desk.session("anna").await;
    let seen = desk.get(Some(&anna), "/tickets/SUP-1").await;
    let csrf = seen.csrf();
    let seen_version = seen.input_after("data-fields", "version");
    assert_eq!(seen_version, "1");

    // Boris changes the ticket while Anna's page is open.
    agent::update(
        &desk.app.services,
        &key,
        &principal(&desk, "boris"),
        AgentUpdate {
            priority: Some("high".into()),
            ..AgentUpdate::default()
        },
    )
    .await
    .unwrap();
    let before = desk.app.ticket(&key).await;
    let entries_before = desk.app.timeline(&key).await.len();

    let form = |version: &str, priority: &str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("version".to_owned(), version.to_owned()),
            ("status".to_owned(), "Open".to_owned()),
            ("priority".to_owned(), priority.to_owned()),
            ("line".to_owned(), String::new()),
            ("assignee".to_owned(), String::new()),
            ("tags".to_owned(), String::new()),
        ]
    };
    let stale_form = form(&seen_version, "normal");
    let stale = desk
        .post(
            Some(&anna),
            "/tickets/SUP-1/fields",
            &borrowed(&stale_form),
            &[],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(
        stale.body.contains("Someone else changed this ticket"),
        "{}",
        stale.body
    );
    let after = desk.app.ticket(&key).await;
    assert_eq!(after.version, before.version, "nothing was written");
    assert_eq!(
        (after.status.as_str(), after.priority.as_str()),
        ("New", "high")
    );
    assert_eq!(desk.app.timeline(&key).await.len(), entries_before);

    // The page keeps Anna's choice and carries the version it shows, so
    // she can check and save again.
    let fields = stale.between("data-fields>", "</form>");
    assert!(
        fields.contains("<option selected>Open</option>"),
        "{fields}"
    );
    let current = stale.input_after("data-fields", "version");
    assert_eq!(current, before.version.to_string());
    let again = form(&current, "high");
    let saved = desk
        .post(Some(&anna), "/tickets/SUP-1/fields", &borrowed(&again), &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), "/tickets/SUP-1?done=saved");
    let saved = desk.app.ticket(&key).await;
    assert_eq!(
        (saved.status.as_str(), saved.priority.as_str()),
        ("Open", "high")
    );
    assert_eq!(saved.version, before.version + 1);
}

#[tokio::test]
async fn a_public_answer_with_a_file_is_mailed_once_however_often_the_form_is_sent() {
    let desk = Desk::new().await;
    let key = desk.form_ticket("Where is my invoice?", "other").await;
    let anna = desk.session("anna").await;
    let shown = desk.get(Some(&anna), "/tickets/SUP-1").await;
    let csrf = shown.csrf();
    let idempotency = shown.input_after("<body", "idempotency");
    assert!(!idempotency.is_empty());
    let mailed_before = desk.app.sent().len();
    let fields = [
        ("csrf", csrf.as_str()),
        ("idempotency", idempotency.as_str()),
        ("visibility", "public"),
        ("body", "Here is your invoice."),
        ("to", ""),
        ("cc", ""),
    ];
    let file = (
        "invoice-2026-03.txt",
        "text/plain",
        b"Invoice 2026-03: 42 EUR".as_slice(),
    );

    let answered = desk
        .post_multipart(&anna, "/tickets/SUP-1/comments", &fields, file)
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
    assert_eq!(answered.location(), "/tickets/SUP-1?done=answered#timeline");
    let sent = desk.app.sent();
    assert_eq!(sent.len(), mailed_before + 1, "one mail");
    let (_, mail) = sent
        .iter()
        .find(|(_, m)| m.contains("invoice-2026-03.txt"))
        .expect("the answer carries the file");
    assert!(mail.contains("jane.doe@customer.example"), "{mail}");
    let page = desk.get(Some(&anna), "/tickets/SUP-1").await;
    assert!(page.body.contains("invoice-2026-03.txt"));
    let entries = desk.app.timeline(&key).await.len();
    let version = desk.version(&key).await;

    // The same form again: a double click, a POST the browser resends.
    let again = desk
        .post_multipart(&anna, "/tickets/SUP-1/comments", &fields, file)
        .await;
    assert!(
        again.status == StatusCode::SEE_OTHER,
        "{}: {}",
        again.status,
        again.body
    );
    assert_eq!(desk.app.sent().len(), mailed_before + 1, "no second mail");
    let timeline = desk.app.timeline(&key).await;
    let answers = timeline
        .iter()
        .filter(|e| matches!(e.event, TimelineEvent::Comment { public: true, .. }))
        .count();
    assert_eq!(answers, 1);
    assert_eq!(timeline.len(), entries);
    assert_eq!(desk.version(&key).await, version);
}

#[tokio::test]
async fn a_list_filter_stays_chosen_and_an_impossible_one_is_said_on_the_page() {
    let desk = Desk::new().await;
    let billing = desk.form_ticket("Charged twice", "billing").await;
    let outage = desk.form_ticket("Everything is down", "outage").await;
    assert_eq!(desk.app.ticket(&billing).await.line, Some(1));
    assert_eq!(desk.app.ticket(&outage).await.line, Some(2));
    let anna = desk.session("anna").await;
    let line_select = "<select id=\"f-line\" name=\"line\">";

    let all = desk.get(Some(&anna), "/tickets?view=all").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(!all.between(line_select, "</select>").contains("selected"));
    assert!(all.body.contains("Charged twice") && all.body.contains("Everything is down"));

    let line_one = desk.get(Some(&anna), "/tickets?view=all&line=1").await;
    assert_eq!(line_one.status, StatusCode::OK, "{}", line_one.body);
    let select = line_one.between(line_select, "</select>");
    assert!(select.contains("<option value=\"1\" selected>"), "{select}");
    assert_eq!(select.matches("selected").count(), 1, "{select}");
    assert!(line_one.body.contains("Charged twice"));
    assert!(!line_one.body.contains("Everything is down"));
    assert!(line_one.body.contains("<details class=\"filters\" open>"));
    // The page refreshes itself with the same filter.
    assert_eq!(
        unescape(line_one.between("data-poll=\"", "\"")),
        "/tickets?view=all&line=1"
    );

    let impossible = desk
        .get(Some(&anna), "/tickets?view=all&line=1&priority=high")
        .await;
    assert_eq!(impossible.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        impossible.body.contains("This filter cannot be shown"),
        "{}",
        impossible.body
    );
    assert!(!impossible.body.contains("Charged twice"));
    // What was asked stays in the form, to change it.
    assert!(
        impossible
            .between(line_select, "</select>")
            .contains("<option value=\"1\" selected>")
    );
    assert!(
        impossible
            .between("<select id=\"f-priority\" name=\"priority\">", "</select>")
            .contains("<option selected>high</option>")
    );
}

#[tokio::test]
async fn custom_fields_are_saved_typed_and_a_form_saved_unchanged_writes_nothing() {
    let desk = Desk::new().await;
    let key = desk.form_ticket("Where is my invoice?", "other").await;
    let anna = desk.session("anna").await;
    let path = format!("/tickets/{key}");
    let shown = desk.get(Some(&anna), &path).await;
    let csrf = shown.csrf();
    let version = shown.input_after("data-fields", "version");
    let ticket = desk.app.ticket(&key).await;
    let fields = |score: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("version", version.clone()),
            ("status", ticket.status.clone()),
            ("priority", ticket.priority.clone()),
            (
                "line",
                ticket.line.map(|l| l.to_string()).unwrap_or_default(),
            ),
            ("assignee", String::new()),
            ("tags", String::new()),
            ("cf.customer_id", "C-1042".to_owned()),
            ("cf.topic", "other".to_owned()),
            ("cf.feedback_score", score.to_owned()),
        ]
    };
    let form = fields("5");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = desk
        .post(Some(&anna), &format!("{path}/fields"), &form, &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert!(
        saved.location().ends_with("done=saved"),
        "{}",
        saved.location()
    );
    let after = desk.app.ticket(&key).await;
    assert_eq!(after.custom_fields["customer_id"], json!("C-1042"));
    assert_eq!(after.custom_fields["feedback_score"], json!(5));

    // The same values again, from the page as it is now: nothing to write.
    let shown = desk.get(Some(&anna), &path).await;
    let again: Vec<(String, String)> = fields("5")
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_owned(),
                if k == "version" {
                    shown.input_after("data-fields", "version")
                } else {
                    v
                },
            )
        })
        .collect();
    let again: Vec<(&str, &str)> = again
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let unchanged = desk
        .post(Some(&anna), &format!("{path}/fields"), &again, &[])
        .await;
    assert!(
        unchanged.location().ends_with("done=unchanged"),
        "{}",
        unchanged.location()
    );
    assert_eq!(desk.app.ticket(&key).await.version, after.version);

    // Not a number: said on the page, nothing written.
    let form = fields("many");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = desk
        .post(Some(&anna), &format!("{path}/fields"), &form, &[])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("is not a number"), "{}", refused.body);
    assert_eq!(desk.app.ticket(&key).await.version, after.version);
}

#[tokio::test]
async fn the_dashboard_draws_the_volume_of_the_agents_queues_and_offers_it_as_csv() {
    let desk = Desk::new().await;
    desk.form_ticket("Where is my invoice?", "other").await;
    desk.form_ticket("Cannot log in", "login").await;
    let anna = desk.session("anna").await;
    let today = desk.app.clock.now().date_naive().to_string();

    let page = desk
        .get(Some(&anna), &format!("/reports?from={today}&to={today}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg"), "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "<td>{today}</td><td>2</td><td>0</td><td>0</td><td>2</td>"
        )),
        "{}",
        page.body
    );

    let csv = desk
        .get(
            Some(&anna),
            &format!("/reports/volume.csv?from={today}&to={today}"),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    assert_eq!(
        csv.body,
        format!("period,created,resolved,reopened,backlog\n{today},2,0,0,2\n")
    );

    let table = desk
        .get(
            Some(&anna),
            &format!("/reports/assignee-status.csv?from={today}&to={today}"),
        )
        .await;
    assert_eq!(table.status, StatusCode::OK);
    assert!(
        table.body.starts_with("assignee,status,open,created\n"),
        "{}",
        table.body
    );
    assert!(table.body.contains("(none),New,2,2\n"), "{}", table.body);
    // The breakdown is drawn too: a bar per component, named in its title.
    assert!(
        page.body
            .contains("Open at the end of the range, per value"),
        "{}",
        page.body
    );
    // Every report is on the page, each with its CSV.
    for report in [
        "breakdown",
        "assignee-status",
        "response-times",
        "sla",
        "reopens",
        "time-in-status",
        "agents",
    ] {
        assert!(
            page.body.contains(&format!("/reports/{report}.csv?")),
            "{report}: {}",
            page.body
        );
    }
    let missing = desk.get(Some(&anna), "/reports/nonsense.csv").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let refused = desk.get(Some(&anna), "/reports?by=year").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("day, week, month"),
        "{}",
        refused.body
    );
    let signed_out = desk.get(None, "/reports").await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
}
