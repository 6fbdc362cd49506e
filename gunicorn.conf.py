"""gunicorn settings for production: `make serve`, or `.venv/bin/gunicorn app:app`.

Every value can be overridden on the command line or by GUNICORN_CMD_ARGS.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, not one request per process: a sync worker reading a client that sends its
# headers a byte at a time is stuck until the arbiter kills it (`timeout`), so a
# handful of slow connections stalled every worker. A gthread worker's slow client
# holds one of `threads` threads; the others keep answering (tests/test_slow_clients.py).
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# gunicorn (23 to 27) has no request-header timeout: gthread hands back to its poller a
# new connection that sends nothing for 5 s, but a client trickling bytes keeps its
# thread. A hard header deadline is enforceable only in front of gunicorn: the reverse
# proxy's (nginx `client_header_timeout 10s;`, `client_body_timeout 10s;`).
keepalive = 5
# Migrate once in the master before forking workers.
preload_app = True
accesslog = "-"
# Path without the query string; result tokens in paths are redacted by the app's log filter.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
timeout = 30
graceful_timeout = 20


def on_reload(server):
    """SIGHUP (`systemctl reload screening`): gunicorn starts new workers, but from the app the master
    preloaded; touching the reload stamp makes every worker read the rule file, clinic file and consent
    texts again at its next request (a broken edit keeps the version in force, see web/reload.py)."""
    app = getattr(server.app, "callable", None)  # the preloaded Flask app (None without preload_app)
    if app is not None:
        from screening.web.reload import request_reload

        request_reload(app)
