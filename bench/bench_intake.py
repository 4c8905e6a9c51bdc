"""How fast is `mailbot poll` against a real IMAP server, compared with mbsync?

One run starts a throwaway Dovecot and measures, over the same mailbox of
N realistic unit messages (a Mẫu 2 .docx and two ~1 MB noise JPEGs each):

1. floor: `mbsync` (isync) pulling the folder into a fresh local Maildir;
2. reference: a plain loop of imapclient FETCH (batches of 25) + mail-parser;
3. mailbot: `jobs.poll_once` on a fresh data dir (receipts written to a
   directory), messages/s, peak RSS, and the ratio to mbsync; with
   `--before DIR` the same poll also runs with the code in DIR (e.g. an
   export of main), taking turns with mbsync and the current code for
   `--rounds` rounds, so all share the machine's load alike;
4. peak RSS of a poll whose batch holds one 25 MB message among normal ones;
5. a poll that finds nothing new in a folder of 50,000 recorded messages,
   against the same poll of an empty folder.

Messages are written straight into the user's Maildir `new/` (much faster
than APPEND). The Python measurements run in child processes so each peak
RSS (VmHWM) is that of one job alone; for a poll, `tree MB` is the peak
of the summed RSS of the poll and all its descendants (reader workers,
their forkserver, LibreOffice), sampled every 20 ms (shared pages are
counted once per process, so it overstates), and `PSS` the same sum of
proportional set sizes (shared pages divided among the processes sharing
them: what the tree really holds). Run from the repository root:

    python bench/bench_intake.py [--messages 500] [--big-count 50000] [--seed fast|poll]
                                 [--only floor,loop,poll,big,empty] [--profile out.prof]
                                 [--before DIR] [--rounds 3] [--database sqlite|postgresql]
                                 [--settle 10] [--recycle MB]

Every timed run starts after a pause (`--settle`, 10 s): on some virtual
machines, page-cache pages freed moments before are far cheaper to write
into than the rest (bench_page_cache.py), so a run right after another
run's files were deleted would be measured on different terms. `--settle 0`
runs them back to back; `--recycle MB` fills and frees that much memory
after the pause, so each run writes into pages just freed.

With `--database postgresql` mailbot keeps its records in a throwaway
PostgreSQL cluster on 127.0.0.1 (tests/servers.py), one database per run.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A child may run another version of the code (--before DIR): BENCH_CODE names its tree, and
# PYTHONPATH too, for the reader workers: the forkserver imports them by PYTHONPATH, not our sys.path.
sys.path.insert(0, os.environ.get("BENCH_CODE") or str(ROOT))

TZ = dt.timezone(dt.timedelta(hours=7))
PHOTO_SIZE = (1600, 1200)  # noise at quality 70: about 1.06 MB, incompressible
PHOTO_POOL = 16


# ------------------------------------------------------------------ messages

def units() -> list[tuple[str, str]]:
    """(name, address) of the sample roster's units."""
    import csv

    with open(ROOT / "mailbot" / "samples" / "units.csv", encoding="utf-8") as f:
        return [(r["name"], r["emails"].split(";")[0]) for r in csv.DictReader(f)]


class Factory:
    """Builds unique unit messages fast, by hand, from pools of documents and photos.

    Each copy is made distinct (a .docx by its zip comment, a photo by bytes after
    the JPEG end marker; readers ignore both), so nothing is de-duplicated by hash,
    as with real mail. A photo's base64 is computed once: pool photos are padded
    to a multiple of 3 bytes, so base64(photo + tag) = base64(photo) + base64(tag).
    """

    def __init__(self, seed: int = 1):
        from tests.docxgen import mau2_docx, sample_values

        self.rnd = random.Random(seed)
        self.units = units()
        docs = [mau2_docx(name, sample_values(i), {}, report_number=f"{i + 1}/BC", report_date="2017-10-12")
                for i, (name, _) in enumerate(self.units)]
        assert all(d[-2:] == b"\x00\x00" for d in docs), "expected an empty zip comment"
        self.docs = docs
        self.photos = [_b64_padded(noise_jpeg(PHOTO_SIZE)) for _ in range(PHOTO_POOL)]
        self.n = 0

    def _tag(self) -> bytes:
        """12 unique bytes (a multiple of 3, so base64 appends cleanly)."""
        self.n += 1
        return self.n.to_bytes(6, "big") + self.rnd.randbytes(6)

    def docx(self, i: int) -> str:
        """A unit's document, distinct by its zip comment, as base64 (small: encoded each time)."""
        data = self.docs[i % len(self.docs)]
        tag = self._tag()
        return base64.b64encode(data[:-2] + len(tag).to_bytes(2, "little") + tag).decode()

    def photo(self) -> str:
        _, b64 = self.rnd.choice(self.photos)
        return b64 + base64.b64encode(self._tag()).decode()

    def unit_message(self, i: int, photos: int = 2) -> bytes:
        name, addr = self.units[i % len(self.units)]
        files = [("Mau 2 bao cao.docx", DOCX_TYPE, self.docx(i))]
        files += [(f"IMG_{i:05d}_{k}.jpg", "image/jpeg", self.photo()) for k in range(photos)]
        return mime(addr, name, f"Báo cáo Tuần lễ HTSĐ {i}", "Kính gửi Phòng GD&ĐT,\nĐơn vị gửi kèm báo cáo.",
                    files, self.n)

    def big_message(self, target: int = 25_000_000) -> bytes:
        """One unit's message of about `target` bytes: a form and many photos."""
        name, addr = self.units[0]
        files = [("Mau 2.docx", DOCX_TYPE, self.docx(0))]
        while sum(len(b) for _, _, b in files) < target:
            files.append((f"IMG_big_{len(files)}.jpg", "image/jpeg", self.photo()))
        return mime(addr, name, "Báo cáo kèm toàn bộ ảnh", "Gửi kèm toàn bộ ảnh.", files, self.n)

    def small_message(self, i: int) -> bytes:
        name, addr = self.units[i % len(self.units)]
        self.n += 1
        return mime(addr, name, f"Hỏi về báo cáo {i}", f"Kính gửi Phòng, câu hỏi số {i}.", [], self.n)


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _b64_padded(data: bytes) -> tuple[bytes, str]:
    """Pad with trailing spaces to a multiple of 3 bytes; (bytes, base64 without newlines)."""
    data += b" " * (-len(data) % 3)
    return data, base64.b64encode(data).decode()


def mime(addr: str, name: str, subject: str, body: str, files: list[tuple[str, str, str]], n: int) -> bytes:
    """A multipart/mixed message as a mail client writes it: a text part, then base64 attachments."""
    from email.header import Header
    from email.utils import format_datetime

    boundary = f"==bench{n:08d}=="
    date = format_datetime(dt.datetime(2017, 10, 2, 8, 0, tzinfo=TZ) + dt.timedelta(minutes=n))
    out = [
        f"From: {Header(name, 'utf-8').encode()} <{addr}>",
        "To: pgd.test@example.org",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        f"Date: {date}",
        f"Message-ID: <bench.{n}.{os.getpid()}@unit.example.org>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(body.encode()).decode().rstrip("\n"),
    ]
    for filename, ctype, b64 in files:
        out += [f"--{boundary}", f"Content-Type: {ctype}", "Content-Transfer-Encoding: base64",
                f'Content-Disposition: attachment; filename="{filename}"', ""]
        out += [b64[k:k + 76] for k in range(0, len(b64), 76)]
    out += [f"--{boundary}--", ""]
    return "\r\n".join(out).encode()


def noise_jpeg(size: tuple[int, int], taken: str = "2017:10:02 07:20:00") -> bytes:
    from PIL import Image

    im = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    exif = Image.Exif()
    exif[0x8769] = {0x9003: taken}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=70)
    return out.getvalue()


def fill_maildir(server, user: str, messages, start: dt.datetime = dt.datetime(2017, 10, 2, 8, 0, tzinfo=TZ)) -> int:
    """Write messages into the user's INBOX new/ as a delivery agent would; returns bytes written."""
    d = server.maildir(user)
    for sub in ("cur", "new", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    base = int(start.timestamp())
    for i, raw in enumerate(messages):
        name = f"{base + i}.M{i}P{os.getpid()}.bench,S={len(raw)}"
        path = d / "new" / name
        path.write_bytes(raw)
        os.utime(path, (base + i, base + i))
        total += len(raw)
    subprocess.run(["chown", "-R", "nobody:nogroup", str(server.path / "mail" / user)], check=True)
    return total


def warm(account) -> int:
    """Let Dovecot index the folder (new/ → cur/, uidlist, sizes) before anything is timed."""
    c = account.connect()
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search(["ALL"])
        for i in range(0, len(uids), 5000):
            c.fetch(uids[i:i + 5000], ["RFC822.SIZE", "INTERNALDATE"])
        return len(uids)
    finally:
        c.logout()


# ------------------------------------------------------------------ measuring

def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run this script in child mode; returns its JSON line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    # An older tree's child runs from that tree: the reader workers' forkserver puts its working
    # directory first on its path.
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=(env or {}).get("BENCH_CODE") or ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"child {args[:2]} failed ({r.returncode}):\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and output of an external command."""
    out = cwd / "out.txt"
    with open(out, "wb") as fh:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}):\n{text[-3000:]}")
    return secs, ru.ru_maxrss, text


def mbsync(account, work: Path) -> dict:
    """isync pulling INBOX into a fresh Maildir (its own defaults: fsync on)."""
    if os.path.exists(work):
        shutil.rmtree(work)
    local = work / "local"
    local.mkdir(parents=True)
    rc = work / "mbsyncrc"
    rc.write_text(f"""\
IMAPAccount bench
Host {account.host}
Port {account.port}
User {account.username}
Pass {account.password}
SSLType None
AuthMechs LOGIN

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path {local}/
Inbox {local}/INBOX

Channel bench
Far :bench-far:
Near :bench-near:
Patterns INBOX
Sync Pull
Create Near
SyncState *
""")
    secs, rss, _ = run_measured(["mbsync", "-q", "-c", str(rc), "bench"], work)
    count = sum(len(os.listdir(local / "INBOX" / s)) for s in ("cur", "new"))
    shutil.rmtree(local)
    return {"seconds": secs, "messages": count, "rss_kib": rss}


def before_run(a: argparse.Namespace) -> None:
    """The same start for every timed run: a pause (pages freed before it are taken back by the
    host of some virtual machines), then, with --recycle, memory filled and freed in a child."""
    time.sleep(a.settle)
    if a.recycle:
        subprocess.run([sys.executable, "-c", f"b = bytearray({a.recycle} << 20); b[::4096] = b'x' * len(b[::4096])"],
                       check=True)


def account_args(account) -> list[str]:
    return ["--host", account.host, "--port", str(account.port), "--user", account.username,
            "--password-env", account.password_env]


# ------------------------------------------------------------------ children

def vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int, cpu: dict[int, float] | None = None, pss: list[int] | None = None,
                 each: dict[int, int] | None = None) -> int:
    """Summed VmRSS of a process and all its descendants, now; records each one's CPU seconds in
    `cpu`, appends their summed PSS (shared pages divided among their users) to `pss` and puts
    each one's PSS in `each`."""
    total, todo, pss_total = 0, [pid], 0
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            if pss is not None:
                for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss_total += int(line.split()[1])
                        if each is not None:
                            each[p] = int(line.split()[1])
            if cpu is not None:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                cpu[p] = max(cpu.get(p, 0.0), (int(fields[11]) + int(fields[12])) / tick)
            for task in os.listdir(f"/proc/{p}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError, PermissionError):
            continue
    if pss is not None:
        pss.append(pss_total)
    return total


class TreePeak:
    """Samples tree_rss_kib(self) every `interval` seconds in a thread; .peak is the highest seen.

    Reading PSS costs the kernel a walk of each process's page tables (~1.4 ms a
    sample for the poll's tree): every 20 ms that took a third of the poll
    process's CPU, on the cores the poll runs on; every 100 ms, still ~4 % (perf).
    The throughput runs sample every 250 ms (their tree holds a steady size);
    the 25 MB run, whose peak is brief, every 20 ms.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        import threading

        self.peak = 0
        self.pss: list[int] = []
        self.cpu: dict[int, float] = {}  # pid → CPU seconds, last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._sample()
        finally:
            self.own_cpu = time.thread_time()  # what sampling cost the measured process

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            each: dict[int, int] = {}
            self.peak = max(self.peak, tree_rss_kib(os.getpid(), self.cpu, self.pss, each))
            del self.pss[:-1]  # keep the highest only
            if self.pss and self.pss[-1] > getattr(self, "pss_peak", 0):
                self.pss_peak = self.pss[-1]
                # Who held what at the peak: the poll process first, then its helpers by size.
                me = each.pop(os.getpid(), 0)
                self.pss_split = [me] + sorted(each.values(), reverse=True)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_kib(os.getpid(), self.cpu))
        return self.peak

    def helpers_cpu(self) -> float:
        """CPU seconds of the descendants (reader workers, forkserver, LibreOffice), as last sampled."""
        return sum(v for pid, v in self.cpu.items() if pid != os.getpid())


def child_loop(a: argparse.Namespace) -> dict:
    """The reference: fetch in batches of 25 and read each message with mail-parser."""
    import imapclient
    import mailparser

    t0 = time.perf_counter()
    c = imapclient.IMAPClient(a.host, port=a.port, ssl=False, timeout=60)
    c.login(a.user, os.environ[a.password_env])
    c.select_folder("INBOX", readonly=True)
    uids = c.search(["ALL"])
    n = attachments = 0
    for i in range(0, len(uids), 25):
        data = c.fetch(uids[i:i + 25], ["BODY.PEEK[]", "INTERNALDATE"])
        for uid in uids[i:i + 25]:
            mp = mailparser.parse_from_bytes(data[uid][b"BODY[]"])
            attachments += len(mp.attachments)
            n += 1
        del data
    c.logout()
    return {"seconds": time.perf_counter() - t0, "messages": n, "attachments": attachments,
            "rss_kib": vm_hwm_kib()}


def child_poll(a: argparse.Namespace) -> dict:
    """`mailbot poll` as staff run it (jobs.poll_once), `repeat` times on one data dir."""
    from mailbot import jobs
    from mailbot.config import MailboxConfig
    from tests.appgen import make_app

    cfg = MailboxConfig(kind="imap", host=a.host, port=a.port, security="none", username=a.user,
                        password_env=a.password_env, timeout=120.0)
    app = make_app(Path(a.data), mailbox=cfg, **_storage(a))
    times, summary = [], ""
    tree = TreePeak(a.sample_ms / 1000)
    profiler = None
    if a.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        summary = str(jobs.poll_once(app))
        times.append(time.perf_counter() - t0)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(a.profile)
    tree_kib = tree.stop()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    app.close()
    return {"seconds": times[0], "times": times, "summary": summary, "rss_kib": vm_hwm_kib(), "tree_kib": tree_kib,
            "tree_pss_kib": getattr(tree, "pss_peak", 0), "pss_split_kib": getattr(tree, "pss_split", []),
            "cpu_main": ru.ru_utime + ru.ru_stime, "cpu_helpers": tree.helpers_cpu(),
            "cpu_sampler": getattr(tree, "own_cpu", 0.0)}


def _storage(a: argparse.Namespace) -> dict:
    """make_app's [storage] override: the run's PostgreSQL database, else SQLite in the data dir."""
    if not a.database_url:
        return {}
    return {"storage": {"data_dir": str(Path(a.data) / "data"), "database": a.database_url}}


def child_seed(a: argparse.Namespace) -> dict:
    """Record every message of the folder as a finished poll would leave it: rows in
    messages and message_locations (flagged), the high-water UID, and the keyword
    on the server. Only what a poll that finds nothing new reads is faithful."""
    import imapclient
    import sqlalchemy as sa

    from mailbot import store as st
    from mailbot.config import MailboxConfig
    from tests.appgen import make_app

    cfg = MailboxConfig(kind="imap", host=a.host, port=a.port, security="none", username=a.user,
                        password_env=a.password_env)
    app = make_app(Path(a.data), mailbox=cfg, **_storage(a))
    t0 = time.perf_counter()
    c = imapclient.IMAPClient(a.host, port=a.port, ssl=False, timeout=120)
    c.login(a.user, os.environ[a.password_env])
    info = c.select_folder("INBOX")
    uidvalidity = int(info[b"UIDVALIDITY"])
    uids = c.search(["ALL"])
    c.add_flags("1:*", [cfg.done_keyword], silent=True)
    c.logout()
    now = st.utc_iso(st.now_utc())
    received = st.utc_iso(dt.datetime(2017, 10, 2, 8, 0, tzinfo=TZ))
    with app.store.transaction() as conn:
        conn.execute(st.mailbox_state.insert().values(mailbox=cfg.name, folder=cfg.folder, uidvalidity=uidvalidity,
                                                      last_uid=max(uids), updated_at=now))
        conn.execute(st.messages.insert(), [
            dict(id=i + 1, raw_sha256=hashlib.sha256(f"seed-{u}".encode()).hexdigest(), size=1000,
                 received_at=received, outcome="no_attachment", reference=f"SEED-{i + 1}",
                 created_at=now, updated_at=now) for i, u in enumerate(uids)])
        conn.execute(st.message_locations.insert(), [
            dict(mailbox=cfg.name, folder=cfg.folder, uidvalidity=uidvalidity, uid=u, message_pk=i + 1,
                 flagged=True) for i, u in enumerate(uids)])
        count = conn.execute(sa.select(sa.func.count()).select_from(st.message_locations)).scalar()
    app.close()
    return {"seconds": time.perf_counter() - t0, "messages": count}


# ------------------------------------------------------------------ the run

def fmt_rate(n: int, secs: float) -> str:
    return f"{n / secs:.1f}" if secs > 0 else "-"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=500)
    p.add_argument("--big-count", type=int, default=50_000, help="messages in the already-recorded folder")
    p.add_argument("--seed", choices=("fast", "poll"), default="fast",
                   help="record the big folder by SQL inserts (fast) or by one real poll")
    p.add_argument("--only", default="floor,loop,poll,big,empty")
    p.add_argument("--repeat", type=int, default=5, help="polls of the empty and the recorded folder")
    p.add_argument("--profile", help="cProfile the 500-message poll into this file")
    p.add_argument("--before", help="a tree of older code (e.g. `git archive main`): its poll runs side by side")
    p.add_argument("--rounds", type=int, default=1, help="rounds of mbsync / poll (/ before) taking turns")
    p.add_argument("--settle", type=float, default=10.0, metavar="SECONDS",
                   help="pause before each timed run, 0 for back to back (see 'Memory the machine gave back' "
                        "in bench/README.md; default %(default)s)")
    p.add_argument("--recycle", type=int, default=0, metavar="MB",
                   help="then fill and free this much memory, so each timed run writes into pages just freed")
    p.add_argument("--no-warmup", dest="warmup", action="store_false",
                   help="time mbsync's first pass too (by default one untimed pass comes first)")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    # child mode
    p.add_argument("--child", choices=("loop", "poll", "seed"))
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--user")
    p.add_argument("--password-env")
    p.add_argument("--data")
    p.add_argument("--sample-ms", type=float, default=20.0)
    a = p.parse_args()

    if a.child:
        fn = {"loop": child_loop, "poll": child_poll, "seed": child_seed}[a.child]
        print(json.dumps(fn(a)))
        return

    from tests.servers import new_account, running_dovecot, running_postgres

    only = set(a.only.split(","))
    rows: list[tuple[str, str, str, str, str]] = []
    notes: list[str] = []
    stack = contextlib.ExitStack()
    databases: dict[str, str] = {}
    pg = stack.enter_context(running_postgres()) if a.database == "postgresql" else None

    def db(name: str) -> list[str]:
        """The child's --database-url: one PostgreSQL database per run (none on SQLite)."""
        if pg is None:
            return []
        if name not in databases:
            databases[name] = pg.create_database(f"bench_{name}")
        return ["--database-url", databases[name]]

    notes.append(f"records in {a.database}")
    runs = iter(range(1_000_000))
    root = Path(tempfile.mkdtemp(prefix="mailbot-bench-intake-"))
    root.chmod(0o755)
    try:
        with stack, running_dovecot(root / "dovecot") as server:
            t0 = time.perf_counter()
            f = Factory()
            main_user = new_account(server)
            size = fill_maildir(server, main_user.username, (f.unit_message(i) for i in range(a.messages)))
            warm(main_user)
            print(f"# {a.messages} messages, {size / 1e6:.0f} MB, written in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)

            def ratio(n: int, secs: float, floor: float | None) -> str:
                return f" ({n / secs / floor:.2f}× mbsync)" if floor else ""

            def poll_row(label: str, code: str | None, floor: float | None) -> None:
                env = dict(os.environ, BENCH_CODE=code, PYTHONPATH=code) if code else None
                before_run(a)
                extra = ["--profile", str(Path(a.profile).resolve())] if a.profile and not code else []
                r = run_child(["--child", "poll", *account_args(main_user), "--data", str(root / "poll"),
                               *db(f"poll{next(runs)}"), "--repeat", "1", "--sample-ms", "250", *extra], env=env)
                rows.append((label + ratio(a.messages, r["seconds"], floor), f"{a.messages}",
                             f"{r['seconds']:.2f}", fmt_rate(a.messages, r["seconds"]),
                             f"{r['rss_kib'] / 1024:.0f} / {r.get('tree_kib', r['rss_kib']) / 1024:.0f} / {r.get('tree_pss_kib', 0) / 1024:.0f}",
                             f"{r['cpu_main'] - r.get('cpu_sampler', 0):.1f} / {r['cpu_helpers']:.1f}"))
                notes.append(f"{label}: {r['summary']}")
                print(f"# {label}: {r}", file=sys.stderr)
                shutil.rmtree(root / "poll", ignore_errors=True)

            if "floor" in only and a.warmup:
                # Untimed: mbsync's first pass over a folder ran at half the speed of the next ones (its
                # writes went into memory the machine had not used yet; later passes reuse what the
                # previous run freed). Every timed run then starts from the same state.
                print(f"# warm-up mbsync (untimed): {mbsync(main_user, root / 'mbsync')}", file=sys.stderr)

            for rnd in range(1, a.rounds + 1):
                tag = f" [round {rnd}]" if a.rounds > 1 else ""
                floor = None
                if "floor" in only:
                    before_run(a)
                    r = mbsync(main_user, root / "mbsync")
                    floor = r["messages"] / r["seconds"]
                    rows.append(("mbsync (floor)" + tag, f"{r['messages']}", f"{r['seconds']:.2f}",
                                 fmt_rate(r["messages"], r["seconds"]), f"{r['rss_kib'] / 1024:.0f}"))
                    print(f"# mbsync: {r}", file=sys.stderr)

                if "loop" in only:
                    r = run_child(["--child", "loop", *account_args(main_user)])
                    rows.append(("imapclient + mail-parser" + tag + ratio(r["messages"], r["seconds"], floor),
                                 f"{r['messages']}", f"{r['seconds']:.2f}", fmt_rate(r["messages"], r["seconds"]),
                                 f"{r['rss_kib'] / 1024:.0f}"))
                    print(f"# loop: {r}", file=sys.stderr)

                if "poll" in only and a.before:
                    poll_row("mailbot poll, before" + tag, str(Path(a.before).resolve()), floor)
                if "poll" in only:
                    poll_row("mailbot poll" + tag, None, floor)

            if "big" in only:
                user = new_account(server)
                normal = 24
                msgs = [f.unit_message(10_000 + i) for i in range(normal)]
                big = f.big_message()
                msgs.insert(normal // 2, big)
                fill_maildir(server, user.username, msgs)
                warm(user)
                for label, code in ([("before", str(Path(a.before).resolve()))] if a.before else []) + [("", None)]:
                    env = dict(os.environ, BENCH_CODE=code, PYTHONPATH=code) if code else None
                    r = run_child(["--child", "poll", *account_args(user), "--data", str(root / "big"),
                                   *db(f"big{next(runs)}"), "--repeat", "1"], env=env)
                    rows.append((f"poll with one {len(big) / 1e6:.0f} MB message" + (f", {label}" if label else ""),
                                 f"{len(msgs)}", f"{r['seconds']:.2f}", fmt_rate(len(msgs), r["seconds"]),
                                 f"{r['rss_kib'] / 1024:.0f} / {r.get('tree_kib', r['rss_kib']) / 1024:.0f} / {r.get('tree_pss_kib', 0) / 1024:.0f}"))
                    notes.append(f"big{label and ' ' + label}: {r['summary']}; tree PSS at its peak, MB: poll "
                                 + " + ".join(f"{k / 1024:.0f}" for k in r.get("pss_split_kib", [])[:1])
                                 + ", helpers " + " + ".join(f"{k / 1024:.0f}" for k in r.get("pss_split_kib", [])[1:]))
                    print(f"# big {label}: {r}", file=sys.stderr)
                    shutil.rmtree(root / "big", ignore_errors=True)

            if "empty" in only:
                empty = new_account(server)
                fill_maildir(server, empty.username, [])
                r = run_child(["--child", "poll", *account_args(empty), "--data", str(root / "empty"), *db("empty"),
                               "--repeat", str(a.repeat)])
                rows.append(("poll, empty folder (median)", "0", f"{statistics.median(r['times']) * 1000:.1f} ms",
                             "-", f"{r['rss_kib'] / 1024:.0f}"))
                print(f"# empty: {r}", file=sys.stderr)

                full = new_account(server)
                t1 = time.perf_counter()
                fill_maildir(server, full.username, (f.small_message(i) for i in range(a.big_count)))
                warm(full)
                print(f"# {a.big_count} small messages written in {time.perf_counter() - t1:.1f} s", file=sys.stderr)
                data = str(root / "full")
                if a.seed == "fast":
                    s = run_child(["--child", "seed", *account_args(full), "--data", data, *db("full")])
                    notes.append(f"seeded {s['messages']} recorded messages by SQL in {s['seconds']:.1f} s")
                else:
                    s = run_child(["--child", "poll", *account_args(full), "--data", data, "--repeat", "1",
                                   *db("full")])
                    notes.append(f"seeded by one real poll in {s['seconds']:.1f} s "
                                 f"({fmt_rate(a.big_count, s['seconds'])} msg/s): {s['summary']}")
                    rows.append((f"poll of {a.big_count} small messages", f"{a.big_count}", f"{s['seconds']:.1f}",
                                 fmt_rate(a.big_count, s["seconds"]), f"{s['rss_kib'] / 1024:.0f}"))
                r = run_child(["--child", "poll", *account_args(full), "--data", data, "--repeat", str(a.repeat),
                               *db("full")])
                rows.append((f"poll, {a.big_count} recorded, none new (median)", "0",
                             f"{statistics.median(r['times']) * 1000:.1f} ms", "-", f"{r['rss_kib'] / 1024:.0f}"))
                notes.append(f"nothing new: {r['summary']}")
                print(f"# full: {r}", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    head = ("run", "messages", "seconds", "msg/s", "peak RSS MB (poll: process / tree RSS / tree PSS)",
            "CPU s (poll: process less the sampler / readers)")
    rows = [row + ("",) * (len(head) - len(row)) for row in rows]
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")
    for n in notes:
        print(f"- {n}")


if __name__ == "__main__":
    main()
