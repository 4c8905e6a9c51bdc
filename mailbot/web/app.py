"""The staff site as a WSGI application (Flask): the gate every request passes, and sign-in.

Every page but sign-in needs a session, else a redirect to /dang-nhap; every
POST needs the CSRF token of its session (or, before signing in, of the form
cookie), else 403. Every answer carries a strict Content-Security-Policy (no
inline script, nothing from elsewhere, no framing), nosniff, no referrer (a
sign-in link must never leak in a Referer) and no caching.
"""
from __future__ import annotations

import logging

from flask import Flask, Response, abort, g, redirect, request
from werkzeug.exceptions import HTTPException

from mailbot import campaigns, vn
from mailbot.app import App
from mailbot.web import auth
from mailbot.web.pages import render, stylesheet

log = logging.getLogger(__name__)

PUBLIC = {"signin", "signin_post", "link", "link_post", "stylesheet"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def create_app(app: App) -> Flask:
    web = Flask("mailbot.web", static_folder=None, template_folder=None)
    web.config.update(MAX_CONTENT_LENGTH=64 * 1024)  # forms only: nothing is uploaded here
    secure = auth.secure_cookies(app)
    session_cookie = ("__Host-" if secure else "") + auth.SESSION_COOKIE
    form_cookie = ("__Host-" if secure else "") + auth.FORM_COOKIE

    def page(name: str, code: int = 200, **context) -> Response:
        view = g.get("view") or app
        context.setdefault("session", getattr(g, "session", None))
        context.setdefault("nav", None)
        context.setdefault("campaign", view.config.campaign)
        context.setdefault("campaigns", campaigns.listing(app.config.campaigns, app.clock())
                           if len(app.config.campaigns) > 1 else [])
        context.setdefault("path", request.path)
        context.setdefault("office", app.config.office)
        context.setdefault("csrf", g.session.csrf if getattr(g, "session", None) else g.get("form_csrf", ""))
        return Response(render(name, **context), status=code, mimetype="text/html")

    web.extensions["mailbot"] = dict(app=app, page=page)

    @web.before_request
    def gate():
        g.session = auth.current_session(app, request.cookies.get(session_cookie))
        g.view = auth.campaign_view(app, g.session)
        if request.endpoint in PUBLIC:
            g.form_csrf = request.cookies.get(form_cookie) or auth.new_secret()
            if request.method == "POST" and not auth.same(request.form.get("csrf"), request.cookies.get(form_cookie)):
                return forbidden()
            return None
        if g.session is None:
            return redirect("/dang-nhap", code=303)
        if request.method == "POST" and not auth.same(request.form.get("csrf"), g.session.csrf):
            return forbidden()
        return None

    def forbidden() -> Response:
        return page("error.html", 403, title="Không thực hiện được",
                    text="Biểu mẫu đã cũ hoặc không gửi từ trang này. Xin mở lại trang rồi làm lại.")

    @web.after_request
    def headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)  # a download keeps its own, stricter one (files.attachment)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"
        h.setdefault("Cache-Control", "no-store")
        if secure:  # behind https, browsers are told never to try the site over plain http again
            h["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint in PUBLIC and "form_csrf" in g and request.cookies.get(form_cookie) != g.form_csrf:
            resp.set_cookie(form_cookie, g.form_csrf, httponly=True, samesite="Lax", secure=secure, path="/")
        return resp

    @web.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        words = {404: ("Không tìm thấy", "Không có trang hoặc hồ sơ này."),
                 405: ("Không thực hiện được", "Trang này không nhận yêu cầu như vậy."),
                 413: ("Không thực hiện được", "Nội dung gửi lên quá lớn.")}
        title, text = words.get(exc.code or 500, ("Không thực hiện được", "Yêu cầu không hợp lệ."))
        return page("error.html", exc.code or 500, title=title, text=text)

    @web.errorhandler(Exception)
    def crash(exc: Exception):
        # The route, not the path: a sign-in link's path is its secret.
        log.exception("staff site: %s %s failed", request.method, request.url_rule.rule if request.url_rule else "?")
        return page("error.html", 500, title="Có lỗi",
                    text="Chương trình gặp lỗi khi mở trang này; lỗi đã được ghi vào nhật ký.")

    # ------------------------------------------------------------ sign-in

    @web.get("/dang-nhap")
    def signin():
        if g.session is not None:
            return redirect("/", code=303)
        return page("signin.html", title="Đăng nhập", sent=False, address="")

    @web.post("/dang-nhap")
    def signin_post():
        address = (request.form.get("email") or "")[:auth.MAX_ADDRESS]
        if not auth.request_link(app, address, request.remote_addr or "?"):
            return page("error.html", 429, title="Xin thử lại sau",
                        text="Đã có quá nhiều yêu cầu đăng nhập từ máy này. Xin thử lại sau "
                             f"{vn.minutes(auth.RATE_WINDOW.total_seconds())}.")
        return page("signin.html", title="Đăng nhập", sent=True, address=address,
                    minutes=auth.TOKEN_MINUTES)

    @web.get("/dang-nhap/<token>")
    def link(token: str):
        state = auth.link_state(app, token)
        return page("link.html", 200 if state.usable else 410, title="Đăng nhập", usable=state.usable,
                    token=token)

    @web.post("/dang-nhap/<token>")
    def link_post(token: str):
        if not auth.client_allowed(app, request.remote_addr or "?"):
            return page("error.html", 429, title="Xin thử lại sau",
                        text="Đã có quá nhiều lần đăng nhập từ máy này. Xin thử lại sau ít phút.")
        address = auth.spend_link(app, token)
        if address is None:
            return page("link.html", 410, title="Đăng nhập", usable=False, token=token)
        secret = auth.open_session(app, address)
        log.info("staff signed in on the staff site")
        resp = redirect("/", code=303)
        resp.set_cookie(session_cookie, secret, max_age=int(auth.session_length(app).total_seconds()),
                        httponly=True, samesite="Lax", secure=secure, path="/")
        return resp

    @web.post("/dang-xuat")
    def signout():
        auth.close_session(app, g.session)
        resp = redirect("/dang-nhap", code=303)
        resp.delete_cookie(session_cookie, path="/", secure=secure, httponly=True, samesite="Lax")
        return resp

    @web.post("/dot-bao-cao")
    def choose_campaign():
        chosen = request.form.get("dot") or None
        if chosen is not None and app.config.find_campaign(chosen) is None:
            abort(404)
        current = app.current_campaign().id
        auth.choose_campaign(app, g.session, None if chosen == current else chosen)
        back = request.form.get("back") or "/"
        return redirect(back if back in ("/", "/can-xem-xet", "/tai-ve", "/thu") else "/", code=303)

    @web.get("/site.css", endpoint="stylesheet")
    def css():
        return Response(stylesheet(), mimetype="text/css", headers={"Cache-Control": "max-age=3600"})

    from mailbot.web import files, views

    views.register(web, app, page)
    files.register(web, app)
    return web
