"""The baselines for bench/http_load.py and bench/lighthouse.py: the smallest Flask app, served the same way."""

from flask import Flask

app = Flask(__name__)

# The least a page needs for Lighthouse's accessibility, best-practices and SEO audits.
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Baseline</title>'
    '<meta name="description" content="The smallest page, measured beside the app\'s pages.">'
    '<link rel="icon" href="data:,"></head><body><main><h1>Baseline</h1><p>Nothing but Flask and gunicorn.</p>'
    "</main></body></html>"
)


@app.get("/ping")
def ping() -> str:
    """Nothing but Flask and gunicorn."""
    return "ok"


@app.get("/page")
def page() -> str:
    """A one-paragraph HTML page with no stylesheet or script."""
    return PAGE
