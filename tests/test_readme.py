"""The README's API examples, as pasted: every command of its API section is run
against the app (curl through the test client, flask commands through the CLI
runner), with the shell variables they set, and each must succeed."""

from __future__ import annotations

import json
import re
import shlex
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from markupsafe import escape

from screening import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
API_SECTION = README.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
# The indented command lines of the section, in order.
COMMANDS = [line.strip() for line in API_SECTION.splitlines() if line.startswith("    ") and line.strip()]
FLASK = [".venv/bin/flask", "--app", "app"]


def run_curl(client: FlaskClient, words: list[str]) -> tuple[int, str]:
    """One curl command through the test client: method, headers, body (-d, -d @file), URL."""
    method, headers, data, url = "GET", {}, None, ""
    args = iter(words[1:])
    for word in args:
        if word == "-X":
            method = next(args)
        elif word == "-H":
            name, value = next(args).split(":", 1)
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = next(args)
            data = (ROOT / body[1:]).read_bytes() if body.startswith("@") else body.encode()
            method = "POST" if method == "GET" else method
        elif word == "-s":
            continue
        else:
            url = word
    parts = urlsplit(url)
    assert parts.netloc == "127.0.0.1:5000", url
    response = client.open(parts.path, method=method, headers=headers, data=data, query_string=parts.query)
    return response.status_code, response.get_data(as_text=True)


def run_flask(runner: FlaskCliRunner, words: list[str], stdin: str = "") -> str:
    assert words[:3] == FLASK, words
    result = runner.invoke(args=words[3:], input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_readme_api_examples_work_as_pasted(app: Flask, client: FlaskClient, runner: FlaskCliRunner) -> None:
    assert any("-d @examples/screening.json" in c for c in COMMANDS)
    variables: dict[str, str] = {}
    statuses = []
    for command in COMMANDS:
        for name, value in variables.items():
            command = command.replace(f"${name}", value)
        assigned = re.fullmatch(r"([A-Z]+)=\$\((.*)\)", command)
        inner = assigned.group(2) if assigned else command
        pipeline = [shlex.split(part) for part in inner.split(" | ")]
        first = pipeline[0]
        if first[0] == "printf":
            output = run_flask(runner, pipeline[1], stdin=first[1].replace("\\n", "\n"))
        elif first[0] == "curl":
            status, output = run_curl(client, first)
            statuses.append((command, status))
            if len(pipeline) > 1:  # | python3 -c '... ["reference"]'
                key = re.search(r'\["(\w+)"\]', pipeline[1][-1])
                assert key
                output = json.loads(output)[key.group(1)]
        else:
            output = run_flask(runner, first)
        if assigned:
            variables[assigned.group(1)] = output.strip()
    assert set(variables) == {"TOKEN", "REFERENCE"}
    assert len(statuses) >= 6
    assert [command for command, status in statuses if status not in (200, 201)] == []


def test_the_example_answer_set_is_complete_and_eligible(client: FlaskClient) -> None:
    body = json.loads((ROOT / "examples" / "screening.json").read_text(encoding="utf-8"))
    response = client.post("/api/v1/screenings", json=body)
    assert response.status_code == 201
    assert response.get_json()["status"] == "eligible"


def test_json_carries_cyrillic_as_utf8_not_escapes(client: FlaskClient) -> None:
    response = client.get("/api/v1/questionnaire", headers={"Accept-Language": "ru"})
    raw = response.get_data()
    assert "Анкета".encode() in raw or "Лазерное".encode() in raw
    assert b"\\u04" not in raw
    assert response.mimetype == "application/json"


def test_the_api_docs_page_is_rendered_from_the_openapi_document(client: FlaskClient) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f'id="{operation["operationId"]}"' in html
            assert f"<code>{method.upper()} {path}</code>" in html
            assert str(escape(operation["summary"])) in html
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    # Served by the app itself: no script and no other host; the CSP stays as it is.
    assert "<script" not in html.replace('<script src="/static/app.js" defer></script>', "")
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
