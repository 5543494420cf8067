"""The benchmarks' baseline: a bare Flask hello-world, served by gunicorn with the repo's gunicorn.conf.py.

Nothing of the product runs here (no hooks, no database, no Redis), so a ratio against it says what
the product costs on top of Flask and gunicorn themselves. (`GET /api/ping` runs the app's own
request hooks and was measured at about 89% of this.)
"""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
