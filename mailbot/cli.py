"""The `mailbot` command: thin — parse arguments, load the config, call one function.

Exit codes (CONTRACT.md): 0 success, 1 a handled failure (one line on
stderr), 2 bad usage or bad configuration.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from mailbot import config as cfgmod
from mailbot.config import Config, ConfigError


class Failure(click.ClickException):
    """A handled failure: one line on stderr, exit 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"mailbot: {self.format_message()}", err=True)


class BadConfig(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"mailbot: configuration: {self.format_message()}", err=True)


def _parse_now(value: str | None) -> dt.datetime | None:
    value = value or os.environ.get("MAILBOT_NOW")
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 instant: {value!r}", param_hint="--now") from None
    if t.tzinfo is None:
        raise click.BadParameter("the instant needs an offset, e.g. 2017-09-27T10:00:00+07:00", param_hint="--now")
    return t


now_option = click.option("--now", "now", metavar="ISO-INSTANT",
                          help="Pretend the clock reads this instant (or set MAILBOT_NOW).")


class Ctx:
    def __init__(self, config_path: str | None, verbose: bool):
        self.config_path = config_path
        self.verbose = verbose
        self._config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = cfgmod.load(cfgmod.find_config(self.config_path))
            except ConfigError as exc:
                raise BadConfig(str(exc)) from None
        return self._config

    def app(self, now: str | None = None):
        from mailbot.app import fixed_clock, open_app

        instant = _parse_now(now)
        try:
            return open_app(self.config(), fixed_clock(instant) if instant else None)
        except OSError as exc:
            raise Failure(f"cannot open the data directory: {exc}") from None


pass_ctx = click.make_pass_decorator(Ctx)


class _Group(click.Group):
    """Turns the failures a command cannot foresee into one line on stderr and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        import jinja2
        import sqlalchemy.exc

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except ConfigError as exc:
            raise BadConfig(str(exc)) from None
        except OSError as exc:
            raise Failure(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)) from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise Failure(f"database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
        except jinja2.TemplateError as exc:
            raise Failure(f"template: {exc}") from None
        except RuntimeError as exc:
            raise Failure(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar=None,
              help="Configuration file (default ./mailbot.toml, then $MAILBOT_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="More detail in the log.")
@click.version_option(package_name="mailbot")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """mailbot: reads the forms units email in, answers them, reminds the late, reports.

    Every command but `parse` and `demo` reads the configuration
    (see config.example.toml). Secrets come from environment variables.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("imapclient", "apscheduler.executors", "PIL", "mail-parser", "mailparser"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    ctx.obj = Ctx(config_path, verbose)


def _job(ctx: Ctx, now: str | None, call: Callable, dry_run: bool = False) -> None:
    """Run one job of mailbot.jobs under the data directory's lock and print its summary.

    JobFailed is a handled failure (exit 1); so is a running daemon, which does
    the same work itself (two intake cycles or two senders never overlap).
    """
    from mailbot import jobs, lock as lockmod

    app = ctx.app(now)
    try:
        lock = None if dry_run else lockmod.take(app)
        try:
            click.echo(call(jobs, app))
        finally:
            if lock:
                lock.close()
    except lockmod.DataDirBusy as exc:
        raise Failure(f"{exc}: the daemon does this itself; stop it first to run it by hand") from None
    except jobs.JobFailed as exc:
        raise Failure(str(exc)) from None
    finally:
        app.close()


def _emit(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        click.echo(output)
    else:
        click.echo(text)


# ---------------------------------------------------------------- parse

@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def parse(ctx: Ctx, file: str) -> None:
    """Parse one document (no mailbox, no database) and print its JSON.

    Uses the campaign of the configuration when one is found (for the year
    and the week), else the built-in 2017 campaign.
    """
    import parsers
    from mailbot.app import parse_context

    context = parsers.ParseContext()
    try:
        context = parse_context(ctx.config())
    except BadConfig:
        if ctx.config_path:
            raise
    data = Path(file).read_bytes()
    doc = parsers.parse(data, context)
    click.echo(json.dumps(doc.to_json(), ensure_ascii=False, indent=2))


# ---------------------------------------------------------------- intake

@main.command()
@now_option
@pass_ctx
def poll(ctx: Ctx, now: str | None) -> None:
    """One intake cycle: fetch every new message, archive, parse, record, send receipts; then exit."""
    _job(ctx, now, lambda jobs, app: jobs.poll_once(app))


@main.command()
@now_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_ctx
def status(ctx: Ctx, now: str | None, as_json: bool) -> None:
    """Every unit, each form: received / missing / needs review / late; then the bot's health."""
    from mailbot import staff

    app = ctx.app(now)
    try:
        click.echo(staff.status_json(app) if as_json else staff.status_text(app))
    finally:
        app.close()


@main.command()
@pass_ctx
def review(ctx: Ctx) -> None:
    """List the submissions and messages that need a person, with what to decide."""
    from mailbot import staff

    app = ctx.app()
    try:
        click.echo(staff.review_text(app))
    finally:
        app.close()


@main.command()
@click.argument("reference", metavar="MÃ_HỒ_SƠ")
@click.option("--unit", "unit", metavar="ĐƠN_VỊ",
              help="Đơn vị được tính: mã đơn vị, tên trong danh sách hoặc tên gọi khác.")
@click.option("--remember", is_flag=True, help="Ghi nhớ địa chỉ gửi là địa chỉ của đơn vị này.")
@click.option("--force", is_flag=True,
              help="Cho phép chuyển một hồ sơ đã ghi nhận sang đơn vị khác (việc chuyển được ghi lại).")
@pass_ctx
def accept(ctx: Ctx, reference: str, unit: str | None, remember: bool, force: bool) -> None:
    """Cán bộ quyết định: ghi nhận hồ sơ (cho ĐƠN_VỊ).

    MÃ_HỒ_SƠ là mã ghi trên thư báo nhận (HTSD2017-0042), hoặc mã của từng
    tệp khi một thư có nhiều tệp (HTSD2017-0042-2); "mailbot review" ghi sẵn
    lệnh cần chạy.
    """
    from mailbot import staff

    app = ctx.app()
    try:
        click.echo(staff.accept(app, staff.resolve_id(app, reference), unit, remember, force=force))
    except staff.DecisionError as exc:
        raise Failure(str(exc)) from None
    finally:
        app.close()


def _reason(ctx: click.Context, param: click.Parameter, value: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise click.BadParameter("cần ghi lý do (không để trống)")
    return text


@main.command()
@click.argument("reference", metavar="MÃ_HỒ_SƠ")
@click.option("--reason", required=True, callback=_reason, metavar="LÝ_DO",
              help="Lý do không ghi nhận (lưu cùng hồ sơ; không để trống).")
@pass_ctx
def reject(ctx: Ctx, reference: str, reason: str) -> None:
    """Cán bộ quyết định: hồ sơ không được ghi nhận; lý do được lưu lại.

    MÃ_HỒ_SƠ là mã ghi trên thư báo nhận (HTSD2017-0042), hoặc mã của từng
    tệp khi một thư có nhiều tệp (HTSD2017-0042-2).
    """
    from mailbot import staff

    app = ctx.app()
    try:
        click.echo(staff.reject(app, staff.resolve_id(app, reference), reason))
    except staff.DecisionError as exc:
        raise Failure(str(exc)) from None
    finally:
        app.close()


@main.command()
@pass_ctx
def reprocess(ctx: Ctx) -> None:
    """Parse every archived message again with today's parsers; never re-sends a receipt."""
    from mailbot import staff

    app = ctx.app()
    try:
        click.echo(staff.reprocess(app))
    finally:
        app.close()


# ---------------------------------------------------------------- outputs

@main.command()
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), required=True)
@click.option("-o", "output", metavar="FILE", help="Write here instead of stdout (required for xlsx).")
@now_option
@pass_ctx
def export(ctx: Ctx, fmt: str, output: str | None, now: str | None) -> None:
    """The archive's records: units, submissions, photos (CONTRACT.md)."""
    from mailbot import report

    app = ctx.app(now)
    try:
        if fmt == "json":
            _emit(json.dumps(report.export_json(app), ensure_ascii=False, indent=2), output)
        elif fmt == "csv":
            _emit(report.export_csv(app), output)
        else:
            if not output:
                raise click.UsageError("--format xlsx needs -o FILE.xlsx")
            report.export_xlsx(app, Path(output))
            click.echo(output)
    finally:
        app.close()


@main.command(name="report")
@click.option("-o", "output", metavar="FILE.xlsx|.docx|.json|.zip",
              help="Default: JSON on stdout. A .zip holds every unit's photos for the report's annex.")
@now_option
@pass_ctx
def report_cmd(ctx: Ctx, output: str | None, now: str | None) -> None:
    """The consolidated Mẫu 2 totals across units, for the town and the province."""
    from mailbot import report

    app = ctx.app(now)
    try:
        if not output or output.endswith(".json"):
            _emit(json.dumps(report.report_json(app), ensure_ascii=False, indent=2), output)
        elif output.endswith(".xlsx"):
            report.report_xlsx(app, Path(output))
            click.echo(output)
        elif output.endswith(".docx"):
            report.report_docx(app, Path(output))
            click.echo(output)
        elif output.endswith(".zip"):
            counts = report.photos_zip(app, Path(output))
            missing = f"; {len(counts['absent'])} missing from the archive" if counts["absent"] else ""
            click.echo(f"{output}: {counts['photos']} photos of {counts['units']} units{missing}")
        else:
            raise click.UsageError("-o must end in .xlsx, .docx, .json or .zip (the photos, one folder per unit)")
    finally:
        app.close()


@main.command()
@click.option("-o", "output", metavar="FILE.xlsx|.ics", required=True)
@now_option
@pass_ctx
def schedule(ctx: Ctx, output: str, now: str | None) -> None:
    """Every unit's Mẫu 1 activities by day, for the inspection teams."""
    from mailbot import report

    app = ctx.app(now)
    try:
        if output.endswith(".xlsx"):
            report.schedule_xlsx(app, Path(output))
        elif output.endswith(".ics"):
            report.schedule_ics(app, Path(output))
        else:
            raise click.UsageError("-o must end in .xlsx or .ics")
        click.echo(output)
    finally:
        app.close()


# ---------------------------------------------------------------- notices

@main.command()
@click.option("--dry-run", is_flag=True, help="Print the emails that would be sent; send none.")
@now_option
@pass_ctx
def remind(ctx: Ctx, dry_run: bool, now: str | None) -> None:
    """Send the reminders that are due now (each at most once)."""
    _job(ctx, now, lambda jobs, app: jobs.remind(app, dry_run=dry_run), dry_run=dry_run)


@main.command()
@click.option("--dry-run", is_flag=True, help="Print the digest; send nothing.")
@now_option
@pass_ctx
def digest(ctx: Ctx, dry_run: bool, now: str | None) -> None:
    """Build and send the staff digest for the current day."""
    _job(ctx, now, lambda jobs, app: jobs.digest(app, dry_run=dry_run), dry_run=dry_run)


@main.command()
@now_option
@pass_ctx
def deliver(ctx: Ctx, now: str | None) -> None:
    """Send the queued mail in the outbox now (the daemon does this on its own)."""
    _job(ctx, now, lambda jobs, app: jobs.deliver(app))


# ---------------------------------------------------------------- daemon

@main.command()
@now_option
@pass_ctx
def run(ctx: Ctx, now: str | None) -> None:
    """The daemon: intake, receipts, reminders and the digest on schedule, until SIGTERM/SIGINT."""
    from mailbot import daemon

    app = ctx.app(now)
    try:
        daemon.run(app, verbose=ctx.verbose)
    except daemon.AlreadyRunning as exc:
        raise Failure(str(exc)) from None
    finally:
        app.close()


@main.command()
@click.option("--out", "out_dir", metavar="DIR", help="Keep the outputs here (default: a new temporary folder).")
def demo(out_dir: str | None) -> None:
    """The embedded default: a throwaway mailbox with sample submissions, one full cycle, and where the outputs landed."""
    from mailbot import demo as demomod

    demomod.run_demo(Path(out_dir) if out_dir else None, echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    main()
