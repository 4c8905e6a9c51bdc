"""Who may use the staff site, and how they prove it: a one-time link mailed to a staff address.

The sign-in page asks for an address and always answers the same sentence,
whatever the address (nothing tells a stranger which addresses are staff).
An address in `staff` gets a link {base_url}/dang-nhap/TOKEN, valid 15
minutes and once. Opening it shows a button: only its POST signs in, so a
mail scanner that fetches links cannot spend the token. Tokens and session
ids are random 256-bit secrets kept only as their sha256 in the store; the
session is a cookie (HttpOnly, SameSite=Lax, Secure when base_url is https)
and carries its CSRF token in the store. Sign-in requests are rate-limited
per address and per client address.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import logging
import secrets
import threading
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa

from mailbot import smtp
from mailbot import store as st
from mailbot.app import App

log = logging.getLogger(__name__)

TOKEN_MINUTES = 15
RATE_WINDOW = dt.timedelta(minutes=15)
PER_ADDRESS = 5  # sign-in mails asked for one address in RATE_WINDOW
PER_CLIENT = 20  # sign-in requests and link uses from one client address in RATE_WINDOW
SESSION_COOKIE = "mailbot_session"
FORM_COOKIE = "mailbot_form"  # the CSRF secret of the forms shown before signing in
MAX_ADDRESS = 320


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secrets (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def normal_address(text: str | None) -> str | None:
    """The address as typed, NFC, trimmed, lower-case; None when it cannot be one."""
    text = unicodedata.normalize("NFC", (text or "").strip()).lower()
    if not text or len(text) > MAX_ADDRESS or "@" not in text or any(c.isspace() or ord(c) < 32 for c in text):
        return None
    return text


def is_staff(app: App, address: str | None) -> bool:
    return bool(address) and address in app.config.web_staff


def base_url(app: App) -> str:
    """What staff open: [web] base_url, else the address the site listens on."""
    w = app.config.web
    return (w.base_url or f"http://{w.host}:{w.port}").rstrip("/")


def secure_cookies(app: App) -> bool:
    return base_url(app).lower().startswith("https://")


# ---------------------------------------------------------------- rate limits

def attempt(app: App, limits: dict[str, int]) -> set[str]:
    """Count one attempt under each key; the keys over their limit in the window.

    Every attempt is counted, refused or not, so a client that keeps trying stays refused.
    """
    now = app.clock()
    since = st.utc_iso(now - RATE_WINDOW)
    a = st.web_attempts
    over = set()
    with app.store.transaction() as conn:
        conn.execute(a.delete().where(a.c.at < st.utc_iso(now - 4 * RATE_WINDOW)))
        for key, limit in limits.items():
            used = conn.execute(sa.select(sa.func.count()).select_from(a)
                                .where(a.c.key == key, a.c.at >= since)).scalar()
            if used >= limit:
                over.add(key)
            conn.execute(a.insert().values(st.fit(a, dict(key=key, at=st.utc_iso(now)))))
    return over


def client_allowed(app: App, client: str) -> bool:
    return not attempt(app, {f"ip:{client}": PER_CLIENT})


# ---------------------------------------------------------------- sign-in links

def request_link(app: App, address: str | None, client: str) -> bool:
    """Mail a sign-in link when `address` is staff's and within its limit; the caller shows the same
    page either way. False only when the client itself is over its limit (a page saying so reveals
    nothing about the address).

    Whether the address is staff's is decided only in the thread that makes and mails the link,
    started for every address: the request does the same work, and takes the same time, whatever
    the address (a link written to the store before answering took a stranger's answer 0.7 ms, a
    staff member's 4.5).
    """
    address = normal_address(address)
    over = attempt(app, {f"ip:{client}": PER_CLIENT, f"email:{address or '?'}": PER_ADDRESS})
    if f"ip:{client}" in over:
        return False
    if over:  # the address's limit: no mail, and the same page as for any address
        log.info("sign-in links for one address over its limit")
        return True
    threading.Thread(target=_issue_link, args=(app, address), name="web-signin-mail", daemon=True).start()
    return True


def _issue_link(app: App, address: str | None) -> None:
    """Store a one-time link for a staff address and mail it; nothing for any other address."""
    if not is_staff(app, address):
        log.info("sign-in asked for an address not in [web] staff")
        return
    token = new_secret()
    now = app.clock()
    try:
        with app.store.transaction() as conn:
            t = st.web_tokens
            conn.execute(t.delete().where(t.c.expires_at < st.utc_iso(now - dt.timedelta(days=1))))
            conn.execute(t.insert().values(token_sha256=digest(token), email=address, created_at=st.utc_iso(now),
                                           expires_at=st.utc_iso(now + dt.timedelta(minutes=TOKEN_MINUTES))))
    except Exception:  # noqa: BLE001 - logged; the page said the same as for any address
        log.exception("the sign-in link could not be stored")
        return
    _send_link(app, address, f"{base_url(app)}/dang-nhap/{token}")


def _send_link(app: App, address: str, link: str) -> None:
    """Straight to the SMTP server, never through the outbox: the link must not be stored."""
    from mailbot.outbox import WIRE, WIRE_UTF8
    from mailbot.web.pages import render_letter

    try:
        text, html = render_letter(app, "signin_mail", link=link, minutes=TOKEN_MINUTES, address=address)
        from mailbot import compose

        subject = f"Đường dẫn đăng nhập trang cán bộ – {app.config.campaign.name}"
        msg = compose.message(app, to=[address], subject=subject, text=text, html=html, auto="auto-generated")
        raw = msg.as_bytes(policy=WIRE if address.isascii() else WIRE_UTF8)
        transport = smtp.connect(app.config.smtp)
        try:
            transport.send(email.utils.parseaddr(app.config.smtp.from_addr)[1], [address], raw,
                           f"signin-{secrets.token_hex(6)}")
        finally:
            transport.close()
        log.info("sign-in link sent to a staff address")
    except Exception:  # noqa: BLE001 - a failed mail is logged; the page never says (no enumeration)
        log.exception("the sign-in link could not be sent")


@dataclass(frozen=True)
class LinkState:
    usable: bool
    email: str | None = None


def link_state(app: App, token: str) -> LinkState:
    """Whether a link can still sign in (GET shows it; never spends it)."""
    t = st.web_tokens
    with app.store.read() as conn:
        row = conn.execute(sa.select(t).where(t.c.token_sha256 == digest(token))).first()
    if row is None or row.used_at or row.expires_at <= st.utc_iso(app.clock()) or not is_staff(app, row.email):
        return LinkState(False)
    return LinkState(True, row.email)


def spend_link(app: App, token: str) -> str | None:
    """Use a link once: the address it signs in, or None (unknown, used, expired, no longer staff)."""
    t = st.web_tokens
    now = st.utc_iso(app.clock())
    with app.store.transaction() as conn:
        row = conn.execute(sa.select(t).where(t.c.token_sha256 == digest(token))).first()
        if row is None:
            return None
        done = conn.execute(t.update().where(t.c.token_sha256 == row.token_sha256, t.c.used_at.is_(None),
                                             t.c.expires_at > now).values(used_at=now)).rowcount
    if done != 1 or not is_staff(app, row.email):
        return None
    return row.email


# ---------------------------------------------------------------- sessions

@dataclass(frozen=True)
class Session:
    key: str  # sha256 of the cookie's secret
    email: str
    csrf: str
    notice: str | None = None
    campaign: str | None = None  # the campaign chosen on the site; None: the current one


def open_session(app: App, address: str) -> str:
    """A new session for `address`; returns the cookie's secret."""
    secret = new_secret()
    now = app.clock()
    s = st.web_sessions
    with app.store.transaction() as conn:
        conn.execute(s.delete().where(s.c.expires_at < st.utc_iso(now)))
        conn.execute(s.insert().values(session_sha256=digest(secret), email=address, csrf=new_secret(),
                                       created_at=st.utc_iso(now),
                                       expires_at=st.utc_iso(now + session_length(app))))
    return secret


def session_length(app: App) -> dt.timedelta:
    return dt.timedelta(hours=app.config.web.session_hours)


def current_session(app: App, cookie: str | None) -> Session | None:
    if not cookie or len(cookie) > 200:
        return None
    s = st.web_sessions
    with app.store.read() as conn:
        row = conn.execute(sa.select(s).where(s.c.session_sha256 == digest(cookie))).first()
    if row is None or row.expires_at <= st.utc_iso(app.clock()) or not is_staff(app, row.email):
        return None
    return Session(row.session_sha256, row.email, row.csrf, row.notice, row.campaign)


def close_session(app: App, session: Session) -> None:
    s = st.web_sessions
    with app.store.transaction() as conn:
        conn.execute(s.delete().where(s.c.session_sha256 == session.key))


def set_notice(app: App, session: Session, text: str | None) -> None:
    """One line for the next page (what a decision did, or why it could not be done)."""
    s = st.web_sessions
    with app.store.transaction() as conn:
        conn.execute(s.update().where(s.c.session_sha256 == session.key).values(notice=text))


def choose_campaign(app: App, session: Session, campaign_id: str | None) -> None:
    """The campaign the session's pages show from now on (None: whichever is current)."""
    s = st.web_sessions
    with app.store.transaction() as conn:
        conn.execute(s.update().where(s.c.session_sha256 == session.key).values(campaign=campaign_id))


def campaign_view(app: App, session: Session | None) -> App:
    """The App with the session's campaign in hand: the one chosen, else the current one."""
    chosen = app.config.find_campaign(session.campaign) if session and session.campaign else None
    return app.for_campaign(chosen or app.current_campaign())
