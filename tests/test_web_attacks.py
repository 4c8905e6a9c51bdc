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
