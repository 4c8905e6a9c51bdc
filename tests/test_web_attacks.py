"""The staff site as an attacker sees it: what a stranger can learn from sign-in, what a forged
header or a hostile file name can do, what reaches the logs. Each test fails without its defence."""
from __future__ import annotations

import contextlib
import logging
import re

import pytest
import sqlalchemy as sa

from mailbot import store as st
from mailbot.web import auth, create_app
from tests.appgen import make_app
from tests.webgen import STAFF, form_csrf, link_in, sent_letters, sign_in, site_app, wait_letters

pytestmark = pytest.mark.database


@pytest.fixture
def app(tmp_path):
    a = site_app(tmp_path)
    yield a
    a.close()


def test_asking_a_link_does_the_same_work_whatever_the_address(app, monkeypatch):
    """A stranger must not tell staff addresses by the time the page takes: before answering, the
    request writes the same rows for a staff address as for any other (the link is made and stored
    beside the request, in the thread that mails it)."""
    started = []

    class Held:  # the mailing thread, held back so that only the request's own work is seen
        def __init__(self, target, args=(), **kw):
            self.target, self.args = target, args

        def start(self):
            started.append(self)

    monkeypatch.setattr(auth.threading, "Thread", Held)
    real = app.store.transaction
    writes = []

    @contextlib.contextmanager
    def counted():
        writes.append(1)
        with real() as conn:
            yield conn

    monkeypatch.setattr(app.store, "transaction", counted)
    work = {}
    for address in (STAFF, "nguoila@example.org"):
        writes.clear()
        assert auth.request_link(app, address, "10.0.0.9")
        work[address] = len(writes)
    with app.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(st.web_tokens)).scalar() == 0
    assert work[STAFF] == work["nguoila@example.org"]
    monkeypatch.setattr(app.store, "transaction", real)
    for thread in started:  # let them go: the staff address gets its letter, the stranger nothing
        thread.target(*thread.args)
    [letter] = sent_letters(app)
    assert letter["To"] == STAFF and link_in(letter).startswith("http://canbo.test/dang-nhap/")


def test_a_download_keeps_its_own_sandboxed_policy(app):
    """A file a unit sent is hostile: even opened in the browser it must run nothing (CSP sandbox),
    not merely fall under the pages' policy."""
    from tests.webgen import fill

    fill(app)
    c = create_app(app).test_client()
    sign_in(c, app)
    with app.store.read() as conn:
        file_id = conn.execute(sa.select(sa.func.min(st.attachments.c.id))).scalar()
        photo_id = conn.execute(sa.select(sa.func.min(st.photos.c.id))).scalar()
    for path in (f"/tep/{file_id}", f"/anh/{photo_id}", "/thu/1.eml", "/tai-ve/bao-cao.json"):
        r = c.get(path)
        assert r.status_code == 200, path
        assert r.headers["Content-Disposition"].startswith("attachment;"), path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        csp = r.headers["Content-Security-Policy"]
        assert "sandbox" in csp and "default-src 'none'" in csp, path


def test_a_failure_while_signing_in_logs_no_link(app, monkeypatch, caplog):
    """Secrets never in logs: a crash on the link's page names its route, not its token."""
    c = create_app(app).test_client()
    csrf = form_csrf(c.get("/dang-nhap").get_data(as_text=True))
    token = "bi-mat-" + "x" * 40

    def broken(*a, **kw):
        raise RuntimeError("the store went away")

    monkeypatch.setattr(auth, "spend_link", broken)
    with caplog.at_level(logging.DEBUG):
        r = c.post(f"/dang-nhap/{token}", data={"csrf": csrf})
    assert r.status_code == 500
    assert "the store went away" in caplog.text  # the failure is logged…
    assert token not in caplog.text  # …without the link


def _ask_through_server(app, forwarded_for: str) -> None:
    """Ask a link from 127.0.0.1 over real HTTP (waitress, as `mailbot web` serves), with a forged
    or a proxy's X-Forwarded-For."""
    import http.client
    import threading
    import urllib.parse

    from mailbot.web import server

    srv = server.make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.effective_port, timeout=10)
        conn.request("GET", "/dang-nhap")
        r = conn.getresponse()
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        csrf = form_csrf(r.read().decode())
        conn.request("POST", "/dang-nhap", body=urllib.parse.urlencode({"email": "ai@example.org", "csrf": csrf}),
                     headers={"Cookie": cookie, "X-Forwarded-For": forwarded_for,
                              "Content-Type": "application/x-www-form-urlencoded"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.stop(srv, thread)


def _client_keys(app) -> set[str]:
    with app.store.read() as conn:
        return {k for (k,) in conn.execute(sa.select(st.web_attempts.c.key)) if k.startswith("ip:")}


def test_a_forged_x_forwarded_for_does_not_change_the_client_counted(app):
    """Rate limits per client are worth nothing if a client can name itself: X-Forwarded-For is
    believed from nobody unless [web] trusted_proxy says whose it is."""
    _ask_through_server(app, "203.0.113.7")
    assert _client_keys(app) == {"ip:127.0.0.1"}


def test_the_configured_proxy_names_the_client_and_only_its_own_hop_counts(tmp_path):
    from tests.appgen import make_app

    a = make_app(tmp_path, web={"base_url": "https://canbo.test", "staff": [STAFF], "trusted_proxy": "127.0.0.1"})
    try:
        # nginx's $proxy_add_x_forwarded_for: what the client wrote, then the address the proxy saw.
        _ask_through_server(a, "198.51.100.1, 203.0.113.7")
        assert _client_keys(a) == {"ip:203.0.113.7"}
    finally:
        a.close()


@pytest.mark.parametrize("web, key, problem", [
    ({"host": "0.0.0.0"}, "base_url", "thiếu khoá bắt buộc khi host"),
    ({"host": "::"}, "base_url", "thiếu khoá bắt buộc khi host"),
    ({"base_url": "baocao.example.edu.vn"}, "base_url", "bắt đầu bằng http:// hoặc https://"),
    ({"base_url": "javascript:alert(1)//"}, "base_url", "bắt đầu bằng http:// hoặc https://"),
    # The site's links start at "/": under a prefix every one of them would miss.
    ({"base_url": "https://truong.example.edu.vn/mailbot"}, "base_url", "không kèm đường dẫn"),
    # waitress compares the peer's address with it as written: "*" would believe every client.
    ({"base_url": "https://x.test", "trusted_proxy": "*"}, "trusted_proxy", "cần là một địa chỉ IP"),
    ({"base_url": "https://x.test", "trusted_proxy": "localhost"}, "trusted_proxy", "cần là một địa chỉ IP"),
])
def test_a_mailed_link_cannot_be_a_wrong_address(tmp_path, web, key, problem):
    """The sign-in link is base_url + its path: a base_url without its scheme is no link and leaves
    the cookies without Secure; a site on every address with no base_url would mail http://0.0.0.0.
    And the proxy whose forwarding headers are believed is one address, never a name or "*"."""
    from mailbot import config as cfgmod
    from tests.appgen import config_dict

    with pytest.raises(cfgmod.ConfigError) as exc:
        cfgmod.from_dict(config_dict(tmp_path, web=web), base_dir=tmp_path)
    assert key in str(exc.value) and problem in str(exc.value)
    ok = cfgmod.from_dict(config_dict(tmp_path, web={"host": "0.0.0.0", "base_url": "http://192.168.1.10:8080"}),
                          base_dir=tmp_path)
    assert ok.web.base_url == "http://192.168.1.10:8080"


def test_mailbot_web_on_every_address_needs_a_base_url(tmp_path):
    import subprocess
    import sys

    from tests.appgen import ROOT, config_dict
    from tests.servers import free_port
    from tests.webgen import toml_text

    config = tmp_path / "mailbot.toml"
    config.write_text(toml_text(config_dict(tmp_path, web={"staff": [STAFF]})), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "mailbot.cli", "--config", str(config), "web", "--host", "0.0.0.0",
                        "--port", str(free_port())], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "[web] base_url" in r.stderr, r.stderr


def test_the_mailed_link_never_takes_the_requests_host(app):
    """Host-header poisoning: a link built from the request's Host would send staff to the attacker."""
    c = create_app(app).test_client()
    csrf = form_csrf(c.get("/dang-nhap", base_url="http://ke-gian.example").get_data(as_text=True))
    c.post("/dang-nhap", data={"email": STAFF, "csrf": csrf}, base_url="http://ke-gian.example",
           headers={"X-Forwarded-Host": "ke-gian.example"})
    [letter] = wait_letters(app, 1)
    assert link_in(letter).startswith("http://canbo.test/dang-nhap/")


def test_a_staff_address_written_loosely_in_the_configuration_still_signs_in(tmp_path):
    """[web] staff is compared with the typed address as the sign-in page reads it (NFC, trimmed,
    lower-case): "  Canbo@Example.org " or a decomposed letter in the file must not lock staff out."""
    import unicodedata

    from mailbot.web import auth

    loose = ["  CanBo@Example.org ", unicodedata.normalize("NFD", "trưởngphòng@example.org")]
    a = make_app(tmp_path, web={"base_url": "http://canbo.test", "staff": loose})
    try:
        assert auth.is_staff(a, auth.normal_address("canbo@example.org"))
        assert auth.is_staff(a, auth.normal_address("trưởngphòng@example.org"))
        assert not auth.is_staff(a, auth.normal_address("nguoila@example.org"))
    finally:
        a.close()


def test_behind_https_browsers_are_told_to_keep_to_https(tmp_path):
    for base, hsts in (("http://canbo.lan:8080", False), ("https://baocao.example.edu.vn", True)):
        a = site_app(tmp_path / base.split(":")[0], base_url=base)
        try:
            r = create_app(a).test_client().get("/dang-nhap", base_url=base)
            assert ("Strict-Transport-Security" in r.headers) is hsts
        finally:
            a.close()
