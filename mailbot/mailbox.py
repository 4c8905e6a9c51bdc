"""The mailbox: one small interface, two backends (IMAP via imapclient, and Maildir).

The rest of mailbot only sees `Mailbox`, `FetchedMessage` and the errors
below, so the intake logic is the same for a real IMAP server, the demo's
Maildir and the fast tests. Messages are addressed by (UIDVALIDITY, UID);
nothing here ever deletes mail or sets \\Seen unless configured to.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import json
import logging
import mailbox as stdlib_mailbox
import os
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import imapclient
from imapclient import exceptions as imap_exc

from mailbot.config import ConfigError, MailboxConfig, oauth2_token, secret
from mailbot.message import header_block

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ errors

class MailboxError(Exception):
    """A mailbox operation failed for a reason that is not one of the subclasses
    (a command the server refused, an unverifiable TLS certificate, a bad setting)."""


class ConnectionLost(MailboxError):
    """The connection is gone or never came up: refused, network drop, BYE,
    socket timeout, server restart. Close the mailbox and retry later."""


class AuthenticationFailed(MailboxError):
    """The server refused the login (wrong password, expired or revoked token),
    or the secret is not available. Retrying will not help: staff must act."""


class FolderMissing(MailboxError):
    """The configured folder does not exist on the server (or the Maildir is missing)."""


# ------------------------------------------------------------------ interface

@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes  # the whole message, or only its header when `truncated`
    internal_date: dt.datetime  # timezone-aware; the server's INTERNALDATE with its offset
    size: int = 0  # the whole message's size in bytes
    truncated: bool = False  # over the size limit: only the header was downloaded


class Mailbox:
    """The interface the intake uses; see ImapMailbox and MaildirMailbox."""

    name: str
    folder: str

    def open(self) -> int:
        """Connect, log in and select the folder; returns its UIDVALIDITY."""
        raise NotImplementedError

    def new_uids(self, last_uid: int) -> list[int]:
        """UIDs above last_uid, ascending."""
        raise NotImplementedError

    def fetch(self, uids: list[int], max_bytes: int | None = None) -> Iterator[FetchedMessage]:
        """The raw messages in UID order, without marking them read; vanished UIDs are skipped.

        A message over `max_bytes` comes with its header only (`truncated`): it is
        recorded and answered, never downloaded whole.
        """
        raise NotImplementedError

    def mark_done(self, uids: list[int]) -> None:
        """Mark messages as processed (keyword, move or Gmail label); never deletes."""
        raise NotImplementedError

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived (True) or timeout passed (False)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection; never raises."""
        raise NotImplementedError

    def __enter__(self) -> "Mailbox":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_mailbox(cfg: MailboxConfig) -> Mailbox:
    """The backend for cfg.kind, not yet opened."""
    if cfg.kind == "maildir":
        return MaildirMailbox(cfg)
    if cfg.kind == "imap":
        return ImapMailbox(cfg)
    raise MailboxError(f"mailbox.kind must be imap or maildir, not {cfg.kind!r}")


def _aware(d: dt.datetime) -> dt.datetime:
    """imapclient's FixedOffset → a plain datetime.timezone (naive means UTC)."""
    off = d.utcoffset()
    return d.replace(tzinfo=dt.timezone(off) if off is not None else dt.timezone.utc)


def _read_maildir_file(path: Path, max_bytes: int | None) -> tuple[bytes, int, float]:
    """(bytes, whole size, mtime); over max_bytes, only the header block is read."""
    with open(path, "rb") as f:
        st_ = os.fstat(f.fileno())
        if max_bytes is None or st_.st_size <= max_bytes:
            return f.read(), st_.st_size, st_.st_mtime
        head = f.read(256 * 1024)
    return header_block(head), st_.st_size, st_.st_mtime


# ------------------------------------------------------------------ IMAP

IDLE_RENEW = 9 * 60  # RFC 2177: servers may drop an IDLE after 30 min; NATs sooner
SEARCH_WINDOW = 100_000  # UIDs per UID SEARCH: imaplib caps a response line at 1 MB
NOOP_POLL = 15.0  # servers without IDLE
FETCH_BATCH_BYTES = 16 * 1024 * 1024  # bodies fetched in one command (and held in memory at once)


class ImapMailbox(Mailbox):
    """An IMAP folder through imapclient; every library error becomes a MailboxError."""

    def __init__(self, cfg: MailboxConfig):
        self.cfg = cfg
        self.name = cfg.name
        self.folder = cfg.folder
        self.uidvalidity: int | None = None
        self.is_gmail = False
        self._client: imapclient.IMAPClient | None = None
        self._max_uid = 0  # highest UID new_uids has seen; wait() compares against it
        self._secret: str | None = None  # only to scrub it from server messages

    # -- errors

    def _scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        where = f"{self.cfg.host}:{self.cfg.port}"
        try:
            yield
        except MailboxError:
            raise
        except imap_exc.LoginError as e:
            raise AuthenticationFailed(f"{where}: login as {self.cfg.username} refused: {self._scrub(str(e))}") from None
        except ssl.SSLCertVerificationError as e:
            raise MailboxError(f"{where}: the TLS certificate could not be verified: {e.verify_message}") from None
        except (imaplib.IMAP4.abort, OSError, EOFError) as e:
            # imaplib.IMAP4.abort: BYE or EOF; OSError covers socket.timeout and ssl.SSLError.
            raise ConnectionLost(f"{where}: connection lost during {what}: {self._scrub(str(e)) or type(e).__name__}") from None
        except (imaplib.IMAP4.error, imap_exc.IMAPClientError) as e:
            raise MailboxError(f"{where}: {what} failed: {self._scrub(str(e))}") from None

    @property
    def client(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise ConnectionLost(f"{self.name}: not connected (call open() first)")
        return self._client

    # -- connecting

    def _token(self) -> str:
        """The OAuth2 token or the password, from the environment or the token command."""
        cfg = self.cfg
        try:
            if cfg.oauth2_token_env or cfg.oauth2_token_command:
                return oauth2_token(cfg.oauth2_token_env, cfg.oauth2_token_command, "mailbox")
            return secret(cfg.password_env, "mailbox.password_env")
        except ConfigError as e:
            raise AuthenticationFailed(str(e)) from None

    def open(self) -> int:
        if self._client is not None:
            # Already connected (the daemon polls on one connection): reselect,
            # which also reports a changed UIDVALIDITY; reconnect if it is dead.
            try:
                return self._select()
            except ConnectionLost:
                self._drop()
        cfg = self.cfg
        if cfg.security not in ("ssl", "starttls", "none"):
            raise MailboxError(f"mailbox.security must be ssl, starttls or none, not {cfg.security!r}")
        oauth = bool(cfg.oauth2_token_env or cfg.oauth2_token_command)
        self._secret = self._token()
        try:
            with self._errors("connect"):
                context = ssl.create_default_context()
                client = imapclient.IMAPClient(cfg.host, port=cfg.port, ssl=cfg.security == "ssl",
                                               ssl_context=context if cfg.security == "ssl" else None,
                                               timeout=cfg.timeout)
                self._client = client
                client.normalise_times = False
                if cfg.security == "starttls":
                    client.starttls(context)
            with self._errors("login"):
                if oauth:
                    client.oauth2_login(cfg.username, self._secret)
                else:
                    client.login(cfg.username, self._secret)
            with self._errors("capability"):
                self.is_gmail = client.has_capability("X-GM-EXT-1")
            return self._select()
        except BaseException:
            self._drop()  # a half-open session must not be reused by the next open()
            raise

    def _select(self) -> int:
        client = self.client
        with self._errors("select"):
            try:
                info = client.select_folder(self.folder)
            except imap_exc.IMAPClientError:
                if not client.folder_exists(self.folder):
                    raise FolderMissing(f"{self.name}: folder {self.folder!r} does not exist") from None
                raise
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        self._max_uid = 0
        log.debug("opened %s folder %s (UIDVALIDITY %s)", self.name, self.folder, self.uidvalidity)
        return self.uidvalidity

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    # -- reading

    def _highest_uid(self) -> int:
        # A session sees mail delivered by others only after a sync: NOOP first
        # (Dovecot answers a SEARCH from the view of the previous command).
        self.client.noop()
        # "UID *" is the highest UID in the folder; [] when it is empty.
        found = self.client.search(["UID", "*"])
        return max(found, default=0)

    def new_uids(self, last_uid: int) -> list[int]:
        with self._errors("search"):
            top = self._highest_uid()
            self._max_uid = max(self._max_uid, top)
            uids: list[int] = []
            start = last_uid + 1
            while start <= top:
                end = start + SEARCH_WINDOW - 1
                rng = f"{start}:{end}" if end < top else f"{start}:*"
                # "n:*" also returns the highest UID when it is below n: filter.
                uids.extend(u for u in self.client.search(["UID", rng]) if u > last_uid)
                start = end + 1
            return sorted(set(uids))

    def fetch(self, uids: list[int], max_bytes: int | None = None) -> Iterator[FetchedMessage]:
        uids = sorted(set(uids))
        size = max(1, self.cfg.batch_size)
        for i in range(0, len(uids), size):
            for batch, sizes, whole in self._by_size(uids[i:i + size], max_bytes):
                yield from self._fetch_batch(batch, sizes, whole)

    def _by_size(self, uids: list[int], max_bytes: int | None) -> Iterator[tuple[list[int], dict, bool]]:
        """Groups of at most FETCH_BATCH_BYTES (RFC822.SIZE), in UID order, so a batch's bodies
        stay small in memory; a bigger message comes alone, one over max_bytes as a header-only
        group. Vanished UIDs are left out."""
        with self._errors("fetch"):
            data = self.client.fetch(uids, ["RFC822.SIZE"])
        sizes = {uid: d[b"RFC822.SIZE"] for uid, d in data.items() if b"RFC822.SIZE" in d}
        batch: list[int] = []
        total = 0
        for uid in uids:
            n = sizes.get(uid)
            if n is None:
                continue
            if max_bytes is not None and n > max_bytes:
                if batch:
                    yield batch, sizes, True
                    batch, total = [], 0
                yield [uid], sizes, False
                continue
            if batch and total + n > FETCH_BATCH_BYTES:
                yield batch, sizes, True
                batch, total = [], 0
            batch.append(uid)
            total += n
        if batch:
            yield batch, sizes, True

    def _fetch_batch(self, batch: list[int], sizes: dict, whole: bool) -> Iterator[FetchedMessage]:
        ask, key = ("BODY.PEEK[]", b"BODY[]") if whole else ("BODY.PEEK[HEADER]", b"BODY[HEADER]")
        with self._errors("fetch"), _no_literal_dumps(self.client):
            data = self.client.fetch(batch, [ask, "INTERNALDATE"])
        for uid in batch:
            item = data.get(uid)
            if not item or key not in item or b"INTERNALDATE" not in item:
                continue  # expunged between search and fetch
            raw = bytes(item[key])
            yield FetchedMessage(uid=uid, raw=raw, internal_date=_aware(item[b"INTERNALDATE"]),
                                 size=sizes.get(uid, len(raw)), truncated=not whole)

    # -- marking

    def mark_done(self, uids: list[int]) -> None:
        uids = sorted(set(uids))
        if not uids:
            return
        cfg, c = self.cfg, self.client
        with self._errors("mark_done"):
            if cfg.mark_seen:
                c.add_flags(uids, [imapclient.SEEN], silent=True)
            if self.is_gmail and cfg.gmail_label:
                c.add_gmail_labels(uids, [cfg.gmail_label], silent=True)
            elif cfg.move_to:
                if not c.folder_exists(cfg.move_to):
                    c.create_folder(cfg.move_to)
                if c.has_capability("MOVE"):
                    c.move(uids, cfg.move_to)
                else:
                    c.copy(uids, cfg.move_to)
                    c.add_flags(uids, [cfg.done_keyword], silent=True)
            else:
                c.add_flags(uids, [cfg.done_keyword], silent=True)

    # -- waiting

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._errors("wait"):
            # Mail that arrived since the last search was announced to an earlier
            # command, not to IDLE: look first.
            if self._highest_uid() > self._max_uid:
                return True
            if not self.client.has_capability("IDLE"):
                return self._poll(deadline)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if self._idle_once(min(remaining, IDLE_RENEW)):
                    return True

    def _idle_once(self, span: float) -> bool:
        """One IDLE of at most span seconds; True when the server announced mail."""
        c = self.client
        c.idle()
        news = False
        try:
            end = time.monotonic() + span
            while not news:
                left = end - time.monotonic()
                if left <= 0:
                    break
                started = time.monotonic()
                responses = c.idle_check(timeout=left)
                if not responses and time.monotonic() - started < left / 2:
                    # After the server drops us idle_check returns [] at once, forever.
                    raise ConnectionLost(f"{self.name}: the server closed the connection during IDLE")
                news = self._check(responses)
        except BaseException:
            self._drop()  # mid-IDLE: a LOGOUT would only confuse a live server
            raise
        _, responses = c.idle_done()
        return self._check(responses) or news

    def _check(self, responses: list) -> bool:
        news = False
        for r in responses:
            if isinstance(r, tuple) and r and r[0] == b"BYE":
                raise ConnectionLost(f"{self.name}: the server said BYE: {r[1:]!r}")
            if isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT"):
                news = True
        return news

    def _poll(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            time.sleep(max(0.0, min(NOOP_POLL, deadline - time.monotonic())))
            _, responses = self.client.noop()
            if self._check(responses):
                return True
        return False


@contextlib.contextmanager
def _no_literal_dumps(client: imapclient.IMAPClient) -> Iterator[None]:
    """imapclient sets imaplib's debug level to 5, at which imaplib formats every
    literal it receives with %r for the debug log, logged or not: 90 % of the cost
    of fetching a 3 MB message, and a 12 MB string at a time. Level 4 still logs
    every command and response line."""
    imap = client._imap
    saved = imap.debug
    imap.debug = min(saved, 4)
    try:
        yield
    finally:
        imap.debug = saved


# ------------------------------------------------------------------ Maildir

STATE_FILE = "mailbot-state.json"


class MaildirMailbox(Mailbox):
    """A local Maildir (cfg.path; INBOX is the root, other folders are Maildir++ '.Name').

    Maildir has no UIDs, so a small state file beside cur/new/tmp maps each
    message key to an increasing UID and remembers UIDVALIDITY and the done keys.
    """

    POLL = 0.2

    def __init__(self, cfg: MailboxConfig):
        if not cfg.path:
            raise MailboxError("mailbox.path is required for a maildir mailbox")
        self.cfg = cfg
        self.name = cfg.name
        self.folder = cfg.folder
        self.uidvalidity: int | None = None
        self._dir: Path | None = None
        self._state: dict | None = None

    # -- state

    def _folder_dir(self, folder: str) -> Path:
        root = Path(self.cfg.path)
        return root if folder.upper() == "INBOX" else root / ("." + folder)

    def _save(self) -> None:
        assert self._dir is not None and self._state is not None
        path = self._dir / STATE_FILE
        tmp = path.with_name(STATE_FILE + f".{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._state, f, ensure_ascii=False, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with contextlib.suppress(OSError):
            fd = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @property
    def state(self) -> dict:
        if self._state is None:
            raise MailboxError(f"{self.name}: not open (call open() first)")
        return self._state

    def _scan(self) -> dict[str, Path]:
        """key → current file path, from new/ and cur/ (a key survives new→cur and flag renames)."""
        assert self._dir is not None
        found: dict[str, Path] = {}
        for sub in ("new", "cur"):
            try:
                entries = os.scandir(self._dir / sub)
            except FileNotFoundError:
                raise FolderMissing(f"{self.name}: {self._dir / sub} vanished") from None
            with entries:
                for e in entries:
                    if e.name.startswith("."):
                        continue
                    found[e.name.split(":", 1)[0]] = Path(e.path)
        return found

    # -- interface

    def open(self) -> int:
        d = self._folder_dir(self.folder)
        if not all((d / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise FolderMissing(f"{self.name}: no Maildir at {d} (cur/, new/ and tmp/ are needed)")
        self._dir = d
        try:
            self._state = json.loads((d / STATE_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            # A new numbering: a fresh UIDVALIDITY tells the intake old UIDs mean nothing here.
            self._state = {"uidvalidity": int(time.time()), "next_uid": 1, "uids": {}, "done": []}
            self._save()
        except (OSError, ValueError) as e:
            raise MailboxError(f"{self.name}: cannot read {d / STATE_FILE}: {e}") from None
        self.uidvalidity = int(self._state["uidvalidity"])
        return self.uidvalidity

    def _number_new(self, found: dict[str, Path]) -> None:
        st = self.state
        fresh = [k for k in found if k not in st["uids"]]
        if not fresh:
            return

        def order(k: str) -> tuple:
            try:
                return (found[k].stat().st_mtime_ns, delivery_order(k))
            except FileNotFoundError:
                return (float("inf"), delivery_order(k))

        for k in sorted(fresh, key=order):
            st["uids"][k] = st["next_uid"]
            st["next_uid"] += 1
        self._save()

    def new_uids(self, last_uid: int) -> list[int]:
        found = self._scan()
        self._number_new(found)
        uids = self.state["uids"]
        return sorted(uids[k] for k in found if uids[k] > last_uid)

    def _paths(self, uids: list[int]) -> dict[int, tuple[str, Path]]:
        wanted = set(uids)
        found = self._scan()
        self._number_new(found)
        return {u: (k, found[k]) for k, u in self.state["uids"].items() if u in wanted and k in found}

    def fetch(self, uids: list[int], max_bytes: int | None = None) -> Iterator[FetchedMessage]:
        paths = self._paths(uids)
        for uid in sorted(paths):
            for path in (paths[uid][1], None):
                if path is None:  # renamed by another reader (new→cur) or deleted: look once more
                    again = self._paths([uid])
                    if uid not in again:
                        break
                    path = again[uid][1]
                try:
                    got = _read_maildir_file(path, max_bytes)
                except FileNotFoundError:
                    continue
                raw, size, mtime = got
                yield FetchedMessage(uid=uid, raw=raw, size=size, truncated=len(raw) < size,
                                     internal_date=dt.datetime.fromtimestamp(mtime, dt.timezone.utc))
                break

    def mark_done(self, uids: list[int]) -> None:
        paths = self._paths(uids)
        if not paths:
            return
        st = self.state
        done = set(st["done"])
        target = None
        if self.cfg.move_to:
            target = self._folder_dir(self.cfg.move_to)
            if not (target / "cur").is_dir():
                stdlib_mailbox.Maildir(self.cfg.path, create=True).add_folder(self.cfg.move_to)
        for uid in sorted(paths):
            key, path = paths[uid]
            if self.cfg.mark_seen:
                path = _add_seen(path)
            if target is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.rename(path, target / "cur" / path.name)
            done.add(key)
        st["done"] = sorted(done)
        self._save()

    def is_done(self, uid: int) -> bool:
        """Whether mark_done recorded this UID (for tests and the demo)."""
        keys = [k for k, u in self.state["uids"].items() if u == uid]
        return bool(keys) and keys[0] in set(self.state["done"])

    def _dir_stamp(self) -> tuple:
        assert self._dir is not None
        return tuple((self._dir / s).stat().st_mtime_ns for s in ("new", "cur"))

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        known = self.state["uids"]
        if any(k not in known for k in self._scan()):
            return True
        stamp = self._dir_stamp()
        while time.monotonic() < deadline:
            time.sleep(max(0.0, min(self.POLL, deadline - time.monotonic())))
            now = self._dir_stamp()
            if now != stamp:
                stamp = now
                if any(k not in known for k in self._scan()):
                    return True
        return False

    def close(self) -> None:
        self._state = None
        self._dir = None


_DIGITS = re.compile(r"(\d+)")


def delivery_order(key: str) -> tuple:
    """Sort key for Maildir file names that follows the delivery order.

    Delivery agents name a file after the moment it arrived ("1507773600.M99999P42Q7.host":
    seconds, microseconds, process, counter), with numbers not padded: compared as text,
    M100000 sorts before M99999. Compared number by number, the names keep their order.
    Used after the file's mtime, which ties for mail delivered within one clock tick.
    """
    parts = _DIGITS.split(key)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _add_seen(path: Path) -> Path:
    """Set the Maildir S flag by renaming into cur/ with ':2,…S…' (the content is untouched)."""
    name = path.name
    key, _, info = name.partition(":")
    flags = info[2:] if info.startswith("2,") else ""
    if "S" in flags:
        return path
    new = path.parent.parent / "cur" / f"{key}:2,{''.join(sorted(flags + 'S'))}"
    try:
        os.rename(path, new)
    except FileNotFoundError:
        return path
    return new
