"""The load benchmark's baseline: a bare Flask app with one route, served by gunicorn exactly as
the product is (`gunicorn --workers 2 bench.hello_app:app`). What a page costs beyond this is the
product's own work; what this costs is the machine, gunicorn, Flask and the load generator."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
