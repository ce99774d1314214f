"""The submission service, driven the way its users drive it: the JSON API over loopback, and a
real headless Chromium (Debian's) that signs in, uploads, watches the score arrive and opens the
feedback. One service (a Day 41 course, one warm lane) serves the whole module."""
from __future__ import annotations

import json
import re
import socket
import stat

import httpx
import pytest

from bench.serving import ServiceProcess, issue_tokens, make_course, upload, wait_graded
from tests.conftest import REPO

A = "day41_transformer"
ALICE = (REPO / "submitted" / "alice" / A / "transformer.ipynb").read_bytes()
BOB = (REPO / "submitted" / "bob" / A / "transformer.ipynb").read_bytes()
SPEED = "speed"       # made after_due_date by this course's policy
MAX_ATTEMPTS = 3
UPLOADS_PER_MINUTE = 12

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A course with a future due date, speed tests visible only after it, 3 attempts each, bob's
    own due date already past (extensions.csv); the service on a free loopback port."""
    work = tmp_path_factory.mktemp("service")
    cfg = make_course(work / "course", 6, {"lanes": 1, "uploads_per_minute": UPLOADS_PER_MINUTE, "max_upload_mb": 1.0},
                      policy={"max_attempts": MAX_ATTEMPTS, "visibility": {SPEED: "after_due_date"}},
                      due="2099-01-01 00:00:00 UTC")
    (cfg.root / "extensions.csv").write_text("student_id,assignment,due,extra_attempts\n"
                                              f"bob,{A},2020-01-01 00:00:00 UTC,\ns005,*,,2\n")
    tokens = issue_tokens(cfg)
    service = ServiceProcess(cfg.root, args=("--lanes", "1")).start()
    try:
        service.wait_ready(tokens["instructor"])
        with httpx.Client(base_url=service.url, timeout=60) as client:
            yield cfg, service, tokens, client
    finally:
        service.stop()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def graded(client, token, data) -> dict:
    answer = upload(client, token, A, data)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    return wait_graded(client, token, [answer.json()["id"]], timeout=120)[answer.json()["id"]]


# -- accounts ---------------------------------------------------------------------------------------

def test_tokens_are_private_and_the_database_keeps_only_hashes(served):
    """Is grades/tokens.csv mode 0600 with a sign-in link per rostered student and an instructor row,
    and does no token appear anywhere in the service's database file?"""
    cfg, service, tokens, _ = served
    path = cfg.root / "grades" / "tokens.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert {"alice", "bob", "s000", "instructor"} <= set(tokens)
    assert all(f"/signin?token={t}" in text for t in tokens.values())
    raw = b"".join(p.read_bytes() for p in cfg.root.glob("service.db*"))
    assert raw and not any(t.encode() in raw for t in tokens.values())


# -- the API ----------------------------------------------------------------------------------------

def test_an_upload_is_stored_recorded_graded_and_shown_only_to_its_student(served):
    """Does alice's upload answer 202 queued, land in nbgrader's layout (and its history folder),
    get graded to full marks on the visible tests, and stay invisible (404) to bob?"""
    cfg, service, tokens, client = served
    result = graded(client, tokens["alice"], ALICE)
    assert result["status"] == "graded" and result["student_id"] == "alice" and result["assignment"] == A
    assert result["score"] == result["max_score"] > 0
    assert result["feedback_url"] == f"/submissions/{result['id']}/feedback"
    for t in result["tests"]:
        assert set(t) >= {"name", "status", "score", "max_score", "output"}
    folder = cfg.root / "submitted" / "alice" / A
    assert (folder / "transformer.ipynb").read_bytes() == ALICE and (folder / "timestamp.txt").is_file()
    assert [p.read_bytes() for p in folder.glob("history/*.ipynb")] == [ALICE]
    assert result["id"] in next(folder.glob("history/*.ipynb")).name
    other = client.get(f"/api/submissions/{result['id']}", headers=auth(tokens["bob"]))
    assert other.status_code in (403, 404) and "error" in other.json()
    assert all(a["student_id"] == "bob" for a in client.get("/api/submissions", headers=auth(tokens["bob"])).json())
    mine = client.get(f"/api/submissions?assignment={A}", headers=auth(tokens["alice"])).json()
    assert result["id"] in [a["id"] for a in mine]
    everyone = client.get(f"/api/submissions?assignment={A}", headers=auth(tokens["instructor"])).json()
    assert result["id"] in [a["id"] for a in everyone]


def test_after_due_date_tests_are_withheld_until_the_students_own_due_date(served):
    """Before the due date, does alice see neither the speed tests nor their points, only how many
    hidden tests were checked, on the API and on the feedback page; and does bob, whose extension
    file gives him a due date already past, see them?"""
    cfg, service, tokens, client = served
    mine = client.get(f"/api/submissions?assignment={A}", headers=auth(tokens["alice"])).json()
    alice = next(a for a in mine if a["status"] == "graded")
    assert alice["withheld_tests"] == 4 and alice["score_complete"] is False
    assert not [t for t in alice["tests"] if t["name"].startswith("test_speed.py")]
    full = client.get(f"/api/submissions/{alice['id']}", headers=auth(tokens["instructor"])).json()
    speed = [t for t in full["tests"] if t["name"].startswith("test_speed.py")]
    assert len(speed) == 4 and full["max_score"] == alice["max_score"] + sum(t["max_score"] for t in speed)
    page = client.get(alice["feedback_url"], cookies={"autograder_session": tokens["alice"]})
    assert page.status_code == 200 and "4 hidden tests checked" in page.text
    assert not any(t["description"] and t["description"] in page.text for t in speed)
    bob = graded(client, tokens["bob"], BOB)
    assert bob["withheld_tests"] == 0 and [t for t in bob["tests"] if t["name"].startswith("test_speed.py")]


def test_errors_are_json_with_the_right_codes(served):
    """No token or a bad one: 401; an upload over the cap: 413 before its body is read (declared
    length) or once it passes the cap (chunked); not a notebook: 415; an unknown assignment: 422;
    a missing file: 422. Each one JSON {"error": ...}, and none of them is stored."""
    cfg, service, tokens, client = served
    t = tokens["s001"]
    before = sorted(cfg.submitted_dir.rglob("*"))
    cases = [
        (client.post("/api/submissions", data={"assignment": A}, files={"notebook": ("n.ipynb", ALICE)}), 401),
        (upload(client, "not-a-token", A, ALICE), 401),
        (upload(client, t, A, b"{" * 2_000_000), 413),
        (upload(client, t, A, b"MZ\x90\x00 an executable, not a notebook"), 415),
        (upload(client, t, A, json.dumps({"cells": "no"}).encode()), 415),
        (upload(client, t, A, b"[" * 100_000 + b"]" * 100_000), 415),
        (upload(client, t, "day99_nothing", ALICE), 422),
        (client.post("/api/submissions", headers=auth(t), data={"assignment": A}), 422),
        (client.get("/api/submissions/../../etc/passwd", headers=auth(t)), 404),
    ]
    for answer, code in cases:
        assert answer.status_code == code, (code, answer.status_code, answer.text[:300])
        assert answer.json()["error"]
    chunked = client.post("/api/submissions", headers={**auth(t), "content-type": "multipart/form-data; boundary=x"},
                          content=iter([b'--x\r\nContent-Disposition: form-data; name="notebook"; filename="n.ipynb"\r\n\r\n']
                                       + [b"0" * (1 << 20)] * 3))
    assert chunked.status_code == 413 and "limit" in chunked.json()["error"]
    assert sorted(cfg.submitted_dir.rglob("*")) == before


def test_an_oversized_upload_is_refused_before_its_body_is_sent(served):
    """Does a declared Content-Length over the cap get its 413 while the client has sent headers only?"""
    cfg, service, tokens, client = served
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as s:
        s.sendall(f"POST /api/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens['s001']}\r\n"
                  f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {500 << 20}\r\n\r\n".encode())
        answer = b""
        while b'"}' not in answer:
            chunk = s.recv(4096)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b'{"error": "the upload is larger' in answer


def test_a_client_file_name_is_never_a_path(served):
    """Is an upload named ../../../x.ipynb stored under the assignment's own notebook name, in the
    student's folder, with nothing written outside submitted/?"""
    cfg, service, tokens, client = served
    answer = upload(client, tokens["s002"], A, ALICE, name="../../../../escape.ipynb")
    assert answer.status_code == 202
    assert not list(cfg.root.parent.rglob("escape.ipynb"))
    assert (cfg.submitted_dir / "s002" / A / "transformer.ipynb").read_bytes() == ALICE


def test_attempts_run_out_with_429_and_an_extension_adds_more(served):
    """With 3 attempts, is the 4th refused with 429 (and not stored), while s005's 2 extra attempts
    from extensions.csv let a 4th through?"""
    cfg, service, tokens, client = served
    for student, allowed in (("s003", MAX_ATTEMPTS), ("s005", MAX_ATTEMPTS + 2)):
        codes = [upload(client, tokens[student], A, ALICE).status_code for _ in range(allowed + 1)]
        assert codes == [202] * allowed + [429], (student, codes)
        assert len(list((cfg.submitted_dir / student / A).glob("history/*.ipynb"))) == allowed
    left = {a["id"]: a for a in client.get("/api/assignments", headers=auth(tokens["s003"])).json()}
    assert left[A]["attempts_left"] == 0 and left[A]["attempts_used"] == MAX_ATTEMPTS


def test_the_upload_rate_limit_answers_429_with_retry_after(served):
    """Past uploads_per_minute for one token, is the next upload refused with 429 and Retry-After?"""
    cfg, service, tokens, client = served
    codes = [upload(client, tokens["s004"], A, b"not json").status_code for _ in range(UPLOADS_PER_MINUTE + 1)]
    assert codes[:UPLOADS_PER_MINUTE] == [415] * UPLOADS_PER_MINUTE and codes[-1] == 429
    again = upload(client, tokens["s004"], A, b"not json")
    assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1


def test_security_headers_csp_and_csrf(served):
    """Does every answer carry nosniff, DENY framing and a CSP (a strict one without scripts on
    feedback pages), and is a cookie-authenticated form post without its CSRF token, or from
    another site, refused?"""
    cfg, service, tokens, client = served
    cookie = {"autograder_session": tokens["alice"]}
    home = client.get("/", cookies=cookie)
    assert home.status_code == 200 and "script-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["x-content-type-options"] == "nosniff" and home.headers["x-frame-options"] == "DENY"
    mine = client.get("/api/submissions", headers=auth(tokens["alice"])).json()
    page = client.get(mine[0]["feedback_url"], cookies=cookie)
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "sandbox" in csp
    form = {"assignment": A}
    no_csrf = client.post("/upload", cookies=cookie, data=form, files={"notebook": ("n.ipynb", ALICE)})
    assert no_csrf.status_code == 403
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', home.text).group(1)
    elsewhere = client.post("/upload", cookies=cookie, headers={"origin": "http://evil.example"},
                            data={**form, "csrf": csrf}, files={"notebook": ("n.ipynb", ALICE)})
    assert elsewhere.status_code == 403
    api_cookie = client.post("/api/submissions", cookies=cookie, data=form, files={"notebook": ("n.ipynb", ALICE)})
    assert api_cookie.status_code == 403


def test_the_instructor_sees_the_queue_and_regrades_once(served):
    """Does the instructor's queue show the sandbox level, and does a regrade grade the attempt
    again with its result recorded once more (results = 1 + regrades), while a student may not?"""
    cfg, service, tokens, client = served
    q = client.get("/api/queue", headers=auth(tokens["instructor"])).json()
    assert q["isolation"].startswith("level") and set(q["counts"]) == {"queued", "grading", "graded", "error"}
    assert client.get("/api/queue", headers=auth(tokens["alice"])).status_code == 403
    alice = client.get(f"/api/submissions?assignment={A}", headers=auth(tokens["alice"])).json()[0]
    assert client.post(f"/api/submissions/{alice['id']}/regrade", headers=auth(tokens["alice"])).status_code == 403
    answer = client.post(f"/api/submissions/{alice['id']}/regrade", headers=auth(tokens["instructor"]))
    assert answer.status_code == 202
    again = wait_graded(client, tokens["instructor"], [alice["id"]])[alice["id"]]
    assert again["status"] == "graded"
    page = client.get("/instructor", cookies={"autograder_session": tokens["instructor"]})
    assert page.status_code == 200 and q["isolation"].split(":")[0] in page.text
    import sqlite3

    db = sqlite3.connect(cfg.service_db_url.removeprefix("sqlite:///"))
    results, regrades = db.execute("SELECT results, regrades FROM attempts WHERE id = ?", (alice["id"],)).fetchone()
    db.close()
    assert (results, regrades) == (2, 1)


# -- in a real browser ------------------------------------------------------------------------------

def test_a_student_signs_in_uploads_and_reads_feedback_in_chromium(served, tmp_path):
    """In headless Chromium (Debian's), does the mailed link sign s000 in, the upload form take a
    notebook, the attempt's page turn from queued to graded with the score without a reload, and
    the feedback page open with each test's question?"""
    from playwright.sync_api import sync_playwright

    from tests.test_dashboard import find_chromium

    cfg, service, tokens, client = served
    notebook = tmp_path / "transformer.ipynb"
    notebook.write_bytes(ALICE)
    link = next(line.split(",")[-1] for line in (cfg.root / "grades" / "tokens.csv").read_text().splitlines()
                if line.startswith("s000,"))
    link = re.sub(r"^http://[^/]+", service.url, link)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(link)
            page.click("#signin-button")
            page.wait_for_selector("#assignments")
            row = page.locator(f'tr[data-assignment="{A}"]')
            row.locator('input[type="file"]').set_input_files(str(notebook))
            row.locator('button[type="submit"]').click()
            page.wait_for_url(re.compile(r"/submissions/[0-9a-f]{32}$"))
            url = page.url
            page.wait_for_selector("#status.status-graded", timeout=120_000)  # set by app.js, under the page's CSP
            assert page.url == url  # no reload: the page followed the status itself
            assert page.text_content("#status") == "graded"
            score = page.text_content("#score")
            assert re.fullmatch(r"[\d.]+ / [\d.]+", score.strip()), score
            assert page.locator("#tests tr").count() > 10
            page.click("#feedback")
            page.wait_for_selector("h1")
            assert "feedback for s000" in page.text_content("h1")
            assert "Does" in page.content()  # the tests' questions
        finally:
            browser.close()
