"""The `mailbot` command: thin — parse arguments, load the config, call one function.

Exit codes: 0 success, 1 a handled failure (one line on stderr), 2 bad
usage or bad configuration. Everything a staff member reads here (help,
summaries, errors) is Vietnamese; the log may stay English.
"""
from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable

import click

from mailbot import cli_text
from mailbot import config as cfgmod
from mailbot.config import Config, ConfigError

cli_text.install()


class Failure(click.ClickException):
    """A handled failure: one line on stderr, exit 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"mailbot: {self.format_message()}", err=True)


class BadConfig(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"mailbot: cấu hình: {self.format_message()}", err=True)


def _parse_now(value: str | None) -> dt.datetime | None:
    value = value or os.environ.get("MAILBOT_NOW")
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"không phải thời điểm ISO 8601: {value!r}", param_hint="--now") from None
    if t.tzinfo is None:
        raise click.BadParameter("thời điểm cần ghi cả múi giờ (offset), ví dụ 2017-09-27T10:00:00+07:00",
                                 param_hint="--now")
    return t


campaign_option = click.option(
    "--campaign", "campaign", metavar="MÃ_ĐỢT",
    help="Đợt báo cáo (id trong [campaign] hoặc [[campaigns]]); mặc định: đợt hiện tại — đợt đang nhận thư "
         "(opens–closes chứa hôm nay) bắt đầu muộn nhất, nếu không có thì đợt vừa kết thúc gần nhất; trước khi có đợt nào bắt đầu: đợt bắt đầu sớm nhất.")

now_option = click.option("--now", "now", metavar="THỜI_ĐIỂM",
                          help="Coi đồng hồ đang ở thời điểm này, dạng ISO 8601 có múi giờ "
                               "(2017-09-27T10:00:00+07:00), để thử các thời hạn; hoặc đặt biến MAILBOT_NOW.")


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

    def app(self, now: str | None = None, campaign: str | None = None):
        from mailbot.app import fixed_clock, open_app

        instant = _parse_now(now)
        config = self.config()
        if campaign is not None and config.find_campaign(campaign) is None:
            raise click.BadParameter(f"không có đợt báo cáo {campaign!r}; các đợt: "
                                     f"{', '.join(c.id for c in config.campaigns)}", param_hint="--campaign")
        try:
            return open_app(config, fixed_clock(instant) if instant else None, campaign=campaign)
        except OSError as exc:
            raise Failure(f"không mở được thư mục dữ liệu: {_os_error(exc)}") from None


pass_ctx = click.make_pass_decorator(Ctx)


_ERRNO_WORDS = {
    errno.ENOENT: "không có tệp hoặc thư mục này",
    errno.EACCES: "không có quyền truy cập",
    errno.EPERM: "không được phép",
    errno.ENOSPC: "ổ đĩa đã đầy",
    errno.EISDIR: "đây là một thư mục",
    errno.ENOTDIR: "không phải thư mục",
    errno.EROFS: "ổ đĩa chỉ đọc",
    errno.EEXIST: "đã có",
}


def _os_error(exc: OSError) -> str:
    """An operating-system error as staff read it: what went wrong, then the path."""
    words = _ERRNO_WORDS.get(exc.errno or 0, exc.strerror or str(exc))
    return f"{words}: {exc.filename}" if exc.filename else words


class _Command(click.Command):
    """A command whose usage line is Vietnamese too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", "[TÙY_CHỌN]")
        super().__init__(*args, **kwargs)


class _Group(click.Group):
    """Turns the failures a command cannot foresee into one line on stderr and exit 1."""

    command_class = _Command

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
            raise Failure(_os_error(exc)) from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise Failure(f"cơ sở dữ liệu: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
        except jinja2.TemplateError as exc:
            raise Failure(f"mẫu thư (templates) có lỗi: {exc}") from None
        except RuntimeError as exc:
            raise Failure(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             options_metavar="[TÙY_CHỌN]", subcommand_metavar="LỆNH [THAM_SỐ]...")
@click.option("--config", "config_path", metavar="TỆP", envvar=None,
              help="Tệp cấu hình (mặc định ./mailbot.toml, sau đó biến MAILBOT_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Ghi nhật ký chi tiết hơn.")
@click.version_option(package_name="mailbot")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """mailbot: tiếp nhận báo cáo các đơn vị gửi qua thư điện tử, gửi thư báo nhận,
    nhắc đơn vị chưa gửi và lập báo cáo tổng hợp.

    Mọi lệnh (trừ parse và demo) đọc tệp cấu hình (xem config.example.toml).
    Mật khẩu lấy từ biến môi trường, không ghi trong tệp. Xem hướng dẫn của
    từng lệnh: mailbot LỆNH --help.
    """
    # What mailbot writes (data directory, database, archive, outputs) is private to whoever runs it,
    # whatever the shell's umask; restored when the command ends (tests call main() in one process).
    previous = os.umask(0o077)
    ctx.call_on_close(lambda: os.umask(previous))
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
        raise Failure(f"một tiến trình mailbot khác ({exc.holder}) đang làm việc trên dữ liệu này "
                      f"({app.config.storage.data_dir}); chương trình chạy nền (mailbot run) tự làm việc này; "
                      "muốn chạy tay, hãy dừng nó trước (systemctl stop mailbot)") from None
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
@click.argument("file", metavar="TỆP", type=click.Path(exists=True, dir_okay=False))
@now_option
@campaign_option
@pass_ctx
def parse(ctx: Ctx, file: str, now: str | None, campaign: str | None) -> None:
    """Đọc một văn bản (không cần hộp thư, không ghi dữ liệu) và in kết quả dạng JSON.

    Dùng đợt báo cáo trong tệp cấu hình nếu có (để biết năm, tuần lễ và các
    mẫu của đợt), nếu không thì dùng đợt năm 2017 có sẵn.
    """
    import parsers
    from mailbot import campaigns
    from mailbot.app import parse_context

    context = parsers.ParseContext()
    try:
        config = ctx.config()
    except BadConfig:
        if ctx.config_path or campaign:
            raise
    else:
        if campaign is not None and config.find_campaign(campaign) is None:
            raise click.BadParameter(f"không có đợt báo cáo {campaign!r}; các đợt: "
                                     f"{', '.join(c.id for c in config.campaigns)}", param_hint="--campaign")
        instant = _parse_now(now) or dt.datetime.now(dt.timezone.utc)
        context = parse_context(config.with_campaign(campaign or campaigns.current(config.campaigns, instant)))
    data = Path(file).read_bytes()
    doc = parsers.parse(data, context)
    click.echo(json.dumps(doc.to_json(), ensure_ascii=False, indent=2))


# ---------------------------------------------------------------- intake

@main.command()
@now_option
@pass_ctx
def poll(ctx: Ctx, now: str | None) -> None:
    """Nhận thư một lượt: tải mọi thư mới, lưu trữ, đọc, ghi nhận, gửi thư báo nhận; rồi thoát."""
    _job(ctx, now, lambda jobs, app: jobs.poll_once(app))


@main.command()
@now_option
@campaign_option
@click.option("--json", "as_json", is_flag=True, help="In dạng JSON (cho chương trình khác) thay cho bảng.")
@pass_ctx
def status(ctx: Ctx, now: str | None, campaign: str | None, as_json: bool) -> None:
    """Tình hình từng đơn vị, từng mẫu: đã nhận / chưa nhận / cần xem xét / trễ hạn; và tình trạng hoạt động."""
    from mailbot import staff

    app = ctx.app(now, campaign)
    try:
        click.echo(staff.status_json(app) if as_json else staff.status_text(app))
    finally:
        app.close()


@main.command()
@click.option("--campaign", "campaign", metavar="MÃ_ĐỢT",
              help="Chỉ các hồ sơ của đợt báo cáo này (và các thư lỗi, chưa rõ đợt); mặc định: mọi đợt, "
                   "mỗi hồ sơ ghi rõ đợt của nó khi có nhiều đợt.")
@pass_ctx
def review(ctx: Ctx, campaign: str | None) -> None:
    """Các hồ sơ và thư cần cán bộ quyết định, kèm lệnh cần chạy cho từng việc.

    Mã hồ sơ đã chỉ rõ đợt báo cáo, nên "mailbot accept" và "mailbot reject"
    không cần --campaign.
    """
    from mailbot import staff

    app = ctx.app(None, campaign)
    try:
        click.echo(staff.review_text(app, campaign))
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
@click.option("--include-failed", is_flag=True,
              help="Đọc lại cả những thư đã hai lần làm dừng chương trình đọc tệp (vượt giới hạn bộ nhớ "
                   "hoặc thời gian).")
@pass_ctx
def reprocess(ctx: Ctx, include_failed: bool) -> None:
    """Đọc lại toàn bộ thư đã lưu bằng chương trình hiện tại và cập nhật hồ sơ; không gửi thư nào."""
    from mailbot import reprocess as rep

    app = ctx.app()
    try:
        click.echo(rep.reprocess(app, include_failed=include_failed))
    finally:
        app.close()


# ---------------------------------------------------------------- outputs

@main.command()
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), required=True,
              help="Định dạng: json, csv hoặc xlsx (Excel).")
@click.option("-o", "output", metavar="TỆP", help="Ghi ra tệp này thay cho màn hình (bắt buộc với xlsx).")
@now_option
@campaign_option
@pass_ctx
def export(ctx: Ctx, fmt: str, output: str | None, now: str | None, campaign: str | None) -> None:
    """Xuất dữ liệu đã ghi nhận của một đợt báo cáo: đơn vị, hồ sơ, hình ảnh."""
    from mailbot import report

    app = ctx.app(now, campaign)
    try:
        if fmt == "json":
            _emit(json.dumps(report.export_json(app), ensure_ascii=False, indent=2), output)
        elif fmt == "csv":
            _emit(report.export_csv(app), output)
        else:
            if not output:
                raise click.UsageError("--format xlsx cần -o TỆP.xlsx")
            report.export_xlsx(app, Path(output))
            click.echo(output)
    finally:
        app.close()


@main.command(name="report")
@click.option("-o", "output", metavar="TỆP.xlsx|.docx|.json|.zip",
              help="Mặc định: JSON trên màn hình. Tệp .zip chứa hình ảnh của từng đơn vị cho phụ lục báo cáo.")
@now_option
@campaign_option
@pass_ctx
def report_cmd(ctx: Ctx, output: str | None, now: str | None, campaign: str | None) -> None:
    """Báo cáo tổng hợp của các đơn vị trong một đợt báo cáo, để báo cáo thị xã và tỉnh.

    Mẫu có số liệu được cộng; lịch hoạt động và danh sách được liệt kê theo đơn vị
    (trong tệp .docx: ở phần phụ lục)."""
    from mailbot import report

    app = ctx.app(now, campaign)
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
            missing = f"; {len(counts['absent'])} ảnh không còn trong kho lưu trữ" if counts["absent"] else ""
            click.echo(f"{output}: {counts['photos']} ảnh của {counts['units']} đơn vị{missing}")
        else:
            raise click.UsageError("-o phải là tệp .xlsx, .docx, .json hoặc .zip (hình ảnh, mỗi đơn vị một thư mục)")
    finally:
        app.close()


@main.command()
@click.option("-o", "output", metavar="TỆP.xlsx|.ics", required=True,
              help="Tệp cần ghi: .xlsx (Excel) hoặc .ics (lịch).")
@now_option
@campaign_option
@pass_ctx
def schedule(ctx: Ctx, output: str, now: str | None, campaign: str | None) -> None:
    """Lịch hoạt động của các đơn vị (mọi mẫu lịch hoạt động của đợt) theo ngày, cho các đoàn kiểm tra."""
    from mailbot import report

    app = ctx.app(now, campaign)
    try:
        if output.endswith(".xlsx"):
            report.schedule_xlsx(app, Path(output))
        elif output.endswith(".ics"):
            report.schedule_ics(app, Path(output))
        else:
            raise click.UsageError("-o phải là tệp .xlsx hoặc .ics")
        click.echo(output)
    finally:
        app.close()


# ---------------------------------------------------------------- campaigns

@main.group(name="campaign", cls=_Group, options_metavar="[TÙY_CHỌN]", subcommand_metavar="LỆNH [THAM_SỐ]...")
def campaign_group() -> None:
    """Các đợt báo cáo trong cấu hình: liệt kê, kiểm tra trước khi nhận thư."""


@campaign_group.command(name="list")
@now_option
@pass_ctx
def campaign_list(ctx: Ctx, now: str | None) -> None:
    """Các đợt báo cáo đã cấu hình, đợt hiện tại và các đợt đang nhận thư."""
    from mailbot import campaigns

    instant = _parse_now(now) or dt.datetime.now(dt.timezone.utc)
    for info in campaigns.listing(ctx.config().campaigns, instant):
        marks = [w for w, on in (("hiện tại", info.current), ("đang nhận thư", info.open)) if on]
        click.echo(f"{info.id}\t{info.name}\t{info.opens.isoformat()} – {info.closes.isoformat()}"
                   + (f"\t({', '.join(marks)})" if marks else ""))


@campaign_group.command(name="check")
@now_option
@campaign_option
@pass_ctx
def campaign_check(ctx: Ctx, now: str | None, campaign: str | None) -> None:
    """Kiểm tra một đợt báo cáo trước khi đơn vị gửi thư: tệp định nghĩa, biểu mẫu trống, hạn gửi,
    chỉ tiêu, địa chỉ của đơn vị, mẫu thư. Thoát với mã 1 khi còn điều phải sửa."""
    from mailbot import campaign_check as checking

    app = ctx.app(now, campaign)
    try:
        findings = checking.check(app)
        click.echo(checking.text(findings))
    finally:
        app.close()
    if not findings.ready:
        raise Failure(f"đợt báo cáo {findings.campaign.id} chưa sẵn sàng: {len(findings.blocking)} điều cần sửa")


# ---------------------------------------------------------------- notices

@main.command()
@click.option("--dry-run", is_flag=True, help="Chỉ in các thư sẽ gửi; không gửi thư nào.")
@now_option
@pass_ctx
def remind(ctx: Ctx, dry_run: bool, now: str | None) -> None:
    """Gửi các thư nhắc đã đến giờ (mỗi thư nhắc gửi nhiều nhất một lần)."""
    _job(ctx, now, lambda jobs, app: jobs.remind(app, dry_run=dry_run), dry_run=dry_run)


@main.command()
@click.option("--dry-run", is_flag=True, help="Chỉ in bản tin; không gửi.")
@now_option
@pass_ctx
def digest(ctx: Ctx, dry_run: bool, now: str | None) -> None:
    """Lập và gửi bản tin trong ngày cho cán bộ phụ trách."""
    _job(ctx, now, lambda jobs, app: jobs.digest(app, dry_run=dry_run), dry_run=dry_run)


@main.command()
@now_option
@pass_ctx
def deliver(ctx: Ctx, now: str | None) -> None:
    """Gửi ngay các thư đang chờ gửi (chương trình chạy nền tự làm việc này)."""
    _job(ctx, now, lambda jobs, app: jobs.deliver(app))


# ---------------------------------------------------------------- daemon

@main.command()
@now_option
@pass_ctx
def run(ctx: Ctx, now: str | None) -> None:
    """Chạy nền: nhận thư, gửi thư báo nhận, thư nhắc và bản tin theo lịch, đến khi được lệnh dừng.

    Khi tệp cấu hình có mục [web], phục vụ luôn trang cán bộ (như "mailbot web").
    """
    from mailbot import daemon

    app = ctx.app(now)
    try:
        daemon.run(app, verbose=ctx.verbose)
    except daemon.AlreadyRunning as exc:
        raise Failure(f"một mailbot khác đang chạy trên thư mục dữ liệu {app.config.storage.data_dir} "
                      f"({exc.holder}); hãy dừng nó trước (systemctl stop mailbot)") from None
    finally:
        app.close()


@main.command()
@click.option("--host", metavar="ĐỊA_CHỈ",
              help="Địa chỉ nghe (mặc định: [web] host, 127.0.0.1: chỉ máy này; 0.0.0.0: cả mạng nội bộ).")
@click.option("--port", type=click.IntRange(1, 65535), metavar="CỔNG", help="Cổng (mặc định: [web] port, 8080).")
@now_option
@pass_ctx
def web(ctx: Ctx, host: str | None, port: int | None, now: str | None) -> None:
    """Trang cán bộ: xem tình hình nộp, quyết định hồ sơ cần xem xét, tải báo cáo, xem thư đã nhận.

    Cán bộ đăng nhập bằng đường dẫn gửi qua thư tới địa chỉ có trong [web] staff
    (mặc định: người nhận bản tin). "mailbot run" cũng phục vụ trang này khi tệp
    cấu hình có mục [web].
    """
    from mailbot import daemon
    from mailbot.web import server

    app = ctx.app(now)
    if host is not None and not app.config.web.base_url and cfgmod.wildcard_host(host):
        raise Failure(f"--host {host} mở trang cho cả mạng: cần ghi [web] base_url (địa chỉ cán bộ gõ để mở "
                      "trang, dùng trong đường dẫn đăng nhập gửi qua thư, ví dụ \"http://192.168.1.10:8080\")")
    daemon.moving_clock(app)  # sign-in links and sessions expire in moving time
    try:
        try:
            srv = server.make_server(app, host, port)
        except OSError as exc:
            raise Failure(f"không mở được cổng {port or app.config.web.port}: {_os_error(exc)}") from None
        click.echo(f"Trang cán bộ: {server.address(srv)} (dừng: Ctrl+C)")

        def stop(signum, frame):  # waitress ends its loop and its request threads on SystemExit
            raise SystemExit(0)

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            srv.run()
        except KeyboardInterrupt:
            srv.task_dispatcher.shutdown()
        finally:
            signal.signal(signal.SIGTERM, previous)
            srv.close()
    finally:
        app.close()


@main.command()
@click.option("--out", "out_dir", metavar="THƯ_MỤC",
              help="Lưu kết quả vào thư mục này (mặc định: một thư mục tạm mới).")
def demo(out_dir: str | None) -> None:
    """Chạy thử trên dữ liệu mẫu: một hộp thư mẫu với báo cáo của các đơn vị, một lượt xử lý đầy đủ,
    và nơi lưu các kết quả."""
    from mailbot import demo as demomod

    demomod.run_demo(Path(out_dir) if out_dir else None, echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    main()
