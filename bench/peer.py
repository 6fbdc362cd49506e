"""A peer side by side: django-survey-and-report's submission beside our form POST and API POST.

The peer (a maintained Django survey app on PyPI) is installed into a throwaway venv under /tmp,
given a minimal Django project with a survey of one question per answer our POST sends (same
types: radio, date, multiple choice), and served by the same gunicorn with the same settings
(``gunicorn.conf.py``, 2 workers). wrk loads each submission with the same settings as
bench/http_load.py, in the same run; every submission is a new patient (a new e-mail) on our side.

    .venv/bin/python -m bench.peer [--duration 8] [--connections 32] [--venv /tmp/screening-peer-venv]

Durability, stated beside the figures: both sides run SQLite in WAL mode with ``synchronous=FULL``,
so a submission's commit is on disk before its answer. The peer gets Django's recommended
production settings for that (``ATOMIC_REQUESTS``: the response and its answers in one
transaction; ``transaction_mode=IMMEDIATE``); its session row is saved in a second commit.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.durability import ANSWERS, ROOT, Server, free_port
from bench.http_load import numbered_script, post_script, run_wrk, wrk_installed

PEER_PACKAGE = "django-survey-and-report"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "screening-peer-venv"

SETTINGS = """
from pathlib import Path
HERE = Path(__file__).resolve().parent
SECRET_KEY = "peer-bench-secret-key-0123456789-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "survey",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "peer_site.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3", "NAME": HERE.parent / "peer.sqlite3",
    # Equal durability: WAL with every commit synced, as the app's SQLite runs.
    "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                "transaction_mode": "IMMEDIATE", "timeout": 20},
    "ATOMIC_REQUESTS": True,
}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
STATIC_URL = "/static/"
LOGIN_URL = "/login/"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
"""

URLS = """
from django.urls import include, path
urlpatterns = [path("survey/", include("survey.urls"))]
"""

WSGI = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_site.settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
"""

# Run by the peer's Python: one survey with the questions given as JSON on stdin.
MAKE_SURVEY = """
import json, sys, django
django.setup()
from survey.models import Question, Survey
survey = Survey.objects.create(name="Screening", description="Pre-treatment questions", is_published=True,
                               need_logged_user=False, editable_answers=False, display_method=Survey.ALL_IN_ONE_PAGE)
ids = {}
for order, q in enumerate(json.load(sys.stdin)):
    question = Question.objects.create(text=q["id"], order=order, required=True, survey=survey, type=q["type"],
                                       choices=",".join(q["choices"]) or None)
    ids[q["id"]] = question.pk
print(json.dumps({"survey": survey.pk, "questions": ids}))
"""


def ensure_peer_venv(venv: Path) -> Path:
    """The peer's venv (created and filled once; reused while it holds the peer); its python."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import django, gunicorn, importlib.util; assert importlib.util.find_spec('survey')"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"Installing {PEER_PACKAGE} and gunicorn into {venv}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    gunicorn = subprocess.run(
        [sys.executable, "-c", "import gunicorn; print(gunicorn.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    # The same gunicorn release as ours: the same server, not just the same name.
    subprocess.run([str(python), "-m", "pip", "install", "-q", PEER_PACKAGE, f"gunicorn=={gunicorn}"], check=True)
    return python


def survey_questions() -> list[dict[str, Any]]:
    """One peer question per answer our POST sends, of the same type, with our question's options."""
    from screening.core.loader import load_rules

    questions = {q.id: q for q in load_rules(ROOT / "rules.yaml").questions}
    made = []
    for key, value in ANSWERS.items():
        options = [o.value for o in questions[key].options] if key in questions else []
        if isinstance(value, list):
            made.append({"id": key, "type": "select-multiple", "choices": options or list(value)})
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
            made.append({"id": key, "type": "date", "choices": []})
        else:
            made.append({"id": key, "type": "radio", "choices": options or [str(value), "other"]})
    return made


class PeerSite:
    """The peer's Django project in ``folder``, served by gunicorn from the peer's venv."""

    def __init__(self, python: Path, folder: Path) -> None:
        self.python, self.folder = python, folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peer_site.settings", "PYTHONPATH": str(folder)}

    def build(self) -> tuple[int, dict[str, int]]:
        """Write the project, migrate, make the survey; its id and question ids."""
        package = self.folder / "peer_site"
        package.mkdir(parents=True)
        for name, text in (("__init__.py", ""), ("settings.py", SETTINGS), ("urls.py", URLS), ("wsgi.py", WSGI)):
            (package / name).write_text(textwrap.dedent(text))
        manage = [str(self.python), "-m", "django", "migrate", "-v", "0"]
        subprocess.run(manage, cwd=self.folder, env=self.env, check=True)
        made = subprocess.run(
            [str(self.python), "-c", MAKE_SURVEY],
            input=json.dumps(survey_questions()),
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(made.stdout)
        return int(result["survey"]), {k: int(v) for k, v in result["questions"].items()}

    def start(self, workers: int = 2) -> None:
        """gunicorn with our gunicorn.conf.py (the same worker class and threads), as bench.durability's Server."""
        gunicorn = self.python.with_name("gunicorn")
        command = [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{self.port}"]
        command += ["-w", str(workers), "--access-logfile", "/dev/null", "peer_site.wsgi:application"]
        self.process = subprocess.Popen(
            command, cwd=self.folder, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/survey/", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the peer's gunicorn did not answer within 30 s")

    def stop(self) -> None:
        """Stop gunicorn."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def stored(self) -> int:
        """Submissions stored (the survey's responses)."""
        with sqlite3.connect(self.folder / "peer.sqlite3") as conn:
            return int(conn.execute("SELECT count(*) FROM survey_response").fetchone()[0])

    def synchronous(self) -> str:
        """The peer's SQLite journal mode and synchronous level, as its connections set them."""
        code = (
            "import django; django.setup(); from django.db import connection; c = connection.cursor();"
            "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA synchronous').fetchone()[0])"
        )
        out = subprocess.run(
            [str(self.python), "-c", code], cwd=self.folder, env=self.env, capture_output=True, text=True, check=True
        )
        mode, level = out.stdout.split()
        return f"journal_mode={mode}, synchronous={ {'0': 'OFF', '1': 'NORMAL', '2': 'FULL', '3': 'EXTRA'}[level] }"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def form_session(page_url: str, token_pattern: str) -> tuple[str, str]:
    """GET a form page with a cookie jar: its cookies as one header, and its CSRF token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(page_url, timeout=30) as response:
        page = response.read().decode()
    found = re.search(token_pattern, page)
    if not found:
        raise RuntimeError(f"no CSRF token on {page_url}")
    return "; ".join(f"{c.name}={c.value}" for c in jar), found.group(1)


def check_post(url: str, body: str, content_type: str, cookie: str = "") -> int:
    """POST once without following a redirect; the status (a 302/303 is the acknowledgement)."""
    headers = {"Content-Type": content_type, **({"Cookie": cookie} if cookie else {})}
    numbered = body.replace("PREFIX", "check").replace("NUMBER", "0")
    request = urllib.request.Request(url, data=numbered.encode(), headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def our_form_body(token: str) -> str:
    """Our questionnaire form as a browser sends it (a multi answer is one field per value)."""
    fields = {
        **ANSWERS,
        "patient_name": "Bench Patient",
        "email": "bench-PREFIX-NUMBER@example.com",
        "consent": "y",
        "signature": "Bench Patient",
        "csrf_token": token,
    }
    return urllib.parse.urlencode(fields, doseq=True)


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-")


def peer_body(token: str, ids: dict[str, int]) -> str:
    """The peer's survey form with the same answers (an extra numbered field it ignores keeps the bodies
    apart, as our e-mails do; the peer has no patient details)."""
    fields: dict[str, Any] = {"csrfmiddlewaretoken": token}
    for key, value in ANSWERS.items():
        # The peer's choices are sent as their slugs ("III" is "iii"), as its page offers them.
        slug = [_slug(v) for v in value] if isinstance(value, list) else _slug(str(value))
        fields[f"question_{ids[key]}"] = value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)) else slug
    return urllib.parse.urlencode(fields, doseq=True) + "&n=PREFIX-NUMBER"


def stored_screenings(database: Path) -> int:
    """Screenings in our database."""
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT count(*) FROM screenings").fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    args = parser.parse_args()
    if not wrk_installed():
        return 2
    python = ensure_peer_venv(args.venv)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        peer = PeerSite(python, folder / "peer")
        survey, ids = peer.build()
        peer.start()
        try:
            url = f"{peer.base}/survey/{survey}/"
            cookie, token = form_session(url, r'name="csrfmiddlewaretoken" value="([^"]+)"')
            body = peer_body(token, ids)
            form = "application/x-www-form-urlencoded"
            status = check_post(url, body, form, cookie)
            if status != 302:
                print(f"the peer answered its submission with {status}, not 302", file=sys.stderr)
                return 1
            before = peer.stored()
            rows["peer: survey submission (form)"] = run_wrk(
                url, args.duration, args.connections, numbered_script(folder, "peer.lua", body, form, cookie)
            )
            rows["peer: survey submission (form)"]["stored"] = peer.stored() - before
            peer_durability = peer.synchronous()
        finally:
            peer.stop()
        database = folder / "ours.sqlite"
        ours = Server(database, free_port())
        ours.start()
        try:
            cookie, token = form_session(ours.base + "/screening", r'name="csrf_token" type="hidden" value="([^"]+)"')
            body = our_form_body(token)
            status = check_post(ours.base + "/screening", body, form, cookie)
            if status != 303:
                print(f"our form answered {status}, not 303 (a field the form now needs?)", file=sys.stderr)
                return 1
            before = stored_screenings(database)
            rows["ours: POST /screening (form, CSRF)"] = run_wrk(
                ours.base + "/screening",
                args.duration,
                args.connections,
                numbered_script(folder, "form.lua", body, form, cookie),
            )
            middle = stored_screenings(database)
            rows["ours: POST /screening (form, CSRF)"]["stored"] = middle - before
            rows["ours: POST /api/v1/screenings"] = run_wrk(
                ours.base + "/api/v1/screenings",
                args.duration,
                args.connections,
                post_script(folder, "api.lua"),
            )
            rows["ours: POST /api/v1/screenings"]["stored"] = stored_screenings(database) - middle
            with sqlite3.connect(database) as conn:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            ours.stop()
    print(
        f"Peer side by side: gunicorn (gunicorn.conf.py) 2 workers each, wrk -t2 -c{args.connections}"
        f" -d{args.duration}s, same run; {len(ANSWERS)} questions answered on each side"
    )
    print(f"{'submission':<38}{'req/s':>8}{'vs peer':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'stored':>8}")
    peer_row = rows["peer: survey submission (form)"]
    for label, row in rows.items():
        print(
            f"{label:<38}{row['rps']:>8.0f}{row['rps'] / peer_row['rps']:>9.2f}{row['p50']:>9.1f}"
            f"{row['p99']:>9.1f}{row['errors']:>8.0f}{row['stored']:>8.0f}"
        )
    print(
        f"durability: peer SQLite {peer_durability}, ATOMIC_REQUESTS (answers in one commit, the session in"
        " a second), each commit synced before the 302"
    )
    print(
        f"durability: ours SQLite journal_mode={mode}, synchronous=FULL (SCREENING_SQLITE_SYNCHRONOUS):"
        " one commit per screening, the WAL synced before the 201/303"
    )
    for label in ("ours: POST /screening (form, CSRF)", "ours: POST /api/v1/screenings"):
        row = rows[label]
        print(
            f"goal {label}: >= 2x the peer's throughput (got {row['rps'] / peer_row['rps']:.2f}x),"
            f" p50 below ({row['p50']:.1f} vs {peer_row['p50']:.1f} ms), p99 below ({row['p99']:.1f} vs"
            f" {peer_row['p99']:.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
