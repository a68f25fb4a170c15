"""The load benchmark's baseline: a bare Flask app with one route, served as `make cluster` serves
the product: two `gunicorn --workers 2 bench.hello_app:app` behind scripts/round_robin_proxy.py.
What a page costs beyond this is the product's own work; what this costs is the machine, the
proxy, gunicorn, Flask and the load generator."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
