"""Transports for outgoing mail: an SMTP server, or a directory of .eml files.

The outbox decides what to send and when; a transport only moves bytes and
says whether a failure is worth retrying. SMTP is verified TLS (ssl or
starttls with the system's trust store); plain text only on loopback.
"""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Protocol

from mailbot.config import oauth2_token, LOOPBACK, ConfigError, SmtpConfig, secret


class SendError(Exception):
    """One message could not be handed over; `temporary` says whether a retry may help."""

    def __init__(self, text: str, temporary: bool):
        super().__init__(text)
        self.temporary = temporary


NO_SMTPUTF8 = ("địa chỉ người nhận có ký tự ngoài bảng mã ASCII (chữ có dấu) mà máy chủ gửi thư "
               "không hỗ trợ SMTPUTF8, nên không gửi được tới địa chỉ này")


class ConnectError(Exception):
    """The server could not be reached or refused us (login, TLS): nothing was sent, retry later."""


class Transport(Protocol):
    def send(self, mail_from: str, rcpts: list[str], raw: bytes, name: str) -> None: ...

    def close(self) -> None: ...


class SmtpTransport:
    """One SMTP session for a batch of messages."""

    def __init__(self, cfg: SmtpConfig):
        if cfg.security == "none" and cfg.host not in LOOPBACK:
            raise ConfigError(f"smtp.security = \"none\" is allowed only on loopback, not {cfg.host!r}")
        oauth = bool(cfg.oauth2_token_env or cfg.oauth2_token_command)
        if oauth and not cfg.username:
            raise ConfigError("smtp.username is required with OAuth2")
        try:
            if oauth:
                password = oauth2_token(cfg.oauth2_token_env, cfg.oauth2_token_command, "smtp")
            else:
                password = secret(cfg.password_env, "smtp.password_env") if cfg.username else None
        except ConfigError as exc:  # a missing secret or a failing token command: the mail waits, with a reason
            raise ConnectError(str(exc)) from None
        try:
            if cfg.security == "ssl":
                client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
                if cfg.security == "starttls":
                    client.ehlo()
                    client.starttls(context=ssl.create_default_context())
            client.ehlo_or_helo_if_needed()
            if cfg.username and oauth:
                xoauth2 = f"user={cfg.username}\x01auth=Bearer {password}\x01\x01"
                client.auth("XOAUTH2", lambda challenge=None: xoauth2 if challenge is None else "")
            elif cfg.username:
                client.login(cfg.username, password)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise ConnectError(describe(exc)) from exc
        self.client = client

    def send(self, mail_from: str, rcpts: list[str], raw: bytes, name: str) -> None:
        options: list[str] = []
        if not all(a.isascii() for a in (mail_from, *rcpts)):
            # An address such as người.gửi@example.org (RFC 6531) needs the server's SMTPUTF8.
            if not self.client.has_extn("smtputf8"):
                raise SendError(NO_SMTPUTF8, temporary=False)
            options = ["SMTPUTF8"] + (["BODY=8BITMIME"] if self.client.has_extn("8bitmime") else [])
        try:
            self.client.sendmail(mail_from, rcpts, raw, mail_options=options)  # some refused, others took it: sent
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            temporary = any(400 <= c < 500 for c in codes)
            raise SendError(describe(exc), temporary) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendError(describe(exc), 400 <= exc.smtp_code < 500) from exc
        except (OSError, smtplib.SMTPException) as exc:  # disconnects, timeouts
            raise SendError(describe(exc), True) from exc
        except Exception as exc:  # e.g. an address smtplib cannot encode: this message alone fails
            try:
                self.client.rset()  # a transaction left open would refuse the next message
            except (OSError, smtplib.SMTPException):
                pass
            raise SendError(describe(exc), temporary=False) from exc

    def close(self) -> None:
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            self.client.close()


class DirectoryTransport:
    """Writes each message as <dir>/<name>.eml (demo and dry runs); written atomically."""

    def __init__(self, directory: str):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def send(self, mail_from: str, rcpts: list[str], raw: bytes, name: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.dir / f"{name}.eml")
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise SendError(describe(exc), True) from exc

    def close(self) -> None:
        pass


def connect(cfg: SmtpConfig) -> Transport:
    """Open the configured transport; raises ConnectError when the server is unreachable."""
    if cfg.kind == "directory":
        if not cfg.directory:
            raise ConfigError("smtp.directory is required when smtp.kind = \"directory\"")
        return DirectoryTransport(cfg.directory)
    return SmtpTransport(cfg)


def describe(exc: BaseException) -> str:
    """A one-line description of a delivery error, for last_error and the digest."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items()]
        return "recipients refused: " + "; ".join(parts)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, socket.timeout):
        return "timeout"
    return f"{type(exc).__name__}: {exc}"[:500]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
