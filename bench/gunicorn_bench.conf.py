"""gunicorn settings for benchmarks: exactly the repo's gunicorn.conf.py, with the access log off.

(`--access-logfile /dev/null` would still format a line per request; `accesslog = None` does not.)
"""
import runpy
from pathlib import Path

globals().update({name: value for name, value in runpy.run_path(
    str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py")).items() if not name.startswith("__")})
accesslog = None
