"""The daemon (`mailbot run`): intake, receipts, reminders and the digest, for weeks unattended.

Three parts, all in one process:

- an intake thread holding one long-lived mailbox: poll, then wait for news
  (IMAP IDLE, renewed by the mailbox) with a safety poll every
  `schedule.poll_seconds`; or a plain poll every `poll_seconds` without IDLE;
- an APScheduler 3 BackgroundScheduler for the outbox (every 30 s), the
  reminders (daily at each form's `send_at`) and the digest (daily at
  `digest.send_at`), each also run once at start to catch up: every job is
  idempotent and keeps its state in the database, so an in-memory job store
  is enough;
- the main thread, which waits for SIGTERM/SIGINT and then stops the others:
  the intake finishes the message in hand, the scheduler finishes its jobs.

One daemon per data directory and per database (mailbot.lock).

`mailbot run --now INSTANT` shifts only the application's idea of "now"
(deadlines, lateness, which reminders are due, the digest's day): the clock
starts at INSTANT and moves on in real time. The scheduler's triggers (07:30
reminders, 17:00 digest, the outbox every 30 s) keep firing at real times.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
import time
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from mailbot import digest, jobs, lock as lockmod, outbox
from parsers import convert
from mailbot import store as st
from mailbot import vn
from mailbot.app import App
from mailbot.mailbox import AuthenticationFailed, Mailbox, MailboxError, open_mailbox

log = logging.getLogger(__name__)

DELIVER_SECONDS = 30  # the outbox's own backoff decides what is actually due
BACKOFF_FIRST = 1.0  # seconds before the first reconnect; doubles up to BACKOFF_MAX
BACKOFF_MAX = 300.0
AUTH_RETRY = 600.0  # a refused login is retried this often (staff may fix the password)
OUTAGE_EVENT = 3600.0  # outages longer than this are recorded for the digest
MISFIRE_GRACE = 3600  # a daily job up to an hour late (suspend, busy machine) still runs
STOP_JOIN = 120.0  # how long a stop waits for the message in hand

# Held for every intake cycle: never two polls at once in this process.
intake_lock = threading.Lock()


class AlreadyRunning(lockmod.DataDirBusy):
    """Another mailbot daemon holds the data directory's lock."""


def run(app: App, verbose: bool = False) -> None:
    """Run until SIGTERM/SIGINT; returns normally (exit 0) after a clean stop."""
    lock = _acquire_lock(app)
    try:
        moving_clock(app)
        if not convert.available():
            log.warning("LibreOffice (soffice) is not installed: .doc, .odt and .rtf files cannot be read; "
                        "units sending them are asked for .docx (apt-get install libreoffice-writer-nogui)")
        due = outbox.retry_now(app)  # a restart is a natural moment to retry what waits for its backoff
        if due:
            log.info("%d queued message(s) will be sent now", due)
        Daemon(app, verbose, lock).run()
    finally:
        lock.close()  # closing the descriptor releases the flock


# ------------------------------------------------------------------ lock and clock

def _acquire_lock(app: App) -> lockmod.Held:
    """Hold the data directory's (and database's) lock for the life of the process; dying drops it."""
    try:
        return lockmod.take(app)
    except lockmod.DataDirBusy as exc:
        where = app.config.storage.data_dir if app.store.engine.dialect.name == "sqlite" else "its database"
        raise AlreadyRunning(f"another mailbot is already running on {where} ({exc.holder}); "
                             "stop it first (systemctl stop mailbot)", exc.holder) from None


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def moving_clock(app: App) -> None:
    """`--now` gives a frozen clock, fit for one-shot commands; a daemon needs one that moves."""
    start = app.clock()
    offset = start - _real_now()
    if abs(offset) < dt.timedelta(seconds=2):
        return
    app.clock = lambda: _real_now() + offset
    log.info("clock shifted: the application's time starts at %s (%+.0f s from real time); "
             "scheduled jobs still fire at real times", app.now().isoformat(timespec="seconds"),
             offset.total_seconds())


# ------------------------------------------------------------------ the daemon

class Daemon:
    """The threads of one `mailbot run` and the flag that stops them."""

    def __init__(self, app: App, verbose: bool = False, lock: lockmod.Held | None = None):
        if not verbose:
            # Without -v, a quiet day leaves a quiet log: the mailbox's "opened …" line
            # comes at every poll, APScheduler's "Adding job" at every start.
            logging.getLogger("apscheduler").setLevel(logging.WARNING)
            logging.getLogger("mailbot.mailbox").setLevel(logging.WARNING)
        self.app = app
        self.lock = lock
        self.lock_lost = False
        self.stop = threading.Event()
        self.health = MailboxHealth(app)
        self.scheduler = self._make_scheduler()
        self.intake = threading.Thread(target=self._intake_loop, name="intake", daemon=True)
        self.web = None  # mailbot.web.server.Background when [web] is configured

    def run(self) -> None:
        cfg = self.app.config
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            mode = ("IMAP IDLE, safety poll every %d s" if cfg.schedule.idle else "polling every %d s") \
                % cfg.schedule.poll_seconds
            log.info("mailbot running (pid %d): mailbox %s, %s; data in %s",
                     os.getpid(), cfg.mailbox.name, mode, cfg.storage.data_dir)
            self.scheduler.start()
            self.intake.start()
            if cfg.web_enabled:  # the staff site, in a thread beside the scheduler
                from mailbot.web.server import Background

                try:
                    self.web = Background(self.app)
                    self.web.start()
                except OSError as exc:  # the port is taken: the intake goes on without the site
                    log.error("the staff site cannot listen on %s:%s: %s; mailbot runs without it",
                              cfg.web.host, cfg.web.port, exc)
            while not self.stop.wait(1.0):
                if not self.intake.is_alive():  # cannot happen; if it does, let systemd restart us
                    self.scheduler.shutdown(wait=False)
                    raise RuntimeError("the intake thread ended unexpectedly; exiting so that mailbot is restarted")
            log.info("stopping: finishing the work in hand")
            if self.web is not None:
                self.web.close()
            self.scheduler.shutdown(wait=True)
            # Once the intake lock is free no message is in hand, and none will be: the
            # intake thread (a daemon thread) checks the stop flag before it polls, and
            # ends with the process, so an IDLE in progress does not delay the exit.
            if intake_lock.acquire(timeout=STOP_JOIN):
                intake_lock.release()  # the intake checks the stop flag before it polls again
            else:
                log.warning("the intake did not finish within %d s; leaving it (the next start completes it)",
                            STOP_JOIN)
            log.info("mailbot stopped")
            if self.lock_lost:
                raise RuntimeError("mất khóa trên cơ sở dữ liệu (máy chủ PostgreSQL khởi động lại hoặc mất kết nối); "
                                   "mailbot dừng để được khởi động lại và nhận khóa lại")
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def still_ours(self) -> bool:
        """Whether this daemon still holds the lock; if not, it stops (no fetching, no sending).

        On PostgreSQL the lock lives in one database session: a server restart or a
        network cut ends it, and another machine's mailbot may take it meanwhile.
        """
        if self.lock is None or not self.lock.lost():
            return True
        if not self.lock_lost:
            log.error("the database session holding the lock ended (server restart, network cut); "
                      "stopping: another mailbot may hold the lock now")
            self.lock_lost = True
        self.stop.set()
        return False

    def _on_signal(self, signum: int, _frame) -> None:
        if not self.stop.is_set():
            log.info("received %s", signal.Signals(signum).name)
        self.stop.set()

    # -- scheduled jobs

    def _make_scheduler(self) -> BackgroundScheduler:
        cfg = self.app.config
        tz = cfg.campaign.timezone
        scheduler = BackgroundScheduler(timezone=tz, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE})
        start = dt.datetime.now(tz)
        scheduler.add_job(_Job("deliver", jobs.deliver, self.app, self.still_ours), IntervalTrigger(seconds=DELIVER_SECONDS),
                          id="deliver", replace_existing=True, next_run_time=start)
        # One reminder job per distinct send_at; jobs.remind covers every form due at that moment.
        times = sorted({f.send_at for c in cfg.campaigns for f in c.forms})
        for i, t in enumerate(times):
            scheduler.add_job(_Job("remind", jobs.remind, self.app, self.still_ours), CronTrigger(hour=t.hour, minute=t.minute),
                              id=f"remind-{t:%H%M}", replace_existing=True,
                              # Catch up once at start (reminders missed while stopped).
                              **({"next_run_time": start} if i == 0 else {}))
        d = cfg.digest.send_at
        catch_up = digest.digest_due(self.app)  # today's hour has passed and it was not sent
        scheduler.add_job(_Job("digest", jobs.digest, self.app, self.still_ours), CronTrigger(hour=d.hour, minute=d.minute),
                          id="digest", replace_existing=True, **({"next_run_time": start} if catch_up else {}))
        return scheduler

    # -- intake

    def _intake_loop(self) -> None:
        """Poll, wait for news, poll again; on failure reconnect with backoff. Never dies."""
        sched = self.app.config.schedule
        box = open_mailbox(self.app.config.mailbox)
        due = 0.0  # monotonic time of the next poll
        try:
            while not self.stop.is_set():
                try:
                    if time.monotonic() >= due:
                        self._poll(box)
                        self.health.ok()
                        due = time.monotonic() + sched.poll_seconds
                    left = due - time.monotonic()
                    if sched.idle:
                        if box.wait(max(1.0, left)):  # the mailbox renews IDLE itself
                            due = 0.0
                    else:
                        self.stop.wait(max(0.0, left))
                except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                    box.close()
                    self.stop.wait(self.health.failed(exc))
                    due = 0.0
        finally:
            box.close()

    def _poll(self, box: Mailbox) -> None:
        with intake_lock:
            if self.stop.is_set() or not self.still_ours():
                return
            result = jobs.poll_once(self.app, box, stop=self.stop.is_set)
        if not result.did_something:
            log.debug("poll: %s", result)
        else:
            log.info("poll: %s", result)


class _Job:
    """A scheduled job: logs a failure once (not every 30 s) and the recovery."""

    def __init__(self, name: str, func: Callable[[App], "jobs.JobResult"], app: App,
                 allowed: Callable[[], bool] = lambda: True):
        self.name, self.func, self.app, self.allowed = name, func, app, allowed
        self.failing: str | None = None

    def __call__(self) -> None:
        if not self.allowed():  # the lock is gone: the daemon is stopping
            return
        try:
            result = self.func(self.app)
        except Exception as exc:  # noqa: BLE001 - a failing job must not kill the scheduler
            text = f"{type(exc).__name__}: {exc}"
            if text != self.failing:
                if isinstance(exc, jobs.JobFailed):
                    log.warning("%s failed: %s; will retry", self.name, exc)
                else:
                    log.exception("%s failed; will retry", self.name)
            self.failing = text
            return
        if self.failing:
            log.info("%s works again", self.name)
            self.failing = None
        if not result.did_something:
            log.debug("%s: %s", self.name, result)
        else:
            log.info("%s: %s", self.name, result)


# ------------------------------------------------------------------ outages

class MailboxHealth:
    """One outage of the mailbox at a time: logged once when it starts and once when it ends.

    A single dropped session that reconnects at once is not an outage (servers
    and NATs drop idle connections routinely). An outage longer than an hour is
    recorded as an event, so the staff digest reports it.
    """

    def __init__(self, app: App):
        self.app = app
        self.started: float | None = None  # monotonic
        self.started_at: dt.datetime | None = None  # for people
        self.failures = 0
        self.announced = False
        self.recorded = False

    def failed(self, exc: Exception) -> float:
        """Note one failed attempt; returns the seconds to wait before the next."""
        if self.started is None:
            self.started, self.started_at, self.failures = time.monotonic(), self.app.now(), 0
            self.announced = self.recorded = False
        self.failures += 1
        name = self.app.config.mailbox.name
        auth = _is_auth(exc)
        if auth:
            delay = AUTH_RETRY
            if not self.announced:
                log.error("mailbox %s refused the login: %s. Check the secret named by mailbox.password_env "
                          "(or the OAuth2 token); retrying every %d min", name, exc, AUTH_RETRY // 60)
                self.announced = True
        else:
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))
            if not self.announced and (self.failures >= 2 or not _is_connection(exc)):
                if _is_connection(exc):
                    log.warning("mailbox %s unreachable: %s; retrying with backoff (at most every %d min)",
                                name, exc, BACKOFF_MAX // 60)
                else:
                    log.exception("intake failed; retrying with backoff (at most every %d min)", BACKOFF_MAX // 60)
                self.announced = True
            else:
                log.debug("mailbox %s: %s; next attempt in %.0f s", name, exc, delay)
        if not self.recorded and time.monotonic() - self.started >= OUTAGE_EVENT:
            why = "máy chủ từ chối đăng nhập (sai mật khẩu hoặc mã truy cập)" if auth else f"lỗi: {exc}"
            self._event(f"Không đọc được hộp thư {self.app.config.mailbox.username or name} "
                        f"từ {_local(self.started_at)} ({why}). Thư đến trong thời gian này "
                        "sẽ được xử lý khi kết nối lại.")
            self.recorded = True
        return delay

    def ok(self) -> None:
        """A poll succeeded: close the outage, if there was one."""
        if self.started is None:
            return
        took = time.monotonic() - self.started
        name = self.app.config.mailbox.name
        if self.announced:
            log.info("mailbox %s reachable again after %s (%d failed attempt(s))",
                     name, _duration(took), self.failures)
        else:
            log.debug("mailbox %s: reconnected after %s", name, _duration(took))
        if self.recorded:
            self._event(f"Đã đọc lại được hộp thư {self.app.config.mailbox.username or name} lúc "
                        f"{_local(self.app.now())}, sau {vn.minutes(took)} gián đoạn.")
        self.started = None

    def _event(self, text: str) -> None:
        try:
            with self.app.store.transaction() as conn:
                st.record_event(conn, "outage", text, at=self.app.now())
        except Exception:  # noqa: BLE001 - a full disk must not stop the retries
            log.exception("could not record the outage event")


def _is_auth(exc: BaseException) -> bool:
    return isinstance(exc, AuthenticationFailed) or isinstance(exc.__cause__, AuthenticationFailed)


def _is_connection(exc: BaseException) -> bool:
    """Server down, DNS, network, a refused command: the mailbox's trouble, not a bug of ours."""
    return isinstance(exc, (MailboxError, OSError, jobs.JobFailed))


def _local(t: dt.datetime | None) -> str:
    return vn.short_moment(t) if t else "?"


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


