"""One record per message, from envelope to row (mailbot.intake), on a local Maildir.

A message is read once (a failed one too), its envelope is mapped to its
`messages` row in one place, and recording decides duplicates with one
lookup.
"""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from mailbot import intake
from mailbot import store as st
from mailbot.intake import Location
from mailbot.mailbox import MaildirMailbox
from tests.test_staff import PHU_BAI, deliver, poll, report
from tests.appgen import make_app
from tests.mailgen import make_mail

pytestmark = pytest.mark.database


@pytest.fixture
def app(tmp_path):
    a = make_app(tmp_path)
    yield a
    a.close()


def broken_parser(data, context=None):
    raise RuntimeError("parser bug")


def _duplicate_lookups(app) -> list[str]:
    """Every statement that looks a message up by its bytes, from now on (the real engine's own hook)."""
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if "messages.raw_sha256 =" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(app.store.engine, "before_cursor_execute", listen)
    return seen


def _fetch_one(app):
    box = MaildirMailbox(app.config.mailbox)
    try:
        uidvalidity = box.open()
        [fetched] = list(box.fetch(box.new_uids(0), max_bytes=app.config.limits.max_message_bytes))
        return Location(box.name, box.folder, uidvalidity, fetched.uid), fetched
    finally:
        box.close()


def test_a_message_whose_reading_fails_is_read_once_and_keeps_its_whole_envelope(app, monkeypatch):
    """The worker's reading is the only one: the failed row takes its envelope from it, not from a re-read."""
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))],
                           headers={"In-Reply-To": "<earlier@unit.example.org>"}))
    monkeypatch.setattr(intake, "PARSE", f"{__name__}:broken_parser")  # runs in the worker processes
    reads_here = []
    real = intake.read_message
    monkeypatch.setattr(intake, "read_message", lambda *a, **k: reads_here.append(1) or real(*a, **k))

    assert poll(app).outcomes == {"failed": 1}

    assert reads_here == []  # not read again in this process after the failure
    with app.store.read() as conn:
        m = conn.execute(sa.select(st.messages)).one()
        [outbox] = conn.execute(sa.select(st.outbox)).all()
    assert "RuntimeError: parser bug" in m.error and "RuntimeError: parser bug" in m.summary
    assert (m.from_addr, m.subject, m.in_reply_to) == (PHU_BAI, "Báo cáo", "<earlier@unit.example.org>")
    assert m.date_header and m.references == ""  # the same columns as any recorded message
    assert outbox.message_pk == m.id  # the unit is answered


def test_recording_looks_for_a_duplicate_once_also_when_the_message_failed(app, monkeypatch):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))]))
    monkeypatch.setattr(intake, "PARSE", f"{__name__}:broken_parser")
    location, fetched = _fetch_one(app)
    message = intake.prepare(app, location, fetched)
    assert message.failure is not None
    assert "Đơn vị gửi kèm báo cáo" in message.parsed.envelope.body_text  # the worker's whole reading, kept

    lookups = _duplicate_lookups(app)
    recorded = intake.intake_message(app, message)

    assert recorded.outcome == "failed" and recorded.message_pk == 1
    assert len(lookups) == 1


def test_the_same_bytes_again_are_linked_without_being_read(app, monkeypatch, caplog):
    raw = make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))])
    deliver(app, raw)
    assert poll(app).outcomes == {"recorded": 1}
    deliver(app, raw)  # the same bytes under a new UID (as after a UIDVALIDITY reset)
    monkeypatch.setattr(intake, "UNPACK", f"{__name__}:broken_parser")  # reading it now would fail
    assert poll(app).outcomes == {"duplicate": 1}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # the broken reader never ran
    with app.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(st.message_locations)).scalar() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(st.messages)).scalar() == 1


def test_every_column_of_a_message_row_is_mapped_in_one_place(app):
    """message_row fills every `messages` column but those set after the insert (id, unit, reference)."""
    raw = make_mail(PHU_BAI, "Báo cáo", [])
    deliver(app, raw)
    location, fetched = _fetch_one(app)
    message = intake.prepare(app, location, fetched)
    row = intake.message_row(app, message, intake.Outcome.RECORDED, None)
    assert set(row) | {"id", "unit_id", "reference"} == set(st.messages.c.keys())
    assert set(intake.envelope_columns(app, message.envelope)) < set(row)


def test_each_document_and_photo_points_at_its_own_file(app):
    """A message's files are inserted together: every submission and photo row still names its own
    attachment row, whatever the order of the files (a photo first, a file that is neither, two reports)."""
    from tests.mailgen import jpeg

    deliver(app, make_mail(PHU_BAI, "Báo cáo", [
        ("anh1.jpg", jpeg(taken="2017:10:02 07:20:00")), ("bc.docx", report(100)), ("ghi-chu.txt", b"ghi chu"),
        ("anh2.jpg", jpeg(taken="2017:10:03 08:00:00", size=(320, 240))), ("bc-sua.docx", report(7))]))

    assert poll(app).outcomes == {"recorded": 1}

    s, p, a = st.submissions, st.photos, st.attachments
    with app.store.read() as conn:
        files = {r.id: r for r in conn.execute(sa.select(a))}
        photos = conn.execute(sa.select(p).order_by(p.c.id)).all()
        subs = conn.execute(sa.select(s).order_by(s.c.id)).all()
    assert [f.filename for f in files.values()] == ["anh1.jpg", "bc.docx", "ghi-chu.txt", "anh2.jpg", "bc-sua.docx"]
    assert [(files[r.attachment_id].filename, files[r.attachment_id].sha256) for r in photos] == \
        [(r.filename, r.sha256) for r in photos] == [("anh1.jpg", photos[0].sha256), ("anh2.jpg", photos[1].sha256)]
    assert [(r.width, r.height) for r in photos] == [(640, 480), (320, 240)]
    assert [files[r.attachment_id].filename for r in subs] == ["bc.docx", "bc-sua.docx"]
    assert [json.loads(r.document)["indicators"]["to_roi"] for r in subs] == [100, 7]
