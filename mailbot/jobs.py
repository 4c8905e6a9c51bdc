"""The jobs the CLI and the daemon run: each one step, recorded in `runs`.

Commands and the scheduler call these and nothing deeper, so `mailbot poll`
by hand and the daemon's poll are the same code.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from mailbot import digest as digestmod, intake, outbox, reminders
from mailbot.app import App, Run
from mailbot.config import ConfigError
from mailbot.mailbox import Mailbox, MailboxError, open_mailbox

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """A job could not do its work (server unreachable, login refused); nothing was lost."""


@dataclass(frozen=True)
class JobResult:
    """What a job did: a one-line summary for people, and whether it did anything (for quiet logs)."""

    summary: str
    did_something: bool

    def __str__(self) -> str:
        return self.summary


def poll_once(app: App, mailbox: Mailbox | None = None, stop: Callable[[], bool] | None = None) -> JobResult:
    """Fetch and record every new message, then send what is queued.

    With `mailbox` given (the daemon's long-lived connection) it is not closed.
    """
    own = mailbox is None
    with Run(app, "poll") as run:
        box = mailbox or open_mailbox(app.config.mailbox)
        try:
            result = intake.poll(app, box, stop)
        except MailboxError as exc:
            raise JobFailed(f"hộp thư: {exc}") from exc
        except ConfigError as exc:
            raise JobFailed(str(exc)) from exc
        finally:
            if own:
                box.close()
        run.stats = result.as_dict()
    try:
        sent = deliver(app)
    except JobFailed as exc:  # intake succeeded; the receipts wait in the outbox
        log.warning("receipts not sent now: %s", exc)
        sent = JobResult(f"chưa gửi được thư: {exc}", False)
    return JobResult(f"tải về {result.fetched} thư (ghi nhận {result.recorded}, trùng {result.duplicates}, "
                     f"lỗi {result.failed}); {sent}", bool(result.fetched) or sent.did_something)


def deliver(app: App) -> JobResult:
    """Send the outbox's due mail over SMTP (or into the configured directory)."""
    with Run(app, "deliver") as run:
        try:
            stats = outbox.deliver_due(app)
        except ConfigError as exc:  # e.g. the SMTP password variable is not set: nothing is lost
            raise JobFailed(f"máy chủ gửi thư: {exc}") from exc
        run.stats = stats.as_dict()
    return JobResult(delivery_text(stats), bool(stats.sent or stats.deferred or stats.failed or stats.cancelled))


def delivery_text(stats: outbox.DeliveryStats) -> str:
    """What a sending round did, as staff read it."""
    text = (f"đã gửi {stats.sent} thư, chờ gửi lại {stats.deferred}, không gửi được {stats.failed}, "
            f"tạm giữ {stats.waiting}")
    return text + (f", huỷ {stats.cancelled} thư nhắc (đơn vị đã gửi)" if stats.cancelled else "")


def remind(app: App, dry_run: bool = False) -> JobResult:
    """Queue (and send) the reminders due now; with dry_run, print them instead."""
    if dry_run:
        return JobResult(reminders.render_due_reminders(app), False)
    with Run(app, "remind") as run:
        count = reminders.queue_due_reminders(app)
        run.stats = {"queued": count}
    sent = deliver(app)
    made = f"lập {count} thư nhắc" if count else "không có thư nhắc nào đến hạn"
    return JobResult(f"{made}; {sent}", bool(count) or sent.did_something)


def digest(app: App, dry_run: bool = False) -> JobResult:
    """Queue (and send) today's staff digest; with dry_run, print it instead."""
    if dry_run:
        return JobResult(digestmod.render_digest(app), False)
    with Run(app, "digest") as run:
        queued = digestmod.queue_digest(app)
        run.stats = {"queued": queued}
    sent = deliver(app)
    if queued:
        made = "đã lập bản tin hôm nay"
    elif not app.config.digest.to:
        made = "không lập bản tin: chưa có người nhận (digest.to)"
    else:
        made = "bản tin hôm nay đã được lập trước đó"
    return JobResult(f"{made}; {sent}", bool(queued) or sent.did_something)
