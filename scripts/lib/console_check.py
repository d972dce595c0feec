#!/usr/bin/env python3
"""Drives the agent console in headless Chromium (WebDriver, Debian's
chromium and chromedriver) against a running `helpdesk serve`, as an agent
would, and checks what they would notice:

- sign in with the keyboard alone; open Unassigned (a request that arrives
  meanwhile appears on it); take a ticket; set
  line 2 and see the status become "Second line" (the trigger) on the page
  that stays open; another agent's change (through the API) shows without a
  reload; a stale edit is told plainly and changes nothing;
- answer publicly with an attachment, and find the mail (with the file) in
  the outbox; the customer's reply (through `helpdesk mailgate`) appears on
  the open page within seconds (the time is printed);
- a mail whose HTML holds a <script> and an onerror= image shows as text,
  and nothing of it runs;
- a ticket opened by hand; the list's filter link keeps its filter; the
  dashboard's chart;
- axe-core finds no serious or critical violation on the list, the ticket
  page, the new-ticket page and the sign-in page;
- screenshots of the list and the ticket page (laptop and phone width) in
  --shots;
- sign out, and the old session cookie is refused.

The helpdesk commands this runs (`helpdesk mailgate`, `agents token`) use
this process's environment (HELPDESK_DB, ...), the same as the server's.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

PASSWORD = "console check password"


def fail(message: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)
    print(f"ok: {message}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102
        return None


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) without following redirects."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Desk:
    """The server under test and the helpdesk command beside it."""

    def __init__(self, base: str, helpdesk: str, outbox: pathlib.Path):
        self.base = base.rstrip("/")
        self.helpdesk = shlex.split(helpdesk)
        self.outbox = outbox

    def run(self, *args: str, stdin: bytes | None = None) -> str:
        done = subprocess.run(self.helpdesk + list(args), input=stdin, capture_output=True, check=False)
        if done.returncode != 0:
            fail(f"helpdesk {' '.join(args)}: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    def post_form(self, subject: str, topic: str, email_address: str) -> str:
        body = json.dumps({"name": "Jane Doe", "email": email_address, "subject": subject,
                           "message": f"{subject}: please help", "topic": topic}).encode()
        status, _, answer = http("POST", f"{self.base}/forms/support", body, {"content-type": "application/json"})
        if status != 201:
            fail(f"form post answered {status}: {answer[:300]!r}")
        return json.loads(answer)["ticket"]

    def mail(self, raw: bytes) -> None:
        self.run("mailgate", stdin=raw)

    def api(self, method: str, path: str, token: str, body: dict | None = None, headers: dict | None = None):
        all_headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        all_headers.update(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        status, answer_headers, answer = http(method, f"{self.base}/api/v1{path}", data, all_headers)
        return status, answer_headers, json.loads(answer) if answer else None

    def outbox_mails(self) -> list[email.message.EmailMessage]:
        mails = []
        for path in sorted(self.outbox.glob("*.eml")):
            mails.append(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
        return mails


def browser(chromedriver: str, chromium: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1366,900", "--lang=en-US"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def wait(driver, seconds: float = 10):
    return WebDriverWait(driver, seconds, poll_frequency=0.1)


def text_of(driver, css: str) -> str:
    """The text of the first element matching css, read in the page (the
    live updates replace elements, so no reference is kept)."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css)


def mark_document(driver) -> None:
    """Marks the document, so a later check can tell it was not reloaded."""
    driver.execute_script("window.__sameDocument = 'yes';")


def same_document(driver) -> bool:
    return driver.execute_script("return window.__sameDocument === 'yes';")


def axe(driver, axe_source: str, page: str) -> None:
    driver.execute_script(axe_source)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations)).catch(e => done(String(e)));"
    )
    if isinstance(result, str):
        fail(f"axe-core on {page}: {result}")
    bad = [v for v in result if v.get("impact") in ("serious", "critical")]
    for v in bad:
        print(f"  {v['impact']}: {v['id']}: {v['help']} ({len(v['nodes'])} nodes, first: {v['nodes'][0]['target']})")
    minor = sorted({v["id"] for v in result} - {v["id"] for v in bad})
    check(not bad, f"axe-core: no serious or critical violation on {page}" + (f" (minor: {', '.join(minor)})" if minor else ""))


def shot(driver, shots: pathlib.Path, name: str) -> None:
    path = shots / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def sign_in_with_keyboard(driver, base: str, login: str) -> None:
    driver.get(f"{base}/tickets?view=unassigned")
    wait(driver).until(EC.url_contains("/signin"))
    check("next=" in driver.current_url, "a page asked for without a session leads to sign-in, coming back after")
    # The login field has the focus; Tab to the password, Enter sends.
    active = driver.switch_to.active_element
    check(active.get_attribute("id") == "login", "the sign-in page puts the focus on the login")
    active.send_keys(login)
    active.send_keys(Keys.TAB)
    driver.switch_to.active_element.send_keys(PASSWORD)
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait(driver).until(EC.url_contains("/tickets?view=unassigned"))
    check("Unassigned" in driver.title, "signed in with the keyboard alone, on the page first asked for")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True)
    parser.add_argument("--helpdesk", required=True, help="the helpdesk command (quoted words)")
    parser.add_argument("--outbox", required=True, type=pathlib.Path)
    parser.add_argument("--axe", required=True, type=pathlib.Path, help="axe.min.js")
    parser.add_argument("--shots", required=True, type=pathlib.Path)
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    desk = Desk(args.base, args.helpdesk, args.outbox)
    base = desk.base
    axe_source = args.axe.read_text()

    desk.run("agents", "password", "anna", stdin=f"{PASSWORD}\n".encode())
    boris = desk.run("agents", "token", "boris", "--name", "console-check").strip()
    # Billing goes to anna by a trigger; a login question stays unassigned.
    desk.post_form("Invoice shows the wrong amount", "billing", "jane@customer.org")
    billing = desk.post_form("Cannot log in after the reset", "login", "jane@customer.org")
    hostile = (
        b"From: Mallory <mallory@attacker.example>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: Look at this\r\n"
        b"Message-ID: <hostile-1@attacker.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hello from the attacker</p>"
        b"<script>window.__pwned = 'script'; alert('script');</script>"
        b"<img src=x onerror=\"window.__pwned='onerror';alert('onerror');document.body.appendChild(document.createElement('marquee'))\">"
        b"<a href=\"javascript:alert('link')\">click</a>\r\n"
    )
    desk.mail(hostile)

    driver = browser(args.chromedriver, args.chromium)
    try:
        sign_in_with_keyboard(driver, base, "anna")
        rows = driver.find_elements(By.CSS_SELECTOR, "table.tickets tbody tr")
        check(any(billing in r.text for r in rows), f"Unassigned lists {billing}")
        count = text_of(driver, "a.view-unassigned .count")
        check(int(count) >= 2, f"the side bar counts the unassigned tickets ({count})")
        axe(driver, axe_source, "the list")
        shot(driver, args.shots, "list")

        # A new request arrives while the list is open.
        mark_document(driver)
        arrived = desk.post_form("Two-factor codes never arrive", "login", "kim@customer.org")
        wait(driver, 15).until(lambda d: arrived in text_of(d, "[data-live=list]"))
        check(same_document(driver), f"the open list shows {arrived}, which arrived meanwhile, without a reload")

        # A filter's link keeps it.
        driver.get(f"{base}/tickets?view=all&line=1")
        check(Select(driver.find_element(By.ID, "f-line")).first_selected_option.get_attribute("value") == "1",
              "a list link keeps its filter (line 1 chosen in the form)")
        check(all("2" != r.find_elements(By.CSS_SELECTOR, "td")[4].text
                  for r in driver.find_elements(By.CSS_SELECTOR, "table.tickets tbody tr") if len(r.find_elements(By.CSS_SELECTOR, "td")) > 4),
              "the line 1 filter lists no line 2 ticket")

        # Take the billing ticket, then move it to line 2.
        driver.get(f"{base}/tickets/{billing}")
        driver.find_element(By.XPATH, "//button[normalize-space()='Take it']").click()
        wait(driver).until(EC.url_contains("done=taken"))
        check("Anna Petrova" in text_of(driver, "[data-live=summary]"), "taken: the ticket shows Anna as its assignee")
        Select(driver.find_element(By.ID, "t-line")).select_by_value("2")
        driver.find_element(By.XPATH, "//button[normalize-space()='Save fields']").click()
        wait(driver).until(EC.url_contains("done=saved"))
        mark_document(driver)
        wait(driver, 15).until(lambda d: "Second line" in text_of(d, "[data-live=summary] .badge.status"))
        check(same_document(driver), "line 2 saved: the status became Second line (the trigger), shown without a reload")

        # Another agent changes the ticket while the page is open.
        status, headers, _ = desk.api("GET", f"/tickets/{billing}", boris)
        version = headers.get("ETag", headers.get("etag", "")).strip('"')
        status, _, answer = desk.api("PATCH", f"/tickets/{billing}", boris, {"priority": "high"}, {"If-Match": version})
        check(status == 200, f"boris changes the priority through the API ({status} {answer})")
        wait(driver, 15).until(lambda d: "Priority high" in text_of(d, "[data-live=summary]"))
        check(same_document(driver), "another agent's change shows on the open page without a reload")

        # A stale edit: the form was made before someone else's change.
        driver.get(f"{base}/tickets/{billing}")
        driver.execute_script("window.__noLive = true;")
        form_version = driver.find_element(By.CSS_SELECTOR, "[data-fields] input[name=version]").get_attribute("value")
        status, headers, _ = desk.api("GET", f"/tickets/{billing}", boris)
        version = headers.get("ETag", headers.get("etag", "")).strip('"')
        desk.api("PATCH", f"/tickets/{billing}", boris, {"tags": ["vip"]}, {"If-Match": version})
        driver.execute_script(
            "document.querySelector('[data-fields] input[name=version]').value = arguments[0];", form_version)
        Select(driver.find_element(By.ID, "t-priority")).select_by_visible_text("low")
        driver.find_element(By.XPATH, "//button[normalize-space()='Save fields']").click()
        notice = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice.stale")))
        check("Someone else changed this ticket" in notice.text, "a stale edit is told plainly")
        _, _, ticket = desk.api("GET", f"/tickets/{billing}", boris)
        check(ticket["priority"] == "high" and ticket["tags"] == ["vip"], "the stale edit overwrote nothing")

        # Answer publicly with a file.
        driver.get(f"{base}/tickets/{billing}")
        attachment = pathlib.Path(tempfile.mkdtemp()) / "steps-to-check.txt"
        attachment.write_text("1. open the invoice\n2. compare the totals\n")
        driver.find_element(By.ID, "c-body").send_keys("We corrected the invoice; the steps are attached.")
        driver.find_element(By.ID, "c-files").send_keys(str(attachment))
        driver.find_element(By.XPATH, "//button[normalize-space()='Send']").click()
        wait(driver).until(EC.url_contains("done=answered"))
        answers = [m for m in desk.outbox_mails() if "We corrected the invoice" in m.get_body(("plain",)).get_content()]
        check(len(answers) == 1, "the public answer is in the outbox once")
        answer = answers[0]
        files = [part.get_filename() for part in answer.iter_attachments()]
        check("steps-to-check.txt" in files, f"the answer's mail carries the file ({files})")
        check(str(answer["To"]).endswith("jane@customer.org") or "jane@customer.org" in str(answer["To"]),
              f"the answer went to the requester ({answer['To']})")
        axe(driver, axe_source, "the ticket page")
        driver.execute_script("window.scrollTo(0, 0);")
        shot(driver, args.shots, "ticket")

        # The customer replies while the page is open.
        mark_document(driver)
        reply = (
            "From: Jane Doe <jane@customer.org>\r\n"
            "To: support@example.com\r\n"
            f"Subject: Re: {answer['Subject']}\r\n"
            "Message-ID: <reply-1@customer.org>\r\n"
            f"In-Reply-To: {answer['Message-ID']}\r\n"
            f"References: {answer['Message-ID']}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Thank you, the new invoice is right.\r\n"
        ).encode()
        started = time.monotonic()
        desk.mail(reply)
        wait(driver, 15).until(lambda d: "the new invoice is right" in text_of(d, "[data-live=timeline]"))
        seconds = time.monotonic() - started
        check(same_document(driver), f"the customer's reply appeared on the open page in {seconds:.2f} s, without a reload")

        # Older entries on demand (the page shows the newest).
        entries = len(driver.find_elements(By.CSS_SELECTOR, "[data-live=timeline] li.entry"))
        check(entries >= 10, f"the timeline shows the ticket's entries ({entries})")

        # Hostile HTML shows as text and runs nothing.
        found = desk.api("GET", "/tickets?q=mallory%40attacker.example", boris)[2]["tickets"]
        check(len(found) == 1, "the hostile mail opened a ticket")
        driver.get(f"{base}/tickets/{found[0]['key']}")
        wait(driver).until(lambda d: "Hello from the attacker" in text_of(d, "[data-live=timeline]"))
        time.sleep(0.5)
        try:
            text = driver.switch_to.alert.text
            fail(f"an alert opened: {text}")
        except NoAlertPresentException:
            pass
        check(driver.execute_script("return window.__pwned === undefined;"), "no script of the mail ran")
        check(not driver.find_elements(By.CSS_SELECTOR, "marquee, .mail-html script, .mail-html [onerror], .mail-html a[href^='javascript']"),
              "no element of the mail's script or handlers is in the page")

        # A ticket by hand (a phone call).
        driver.get(f"{base}/new")
        axe(driver, axe_source, "the new-ticket page")
        driver.find_element(By.ID, "n-name").send_keys("Pat Caller")
        driver.find_element(By.ID, "n-phone").send_keys("+49 30 1234567")
        driver.find_element(By.ID, "n-summary").send_keys("Called about a refund")
        driver.find_element(By.ID, "n-description").send_keys("Wants the March invoice refunded.")
        driver.find_element(By.XPATH, "//button[normalize-space()='Open ticket']").click()
        wait(driver).until(EC.url_contains("done=created"))
        check("Called about a refund" in driver.find_element(By.TAG_NAME, "h1").text and "via phone" in text_of(driver, "[data-live=summary]"),
              "a ticket opened by hand, on the phone channel")

        # The dashboard: the volume chart of her queues, and its CSV.
        driver.get(f"{base}/reports")
        check(bool(driver.find_elements(By.CSS_SELECTOR, "figure.chart svg rect")), "the dashboard draws the volume chart")
        axe(driver, axe_source, "the dashboard")
        shot(driver, args.shots, "dashboard")

        # Phone width.
        driver.set_window_size(390, 844)
        driver.get(f"{base}/tickets?view=open")
        width = driver.execute_script("return document.documentElement.scrollWidth;")
        check(width <= 400, f"the list fits a phone's width ({width}px)")
        shot(driver, args.shots, "list-phone")
        driver.get(f"{base}/tickets/{billing}")
        width = driver.execute_script("return document.documentElement.scrollWidth;")
        check(width <= 400, f"the ticket page fits a phone's width ({width}px)")
        shot(driver, args.shots, "ticket-phone")
        driver.set_window_size(1366, 900)

        # Sign out; the old session is refused.
        cookie = driver.get_cookie("hd_session")
        check(cookie is not None and cookie.get("httpOnly") is True, "the session cookie is HttpOnly")
        driver.find_element(By.XPATH, "//button[normalize-space()='Sign out']").click()
        wait(driver).until(EC.url_contains("/signin"))
        axe(driver, axe_source, "the sign-in page")
        driver.get(f"{base}/tickets/{billing}")
        check("/signin" in driver.current_url, "after sign-out the ticket page leads to sign-in")
        status, headers, _ = http("GET", f"{base}/tickets/{billing}", None, {"cookie": f"hd_session={cookie['value']}"})
        check(status == 303 and "/signin" in headers.get("location", headers.get("Location", "")),
              "the old session cookie is refused after sign-out")
    except TimeoutException as e:
        shot(driver, args.shots, "failure")
        fail(f"timed out at {driver.current_url}: {e.msg or 'a condition did not hold in time'}")
    finally:
        driver.quit()
    print(f"console check: every point holds; screenshots in {args.shots}")


if __name__ == "__main__":
    main()
