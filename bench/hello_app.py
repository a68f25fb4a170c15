"""The benchmarks' baselines: a bare Flask app, served as the product is (gunicorn sync workers).

- `/`: "hello", what a request costs at all: the machine, gunicorn, Flask and the client;
  bench_load serves it as `make cluster` serves the product (two `gunicorn --workers 2
  bench.hello_app:app` behind scripts/round_robin_proxy.py).
- `/table`: a bare page with a 50-row, 6-column table rendered by Jinja, about what the
  referral list shows, without a database, login or layout: bench_pages gives each product
  page's requests per second as a ratio to this one's. The template is a string compiled once
  (`render_template_string` would compile it again on every request, which costs three times
  the rendering and which no product page does: Flask caches their templates).

What a page costs beyond these is the product's own work.
"""

from datetime import date, timedelta

from flask import Flask, render_template

app = Flask(__name__)

TABLE_SOURCE = """<!doctype html>
<html lang="nl">
<head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<main>
<h1>{{ title }}</h1>
<table class="data">
  <caption>{{ rows|length }} verwijzingen op deze pagina</caption>
  <thead><tr>{% for column in columns %}<th scope="col">{{ column }}</th>{% endfor %}</tr></thead>
  <tbody>
  {% for row in rows %}
    <tr>
      <td><a class="reference" href="/referrals/{{ row.id }}">{{ row.reference }}</a></td>
      <td>{{ row.name }}</td>
      <td>{{ row.programme }}</td>
      <td>{{ row.submitted.strftime("%d-%m-%Y") }}</td>
      <td><span class="state state--{{ row.state }}">{{ row.state }}</span></td>
      <td>{{ (today - row.submitted).days }}</td>
    </tr>
  {% endfor %}
  </tbody>
</table>
<nav class="pagination" aria-label="Pagina's"><a href="/table?page=2">Ouder</a></nav>
</main>
</body>
</html>
"""
TABLE = app.jinja_env.from_string(TABLE_SOURCE)
COLUMNS = ["Kenmerk", "Deelnemer", "Programma", "Ingediend", "Status", "Wachtdagen"]
STATES = ["submitted", "offered", "accepted", "active", "completed", "dropped_out"]
TODAY = date(2026, 12, 3)
ROWS = [
    {
        "id": 1000 + n,
        "reference": f"RT-2026-{1000 + n:06d}",
        "name": f"Deelnemer {n} de Vries",
        "programme": "Runningtherapie op recept Noordwijk",
        "submitted": TODAY - timedelta(days=3 * n),
        "state": STATES[n % len(STATES)],
    }
    for n in range(50)
]


@app.get("/")
def hello() -> str:
    return "hello"


@app.get("/table")
def table() -> str:
    return render_template(TABLE, title="Verwijzingen", columns=COLUMNS, rows=ROWS, today=TODAY)
