"""How long does the staff site take to make the board for a large district?

Fills a throwaway SQLite store with N roster units × 2 forms: most units have an
accepted Mẫu 1 and Mẫu 2 (a real parse output each, as the intake stores it), some
have a superseded earlier one, some wait for staff, some sent an unreadable file, the
rest owe theirs. Then asks the site for the board (`GET /`, signed in) through Flask's
test client, so the figure is the server's time (query, rules, template), not the
network's; and once through waitress over HTTP on 127.0.0.1 for comparison.

    python bench/bench_web.py            # 500 units, 2 forms
    python bench/bench_web.py 2000
"""
from __future__ import annotations

import csv
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailbot import store as st  # noqa: E402
from mailbot.web import auth, create_app  # noqa: E402
from mailbot.web.server import stop  # noqa: E402
from tests.appgen import config_dict  # noqa: E402
from tests.servers import free_port  # noqa: E402

MAU2 = {"form": "mau2", "unit_name": "", "report_number": "1/BC", "report_date": "2017-10-12",
        "indicators": {k: 3 for k in ("ke_hoach", "phong_su", "tin_bai_phat_thanh", "bao_tuong_bai_viet", "to_roi",
                                      "sach_tai_lieu", "pano_bang_ron", "hoi_thao", "hoi_thao_nguoi", "trien_lam",
                                      "trien_lam_luot", "van_nghe", "van_nghe_luot", "lop_chuyen_mon",
                                      "lop_chuyen_mon_luot", "lop_tin_hoc_ngoai_ngu", "lop_tin_hoc_ngoai_ngu_luot",
                                      "lop_nghe_ngan_han", "lop_nghe_ngan_han_luot", "lop_ky_nang_song",
                                      "lop_ky_nang_song_luot", "lop_nhu_cau", "lop_nhu_cau_luot")},
        "sections": {"chi_dao": "Đã xây dựng kế hoạch. " * 20, "thuan_loi_kho_khan": "Thuận lợi. " * 20,
                     "kien_nghi": ""}, "problems": []}
MAU1 = {"form": "mau1", "unit_name": "", "activities": [
    {"stt": i, "date": "2017-10-0%d" % (2 + i % 5), "start": "07:30", "end": None, "place": "Nhà văn hóa thôn",
     "content": "Tuyên truyền hưởng ứng Tuần lễ học tập suốt đời", "note": ""} for i in range(1, 9)], "problems": []}


def roster(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "kind", "emails", "aliases", "forms"])
        for i in range(n):
            kind = ("tthtcd", "school", "center")[i % 3]
            w.writerow([f"dv-{i:04d}", f"Đơn vị số {i} thị xã Hương Thủy", kind, f"dv{i}@example.org", "", "mau1;mau2"])


def fill(store: st.Store, n: int) -> int:
    """Returns the number of submissions."""
    msgs, atts, subs = [], [], []
    at = "2017-10-12T02:00:00+00:00"

    def add(unit: int, form: str, status: str, doc: dict, minute: int) -> None:
        k = len(msgs) + 1
        t = f"2017-10-12T02:{minute:02d}:00+00:00"
        msgs.append(dict(id=k, raw_sha256=f"{k:064x}", size=1000, from_addr=f"dv{unit}@example.org", received_at=t,
                         outcome="recorded", reference=f"HTSD2017-{k:04d}", unit_id=f"dv-{unit:04d}",
                         created_at=at, updated_at=at))
        atts.append(dict(id=k, message_pk=k, filename=f"{form} đơn vị {unit}.docx", sha256=f"{k:064x}", size=1000,
                         filetype="docx", role="document"))
        review = json.dumps([{"code": "unknown_sender", "message": "Địa chỉ gửi chưa có trong danh sách."}]) \
            if status == "needs_review" else None
        subs.append(dict(id=k, message_pk=k, attachment_id=k, unit_id=f"dv-{unit:04d}", form=form, status=status,
                         campaign="htsd-2017",
                         received_at=t, late=False, document=json.dumps(doc, ensure_ascii=False), review=review,
                         decided_by="intake", created_at=at, updated_at=at))

    for u in range(n):
        r = u % 10
        for form, doc in (("mau1", MAU1), ("mau2", MAU2)):
            if r < 6:
                if r == 0:
                    add(u, form, "superseded", doc, 1)
                add(u, form, "accepted", doc, 2)
            elif r == 6:
                add(u, form, "needs_review", doc, 3)
            elif r == 7:
                add(u, form, "rejected", {"form": None, "problems": [{"code": "corrupt_file", "message": "Hỏng"}]}, 4)
    with store.transaction() as c:
        c.execute(st.messages.insert(), msgs)
        c.execute(st.attachments.insert(), atts)
        c.execute(st.submissions.insert(), subs)
    return len(subs)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    from mailbot import config as cfgmod
    from mailbot.app import open_app

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        roster(tmp / "units.csv", n)
        raw = config_dict(tmp, web={"staff": ["canbo@example.org"]})
        raw["units_file"] = str(tmp / "units.csv")
        app = open_app(cfgmod.from_dict(raw, base_dir=tmp))
        count = fill(app.store, n)
        web = create_app(app)
        client = web.test_client()
        secret = auth.open_session(app, "canbo@example.org")
        client.set_cookie(auth.SESSION_COOKIE, secret)
        first = client.get("/")
        assert first.status_code == 200 and first.data.count(b"<tr data-unit=") == n, first.status_code
        times, cpu = [], []
        for _ in range(15):
            t, c = time.perf_counter(), time.process_time()
            r = client.get("/")
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            assert r.status_code == 200
        print(f"{n} units x 2 forms, {count} submissions; board page {len(first.data) / 1024:.0f} KiB")
        print(f"server time for GET / (Flask test client, 15 runs): median {statistics.median(times):.1f} ms, "
              f"best {min(times):.1f} ms, worst {max(times):.1f} ms; "
              f"CPU median {statistics.median(cpu):.1f} ms (the machine's other load left out)")

        from waitress.server import create_server

        port = free_port()
        server = create_server(web, host="127.0.0.1", port=port, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Cookie": f"{auth.SESSION_COOKIE}={secret}"})
        urllib.request.urlopen(req).read()
        over_http = []
        for _ in range(10):
            t = time.perf_counter()
            urllib.request.urlopen(req).read()
            over_http.append((time.perf_counter() - t) * 1000)
        print(f"GET / through waitress on 127.0.0.1 (10 runs): median {statistics.median(over_http):.1f} ms")
        stop(server)
        app.close()


if __name__ == "__main__":
    main()
