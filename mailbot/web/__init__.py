"""The staff site (`mailbot web`, and `mailbot run` when [web] is configured).

    app.py     the WSGI application: the gate (session, CSRF, headers) and sign-in
    auth.py    one-time sign-in links, sessions, rate limits
    views.py   the board, a submission, the review queue and its decisions, the messages
    files.py   downloads: the reports the CLI writes, and the files units sent
    pages.py   the jinja2 setup the letters use, for templates/web/
    server.py  waitress: serve in the foreground, or in a thread beside the daemon
"""
from mailbot.web.app import create_app

__all__ = ["create_app"]
