"""The baseline for bench/http.py: the smallest Flask app, served the same way."""

from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping() -> str:
    """Nothing but Flask and gunicorn."""
    return "ok"
