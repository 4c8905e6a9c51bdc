"""Every campaign in one store: records carry their campaign, and a version-3 database is upgraded.

The issue's story: with 2017's records in the data directory and a 2018
campaign configured, on 20/9/2018 `status` showed 2017's forms as received,
the 2018 report counted 2017's reports, and no 2018 reminder was due
because 2017's had been sent.
"""
from __future__ import annotations

import copy
import io
import json

import pytest
import sqlalchemy as sa

from mailbot import digest, reminders, rules, staff
from mailbot import store as st
from mailbot.app import open_app
from mailbot import config as cfgmod
from mailbot.report import report_json
from tests.servers import store_url
from tests.lettergen import Clock, add_message, add_photo, add_submission, at, config_dict, mau1_doc, mau2_doc

pytestmark = pytest.mark.database

PHU_BAI = "tthtcd-phu-bai"


def campaign_2018(raw: dict) -> dict:
    """Next year's campaign: 2017's table with new dates and id."""
    c = copy.deepcopy(raw["campaign"])
    c.update(id="htsd-2018", name="Tuần lễ hưởng ứng học tập suốt đời năm 2018",
             week_start="2018-10-01", week_end="2018-10-07")
    c["forms"][0].update(deadline="2018-09-27T23:59:59+07:00", deadline_text="trước ngày 28/9/2018")
    c["forms"][1].update(deadline="2018-10-12T23:59:59+07:00")
    return c


def two_campaigns(tmp_path, clock: str, campaign: str | None = None):
    raw = config_dict(tmp_path)
    raw["campaigns"] = [campaign_2018(raw)]
    cfg = cfgmod.from_dict(raw, base_dir=tmp_path)
    return open_app(cfg, Clock(clock), campaign=campaign)


def record_2017(app) -> None:
    """2017 as it ended: both forms received from Phú Bài, reminders sent, a photo."""
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-09-25T09:00",
                         unit_id=PHU_BAI)
        add_submission(conn, app, pk, "lich.docx", mau1_doc(), unit_id=PHU_BAI, received="2017-09-25T09:00")
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-10-12T09:00",
                         unit_id=PHU_BAI)
        add_submission(conn, app, pk, "bc.docx", mau2_doc(to_roi=700), unit_id=PHU_BAI, received="2017-10-12T09:00")
        add_photo(conn, pk, PHU_BAI, "anh.jpg")


def test_last_years_records_do_not_count_for_this_year(tmp_path):
    app = two_campaigns(tmp_path, "2017-10-20T10:00")
    assert app.config.campaign.id == "htsd-2017"
    record_2017(app)
    with app.store.transaction() as conn:  # 2017's reminders went out (before the forms came)
        for offset in (-3, -1):
            conn.execute(st.reminders.insert().values(
                campaign="htsd-2017", unit_id="thcs-phu-bai", form="mau1", offset_days=offset,
                due_at="2017-09-25T00:30:00+00:00", status="sent", decided_at="2017-09-25T00:30:00+00:00"))
    app.close()

    app = two_campaigns(tmp_path, "2018-09-24T07:30")  # 20/9/2018 and after: 2018 is current
    try:
        assert app.config.campaign.id == "htsd-2018"
        data = json.loads(staff.status_json(app))
        assert data["campaign"] == "htsd-2018"
        phu_bai = next(u for u in data["units"] if u["id"] == PHU_BAI)
        assert phu_bai["mau1"]["status"] == phu_bai["mau2"]["status"] == "missing"
        report = report_json(app)
        assert report["campaign"] == "htsd-2018" and report["units_counted"] == []
        assert report["totals"]["to_roi"] == 0
        # 2018's -3d reminder of Mẫu 1 (deadline 27/9) is due on 24/9 for every unit owing it
        with app.store.read() as conn:
            plans = reminders.plan_reminders(conn, app, app.now())
        assert {(p.unit.id, p.form.id, p.offset) for p in plans} >= {(PHU_BAI, "mau1", -3), ("thcs-phu-bai", "mau1", -3)}
        assert reminders.queue_due_reminders(app) == len(plans)
        with app.store.read() as conn:
            keys = {r.dedupe_key for r in conn.execute(sa.select(st.outbox.c.dedupe_key))}
            camp = {r.campaign for r in conn.execute(sa.select(st.outbox.c.campaign))}
        assert f"reminder:htsd-2018:{PHU_BAI}:mau1:-3" in keys and camp == {"htsd-2018"}

        # 2017 stays readable and reportable, whole
        old = app.for_campaign("htsd-2017")
        report = report_json(old)
        assert report["campaign"] == "htsd-2017" and report["units_counted"] == [PHU_BAI]
        assert report["totals"]["to_roi"] == 700
        data = json.loads(staff.status_json(old))
        phu_bai = next(u for u in data["units"] if u["id"] == PHU_BAI)
        assert phu_bai["mau1"]["status"] == phu_bai["mau2"]["status"] == "received"
    finally:
        app.close()


def test_a_report_of_the_new_campaign_never_supersedes_last_years(tmp_path):
    app = two_campaigns(tmp_path, "2018-10-05T10:00")
    old = app.for_campaign("htsd-2017")
    try:
        record_2017(old)
        with app.store.transaction() as conn:
            pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2018-10-05T10:00",
                             unit_id=PHU_BAI)
            sid = add_submission(conn, app, pk, "bc2018.docx", mau2_doc(to_roi=900), unit_id=PHU_BAI,
                                 received="2018-10-05T10:00")
            rules.settle(conn, PHU_BAI, "mau2", "htsd-2018")
            rules.settle(conn, PHU_BAI, "mau2", "htsd-2017")
        with app.store.read() as conn:
            new = rules.current_accepted(conn, campaign="htsd-2018")[(PHU_BAI, "mau2")]
            last = rules.current_accepted(conn, campaign="htsd-2017")[(PHU_BAI, "mau2")]
        assert new.id == sid and new.campaign == "htsd-2018" and not new.late
        assert last.document["indicators"]["to_roi"] == 700 and last.campaign == "htsd-2017"
        assert report_json(app)["totals"]["to_roi"] == 900
        assert report_json(old)["totals"]["to_roi"] == 700
    finally:
        app.close()


def test_an_unknown_campaign_is_a_configuration_error(tmp_path):
    with pytest.raises(cfgmod.ConfigError, match="không có đợt báo cáo 'htsd-2016'"):
        two_campaigns(tmp_path, "2018-10-05T10:00", campaign="htsd-2016")


# ---------------------------------------------------------------- migration 3 → 4

def version_3_metadata() -> sa.MetaData:
    """The schema as version 3 wrote it: today's tables without the campaign columns (the reminders'
    primary key without the campaign)."""
    old = sa.MetaData()
    for table in st.metadata.sorted_tables:
        sa.Table(table.name, old, *(c._copy() for c in table.columns if c.name != "campaign"))
    return old


def test_a_version_3_database_gives_every_record_its_campaign(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = store_url(data_dir)
    engine = sa.create_engine(url)
    old = version_3_metadata()
    m, a, s, p, ob, rem = (old.tables[n] for n in ("messages", "attachments", "submissions", "photos", "outbox",
                                                   "reminders"))
    t0 = "2017-09-01T00:00:00+00:00"
    with engine.begin() as conn:
        old.create_all(conn)
        conn.execute(old.tables["meta"].insert().values(key="schema_version", value="3"))
        for pk, received in ((1, "2017-09-25T02:00:00+00:00"), (2, "2018-10-05T03:00:00+00:00"),
                             (3, "2018-10-06T03:00:00+00:00")):
            conn.execute(m.insert().values(id=pk, raw_sha256=f"{pk:064x}", size=1, received_at=received,
                                           outcome="recorded", reference=f"HTSD2017-{pk:04d}", created_at=t0,
                                           updated_at=t0))
            conn.execute(a.insert().values(id=pk, message_pk=pk, filename="f", sha256="ab" * 32, size=1,
                                           filetype="docx", role="document"))
        for pk, form in ((1, "mau1"), (2, "mau2")):
            conn.execute(s.insert().values(message_pk=pk, attachment_id=pk, unit_id=PHU_BAI, form=form,
                                           status="accepted", received_at=t0, late=False,
                                           document=json.dumps({"form": form}), created_at=t0, updated_at=t0))
        conn.execute(p.insert().values(message_pk=3, attachment_id=3, unit_id=PHU_BAI, filename="a.jpg",
                                       sha256="cd" * 32))
        conn.execute(ob.insert().values(id=1, dedupe_key="receipt:1", kind="receipt", message_pk=1,
                                        recipient="a@example.org", subject="s", raw=b"x", status="sent",
                                        attempts=1, next_attempt_at=t0, created_at=t0))
        conn.execute(ob.insert().values(id=2, dedupe_key=f"reminder:{PHU_BAI}:mau2:-1", kind="reminder",
                                        unit_id=PHU_BAI, recipient="a@example.org", subject="s", raw=b"x",
                                        status="sent", attempts=1, next_attempt_at=t0, created_at=t0))
        conn.execute(ob.insert().values(id=3, dedupe_key="digest:2017-09-25", kind="digest",
                                        recipient="staff@example.org", subject="s", raw=b"x", status="sent",
                                        attempts=1, next_attempt_at=t0, created_at=t0))
        conn.execute(rem.insert().values(unit_id=PHU_BAI, form="mau2", offset_days=-1,
                                         due_at="2017-10-12T00:30:00+00:00", status="sent", outbox_id=2,
                                         decided_at="2017-10-12T00:30:00+00:00"))
    engine.dispose()

    app = two_campaigns(tmp_path, "2018-10-10T10:00")
    try:
        with app.store.read() as conn:
            version = conn.execute(sa.select(st.meta.c.value).where(st.meta.c.key == "schema_version")).scalar()
            assert version == str(st.SCHEMA_VERSION)  # 4, then on to the current version
            # version 6: the index an idle poll finds unflagged messages by
            assert "ix_message_locations_unflagged" in {
                i["name"] for i in sa.inspect(conn).get_indexes("message_locations")}
            subs = dict(conn.execute(sa.select(st.submissions.c.message_pk, st.submissions.c.campaign)).all())
            photos = conn.execute(sa.select(st.photos.c.campaign)).scalars().all()
            letters = dict(conn.execute(sa.select(st.outbox.c.id, st.outbox.c.campaign)).all())
            reminders = conn.execute(sa.select(st.reminders.c.campaign, st.reminders.c.unit_id)).all()
        # by the day each message arrived (and its forms)
        assert subs == {1: "htsd-2017", 2: "htsd-2018"}
        assert photos == ["htsd-2018"]
        assert letters == {1: "htsd-2017", 2: "htsd-2017", 3: None}
        assert reminders == [("htsd-2017", PHU_BAI)]
        with app.store.transaction() as conn:  # the same unit, form and offset in another campaign: a new row
            conn.execute(st.reminders.insert().values(
                campaign="htsd-2018", unit_id=PHU_BAI, form="mau2", offset_days=-1,
                due_at="2018-10-11T00:30:00+00:00", status="sent", decided_at="2018-10-11T00:30:00+00:00"))
        data = json.loads(staff.status_json(app))
        phu_bai = next(u for u in data["units"] if u["id"] == PHU_BAI)
        assert (phu_bai["mau1"]["status"], phu_bai["mau2"]["status"]) == ("missing", "received")
        data = json.loads(staff.status_json(app.for_campaign("htsd-2017")))
        phu_bai = next(u for u in data["units"] if u["id"] == PHU_BAI)
        assert (phu_bai["mau1"]["status"], phu_bai["mau2"]["status"]) == ("received", "missing")
    finally:
        app.close()
    again = two_campaigns(tmp_path, "2018-10-10T10:00")  # a second start is a no-op
    again.close()


def test_a_passed_deadline_blocks_the_check_only_before_any_unit_has_sent_anything(tmp_path):
    from mailbot import campaign_check

    app = two_campaigns(tmp_path, "2018-10-01T10:00")  # Mẫu 1 was due on 27/9/2018
    try:
        assert any("hạn gửi 23:59 ngày 27/9/2018 đã qua" in x for x in campaign_check.check(app).blocking)
        with app.store.transaction() as conn:
            pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2018-09-26T09:00",
                             unit_id=PHU_BAI)
            add_submission(conn, app, pk, "lich.docx", mau1_doc(), unit_id=PHU_BAI, received="2018-09-26T09:00")
        assert campaign_check.check(app).blocking == []
    finally:
        app.close()


def test_the_digest_covers_every_open_campaign_and_says_whose_form_is_whose(tmp_path):
    raw = config_dict(tmp_path)
    other = campaign_2018(raw)
    other.update(id="thi-dua-2018", name="Đợt thi đua năm học 2018", opens="2018-09-15", closes="2018-12-31")
    other["forms"] = [dict(other["forms"][0], deadline="2018-11-20T23:59:59+07:00", deadline_text=None)]
    other["forms"][0].pop("deadline_text")
    other.pop("rules")
    raw["campaigns"] = [campaign_2018(raw), other]
    app = open_app(cfgmod.from_dict(raw, base_dir=tmp_path), Clock("2018-10-05T18:00"))
    try:
        text = digest.render_digest(app)
        assert ("Tiêu đề: Tình hình tiếp nhận báo cáo ngày 5 tháng 10 năm 2018 – Đợt thi đua năm học 2018; "
                "Tuần lễ hưởng ứng học tập suốt đời năm 2018") in text
        assert "Mẫu 1 (Lịch hoạt động) – Đợt thi đua năm học 2018, hạn gửi" in text
        assert "Mẫu 1 (Lịch hoạt động) – Tuần lễ hưởng ứng học tập suốt đời năm 2018, hạn gửi" in text
        assert "Mẫu 2 (Báo cáo kết quả) – Tuần lễ hưởng ứng học tập suốt đời năm 2018, hạn gửi" in text
        assert "Kính gửi: Cán bộ phụ trách các đợt báo cáo," in text
        assert "năm 2017" not in text  # closed: not in the digest
        # alone, a campaign's digest names no campaign beside its forms
        alone = digest.render_digest(two_campaigns(tmp_path / "b", "2018-10-05T18:00"))
        assert "Mẫu 1 (Lịch hoạt động), hạn gửi" in alone
        assert "Kính gửi: Cán bộ phụ trách Tuần lễ hưởng ứng học tập suốt đời năm 2018," in alone
    finally:
        app.close()


def test_a_message_in_overlapping_campaigns_goes_to_the_one_whose_form_it_carries(tmp_path):
    """Two campaigns open the same days: each message is read with the definitions of the campaign
    that knows its form, whichever is tried first."""
    import mailbox as stdmailbox
    import os

    from mailbot import jobs
    from tests.docxgen import list_docx, mau2_docx
    from tests.mailgen import make_mail

    raw = config_dict(tmp_path)
    guong = campaign_2018(raw)
    guong.update(id="guong-2017", name="Gương điển hình học tập năm 2017", opens="2017-10-01", closes="2017-12-31")
    guong["forms"] = [{"id": "guong_dien_hinh", "title": "Danh sách gương điển hình học tập",
                       "deadline": "2017-11-20T23:59:59+07:00"}]
    guong.pop("rules")
    raw["campaigns"] = [guong]
    box = stdmailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for name, data in (("bc.docx", mau2_docx("Trung tâm HTCĐ phường Phú Bài", {"ke_hoach": 1, "to_roi": 80}, {},
                                              "3/BC", "2017-10-12")),
                       ("ds.docx", list_docx("Trung tâm HTCĐ phường Phú Bài",
                                             [(1, "Nguyễn Văn An", "Tổ 3", "Tự học tin học")]))):
        key = box.add(make_mail("tthtcd.phubai@example.org", "Gửi báo cáo", [(name, data)]))
        t = at("2017-10-12T09:00").timestamp()
        os.utime(tmp_path / "Maildir" / box._lookup(key), (t, t))
    app = open_app(cfgmod.from_dict(raw, base_dir=tmp_path), Clock("2017-10-12T10:00"))
    try:
        assert app.config.campaign.id == "guong-2017"  # opened last: the current one, tried first
        jobs.poll_once(app)
        with app.store.read() as conn:
            got = {(s.form, s.campaign, s.status, s.unit_id) for s in st.submission_rows(conn)}
            refs = conn.execute(sa.select(st.messages.c.reference)).scalars().all()
        assert got == {("mau2", "htsd-2017", "accepted", PHU_BAI),
                       ("guong_dien_hinh", "guong-2017", "accepted", PHU_BAI)}
        assert sorted(r[:8] for r in refs) == ["GUONG201", "HTSD2017"]  # each message, its campaign's prefix
    finally:
        app.close()


def test_a_daemon_started_in_one_campaign_digests_the_next_one_when_the_clock_gets_there(tmp_path):
    clock = Clock("2017-10-12T17:30")
    raw = config_dict(tmp_path)
    raw["campaigns"] = [campaign_2018(raw)]
    app = open_app(cfgmod.from_dict(raw, base_dir=tmp_path), clock)
    try:
        assert app.config.campaign.id == "htsd-2017"
        clock.set("2018-10-11T17:30")  # the daemon ran on; 2018 is the one open now
        assert digest.queue_digest(app)
        with app.store.read() as conn:
            raw_digest = conn.execute(sa.select(st.outbox.c.raw).where(st.outbox.c.kind == "digest")).scalar()
        import email as email_
        from email import policy as policy_

        msg = email_.message_from_bytes(raw_digest, policy=policy_.default)
        assert msg["Subject"].endswith("– Tuần lễ hưởng ứng học tập suốt đời năm 2018")
        text = msg.get_body(("plain",)).get_content()
        assert "Kính gửi: Cán bộ phụ trách Tuần lễ hưởng ứng học tập suốt đời năm 2018," in text
        [sheet] = [p for p in msg.iter_attachments() if p.get_filename().endswith(".xlsx")]
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(sheet.get_content()))
        head = " ".join(str(c.value or "") for row in wb.worksheets[0].iter_rows(max_row=6) for c in row).upper()
        assert "NĂM 2018" in head and "2017" not in head
    finally:
        app.close()


def test_review_names_each_items_campaign_and_can_keep_to_one(tmp_path):
    app = two_campaigns(tmp_path, "2018-09-20T10:00")
    doubt = [{"code": "unit_unknown", "message": "không rõ đơn vị"}]
    with app.store.transaction() as conn:
        app17 = app.for_campaign("htsd-2017")
        pk = add_message(conn, app17, from_addr="la@gmail.com", received="2017-10-12T09:00", unit_id=None)
        old = add_submission(conn, app17, pk, "bc-2017.docx", mau2_doc(to_roi=1), unit_id=None,
                             status="needs_review", received="2017-10-12T09:00", review=doubt)
        app18 = app.for_campaign("htsd-2018")
        pk = add_message(conn, app18, from_addr="la@gmail.com", received="2018-09-20T09:00", unit_id=None)
        new = add_submission(conn, app18, pk, "lich-2018.docx", mau1_doc(), unit_id=None,
                             status="needs_review", received="2018-09-20T09:00", review=doubt)
    with app.store.read() as conn:
        refs = {r.id: r.reference for r in st.submission_rows(conn)}
    text = staff.review_text(app)
    assert "Đợt báo cáo: Tuần lễ hưởng ứng học tập suốt đời năm 2017 (htsd-2017)" in text
    assert "Đợt báo cáo: Tuần lễ hưởng ứng học tập suốt đời năm 2018 (htsd-2018)" in text
    assert text.index(refs[old]) < text.index("(htsd-2017)") < text.index(refs[new]) < text.index("(htsd-2018)")
    only = staff.review_text(app, "htsd-2018")
    assert refs[new] in only and refs[old] not in only and "Đợt báo cáo" not in only  # one campaign: no need to say
    assert [i["id"] for i in staff.review_items(app, "htsd-2017")] == [old]
    app.close()
