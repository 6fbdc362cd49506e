"""gunicorn settings for production: `make serve`, or `.venv/bin/gunicorn app:app`.

Every value can be overridden on the command line or by GUNICORN_CMD_ARGS.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Migrate once in the master before forking workers.
preload_app = True
accesslog = "-"
# Path without the query string; result tokens in paths are redacted by the app's log filter.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
timeout = 30
graceful_timeout = 20
