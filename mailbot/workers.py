"""A pool of worker processes that read untrusted bytes under a memory and a time cap.

Everything a unit sends is hostile (a 1 KB .docx can ask for gigabytes, an
image header can promise a billion pixels). Readers run here, not in the
daemon: a worker that runs out of its address space (RLIMIT_AS), dies or
overruns its wall-time cap is killed and replaced, and the caller gets a
WorkerFailed with the reason; the daemon and the other files go on.

Any pure reader can run in the pool: a module-level function named
"package.module:function" that takes picklable arguments (bytes, a
context) and returns a picklable record; bytes kept in a file are passed
as FromFile(path), which the worker reads. Call it with `pool.run(...)` from
any thread; each call takes one idle worker, so as many calls run at once
as there are workers; a caller that must not queue behind long reads (the
staff site) passes `wait` and gets PoolBusy when no worker frees in time.
"""
from __future__ import annotations

import ctypes
import importlib
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

# Workers fork from a forkserver: a clean interpreter started once, before any of the daemon's
# threads, with the readers' libraries already imported, so a replacement worker starts in
# milliseconds and shares those pages. No thread, lock or open connection of the daemon is inherited.
_PRELOAD = ["parsers", "parsers.document", "parsers.docx_grid", "mailbot.unpack", "mailbot.photos"]
try:
    _CTX = multiprocessing.get_context("forkserver")
    _CTX.set_forkserver_preload(_PRELOAD)
except ValueError:  # pragma: no cover - platforms without fork
    _CTX = multiprocessing.get_context("spawn")


_KEEP_ENV = ("PATH", "LANG", "TZ", "TMPDIR", "HOME", "PYTHONPATH", "LD_LIBRARY_PATH")
_SERVER_LOCK = threading.Lock()


def package_roots() -> list[str]:
    """The folders this process imported mailbot and parsers from: the readers import from there too."""
    import parsers

    import mailbot

    roots = [os.path.dirname(os.path.dirname(os.path.abspath(m.__file__))) for m in (mailbot, parsers)]
    return list(dict.fromkeys(roots))


def _start_forkserver() -> None:
    """Start the forkserver (once) with a pinned import path.

    Python 3.11 starts it as `python -c ...`, which puts the working directory
    first on its path (the parent's sys.path is ignored): a module dropped in
    the daemon's working directory would be imported by every reader. It
    starts here with PYTHONSAFEPATH (no working directory on the path) and
    PYTHONPATH naming the installed package's folder first (then the
    operator's own absolute PYTHONPATH entries; relative ones would name the
    working directory again).
    """
    if _CTX.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    with _SERVER_LOCK:
        saved = {k: os.environ.get(k) for k in ("PYTHONSAFEPATH", "PYTHONPATH")}
        given = [p for p in (saved["PYTHONPATH"] or "").split(os.pathsep) if os.path.isabs(p)]
        os.environ["PYTHONSAFEPATH"] = "1"
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(package_roots() + given))
        try:
            forkserver.ensure_running()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclass(frozen=True)
class FromFile:
    """An argument the worker reads from this file itself: big bytes never cross the pipe
    (nor are they held by the daemon), and reading them counts against the worker's cap."""

    path: str


class WorkerFailed(Exception):
    """The reader did not return: killed over memory or time, crashed, or raised."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class PoolBusy(Exception):
    """No worker came free within the caller's `wait` (every one is reading other files)."""


class ReaderError(Exception):
    """The reader itself raised (a bug, not the input's size): the text of its exception."""


class Pool:
    """`size` long-lived workers, each capped at `memory_mb` of address space and `timeout` seconds a call."""

    def __init__(self, size: int = 2, memory_mb: int = 1024, timeout: float = 120.0):
        self.size = max(1, size)
        self.memory_mb = memory_mb
        self.timeout = timeout
        self._idle: list[_Worker] = []
        self._started = 0
        self._cond = threading.Condition()
        self._closed = False

    def run(self, target: str, *args: Any, timeout: float | None = None, wait: float | None = None) -> Any:
        """target(*args) in a worker.

        Raises WorkerFailed when the worker does not come back (memory, time,
        crash) and ReaderError when the reader raised. With `wait`, at most that
        many seconds are spent waiting for a free worker (PoolBusy after).
        """
        worker = self._take(wait)
        ok = False
        try:
            result = worker.call(target, args, self.timeout if timeout is None else timeout, self.memory_mb)
            ok = True
            return result
        finally:
            self._give(worker if ok or worker.alive() else None)

    def close(self) -> None:
        """Stop every idle worker; busy ones stop when their call returns."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._started -= len(idle)
            self._cond.notify_all()
        for w in idle:
            w.stop()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self, wait: float | None = None) -> _Worker:
        deadline = None if wait is None else time.monotonic() + wait
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerFailed("the worker pool is closed")
                if self._idle:
                    return self._idle.pop()
                if self._started < self.size:
                    self._started += 1
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PoolBusy(f"no reader free within {wait:g} s")
                self._cond.wait(left)
        try:
            return _Worker(self.memory_mb)
        except BaseException:
            with self._cond:
                self._started -= 1
                self._cond.notify()
            raise

    def _give(self, worker: _Worker | None) -> None:
        with self._cond:
            if worker is not None and not self._closed:
                self._idle.append(worker)
            else:
                self._started -= 1
            self._cond.notify()
        if worker is not None and self._closed:
            worker.stop()


class _Worker:
    def __init__(self, memory_mb: int):
        parent, child = _CTX.Pipe()
        self.conn = parent
        _start_forkserver()
        self.proc = _CTX.Process(target=_serve, args=(child, memory_mb * 1024 * 1024), daemon=True,
                                 name="mailbot-reader")
        self.proc.start()
        child.close()

    def alive(self) -> bool:
        return self.proc.is_alive()

    def call(self, target: str, args: tuple, timeout: float, memory_mb: int) -> Any:
        try:
            self.conn.send((target, args))
        except (OSError, ValueError) as exc:
            self.kill()
            raise WorkerFailed(f"the worker could not take the job ({exc})") from None
        if not self.conn.poll(timeout):
            self.kill()
            raise WorkerFailed(f"over the time limit of {timeout:.0f} s")
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            code = self.proc.exitcode
            if code is not None and code < 0:
                name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
                raise WorkerFailed(f"the worker was killed ({name})") from None
            raise WorkerFailed(f"the worker died (exit code {code})") from None
        if status == "ok":
            return value
        if status == "memory":
            self.kill()  # a MemoryError may leave the interpreter in any state: start afresh
            raise WorkerFailed(f"over the memory limit of {memory_mb} MB")
        raise ReaderError(value)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(2)
        self.kill()


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# glibc's mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_FREED_MB = 64
MMAP_OVER_MB = 32  # buffers above this get their own mapping; older glibc refuses a higher value


def _keep_freed_memory() -> None:
    """Let the reader keep up to KEEP_FREED_MB of freed memory for the next file.

    By default glibc hands a freed block of a few MB back to the kernel at once
    (munmap, or trimming the heap), so every message's buffers (its bytes, their
    base64, the decoded files) were faulted in again page by page: ~2,000 page
    faults a bench message, ~3 of its ~28 ms of CPU. The address-space cap
    (RLIMIT_AS) bounds the reader all the same.
    """
    try:
        libc = ctypes.CDLL(None)
        # Only once the threshold is taken: setting the trim alone would freeze glibc's own
        # adaptive threshold at 128 KB, every buffer of a message then a mapping of its own.
        if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_OVER_MB << 20) == 1:
            libc.mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_MB << 20)
    except (OSError, AttributeError):  # not glibc: its defaults stay
        pass


def _serve(conn: Connection, memory_bytes: int) -> None:
    """The worker's loop: one call at a time until told to stop or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the daemon, which stops us
    if memory_bytes > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    _keep_freed_memory()
    for key in list(os.environ):  # readers need none of the daemon's secrets
        if key not in _KEEP_ENV and not key.startswith("LC_"):
            del os.environ[key]
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if job is None:
            return
        target, args = job
        try:
            module, _, name = target.partition(":")
            args = tuple(_read(a.path) if isinstance(a, FromFile) else a for a in args)
            result = ("ok", getattr(importlib.import_module(module), name)(*args))
            conn.send(result)
        except MemoryError:
            result = None  # noqa: F841 - drop what we can before answering
            try:
                conn.send(("memory", ""))
            finally:
                return
        except Exception as exc:  # noqa: BLE001 - reported to the caller, who records it
            try:
                conn.send(("error", f"{type(exc).__name__}: {exc}"[:2000]))
            except Exception:  # noqa: BLE001 - e.g. an unpicklable exception text
                return
