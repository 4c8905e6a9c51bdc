"""Serving the staff site with waitress: a pure-Python production WSGI server (threads, no C
build, the same on Linux and Windows), in the foreground for `mailbot web`, or in a thread
beside the scheduler for `mailbot run`.

X-Forwarded-For and X-Forwarded-Proto are believed only from [web] trusted_proxy (the reverse
proxy on this machine, e.g. 127.0.0.1), so the rate limits count the staff's own address
behind it; without it, and from any other client, forwarding headers are dropped (anyone can
write them: believed, they would let one client pass for many).
"""
from __future__ import annotations

import logging
import threading

from mailbot.app import App

log = logging.getLogger(__name__)

THREADS = 4


def make_server(app: App, host: str | None = None, port: int | None = None):
    """A bound waitress server (not yet serving): `.run()` serves, `.close()` stops."""
    from waitress.server import create_server

    from mailbot.web import create_app

    w = app.config.web
    proxy = dict(trusted_proxy=w.trusted_proxy, trusted_proxy_count=1,
                 trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"}) if w.trusted_proxy else {}
    return create_server(create_app(app), host=host or w.host, port=port if port is not None else w.port,
                         threads=THREADS, ident="mailbot", clear_untrusted_proxy_headers=True,
                         max_request_body_size=1024 * 1024, **proxy)


def address(server) -> str:
    host, port = server.effective_host, server.effective_port
    return f"http://{'[' + host + ']' if ':' in str(host) else host}:{port}"


class Background:
    """The staff site in a thread of the daemon; `close()` stops it."""

    def __init__(self, app: App):
        self.server = make_server(app)
        self.thread = threading.Thread(target=self._run, name="web", daemon=True)

    def start(self) -> None:
        self.thread.start()
        log.info("staff site at %s", address(self.server))

    def _run(self) -> None:
        try:
            self.server.run()
        except Exception:  # noqa: BLE001 - the site stopping must not stop the intake
            log.exception("the staff site stopped")

    def close(self) -> None:
        stop(self.server, self.thread)


def stop(server, thread: threading.Thread | None = None) -> None:
    """Stop a server another thread runs: its loop closes every connection and the listener itself
    (closing them from outside the loop races with it), then the request threads end."""
    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(close_all)
    except OSError:  # the loop has ended already
        pass
    if thread is not None:
        thread.join(timeout=5)
    server.task_dispatcher.shutdown()
