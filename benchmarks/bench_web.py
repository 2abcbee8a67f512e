"""Latency of the hub's pages and data endpoints at 20 concurrent users, on SQLite and
PostgreSQL, served by gunicorn on 127.0.0.1.

    .venv/bin/python benchmarks/bench_web.py                      # both engines, 1M rows, 60 s
    .venv/bin/python benchmarks/bench_web.py --skip-postgres --duration 30

For each engine, on a fresh database (SQLite in a temporary ``CSP_VAR_DIR``; PostgreSQL in a
throwaway cluster started by scripts/pg_throwaway.sh on its own port):

1. ``csp migrate`` and ``csp load-demo``: the real data (Cleveland's districts, 2013 wards,
   2011 LSOAs with census population, the 7 real Cleveland Police months, DEFRA fly-tipping
   returns), the four partnerships and one demo user per role;
2. ``--rows`` generated police.uk rows (benchmarks/generate_police_uk.py, calibrated on the
   real Cleveland files: their snap points, LSOAs and crime mix), months 2019-03 to 2023-12,
   the gap between the real months, imported with ``csp import-incidents``;
3. gunicorn (``--workers`` processes x ``--threads`` threads, gthread) on 127.0.0.1;
4. a warm-up (each kind of request once per worker), then ``--users`` virtual users, each
   signed in as the demo analyst over its own keep-alive connection, each looping for
   ``--duration`` seconds: pick a request from the mix below at random, time it from send
   to last byte, wait a think time drawn uniformly from ``--think`` seconds.

Filters are drawn at random for every request (period of 1 to 12 months inside the data,
the whole partnership, its district or one of its 23 wards, a theme or a category or
neither, count or rate), so the figures are computed, not served from a cache. The
analysis pages (ward profile, SIA, forecast) and the hotspot layer cache their results per
worker until the data change; their first computation is part of the numbers.

The request mix (weights): data endpoints that read the monthly table (map.json 25,
trend.json 20), the hub page (15), the point layer (points.json 8, read from incident
rows), the hotspot layer (hotspots.json 7), ward profiles (10), the SIA page (7), the
forecast page (4), the data page (4). Target (issue 4): p95 <= 300 ms for data endpoints.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CSP_SHARED", REPO.parent / "shared")).resolve()
PY = sys.executable
BIN = Path(PY).parent
CSP = str(BIN / "csp")
PG_SCRIPT = REPO / "scripts" / "pg_throwaway.sh"
PARTNERSHIP = "middlesbrough"
DISTRICT = "E06000002"
TARGET_P95_MS = 300.0

# kind -> (weight, class)
MIX = {
    "map.json": (25, "data endpoint (monthly table)"),
    "trend.json": (20, "data endpoint (monthly table)"),
    "hub page": (15, "page"),
    "points.json": (8, "data endpoint (incident rows)"),
    "hotspots.json": (7, "data endpoint (analysis, cached)"),
    "ward profile": (10, "page"),
    "SIA page": (7, "page"),
    "forecast page": (4, "page"),
    "data page": (4, "page"),
}


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict[str, str], timeout: float = 3600) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


# ----------------------------------------------------------------------------------------
# Databases and the server


@dataclass
class Engine:
    name: str
    env: dict[str, str]
    stop: list[str] = field(default_factory=list)


def sqlite_engine(work: Path) -> Engine:
    var = work / "sqlite"
    var.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CSP_VAR_DIR"] = str(var)
    return Engine("SQLite", env)


def postgres_engine(work: Path, port: int) -> Engine:
    env = dict(os.environ)
    env["CSP_TEST_PG_PORT"] = str(port)
    env["CSP_TEST_PG_DIR"] = str(Path(tempfile.gettempdir()) / f"csp-bench-web-pg-{port}")
    url = run([str(PG_SCRIPT), "start"], env).strip()
    env["DATABASE_URL"] = url
    env["CSP_VAR_DIR"] = str(work / "pg-var")
    return Engine("PostgreSQL", env, [str(PG_SCRIPT), "stop"])


def load(engine: Engine, generated: Path) -> dict[str, float]:
    """Migrate, load the demo and import the generated rows; returns timings (s)."""
    env = {**engine.env, "CSP_SHARED": str(SHARED)}
    t0 = time.perf_counter()
    run([CSP, "migrate", "-v0"], env)
    out = run([CSP, "load-demo", "--shared", str(SHARED)], env)
    t1 = time.perf_counter()
    run([CSP, "import-incidents", "--format", "police-uk", str(generated)], env)
    t2 = time.perf_counter()
    passwords = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s+\(", out, flags=re.M))
    engine.env["BENCH_PASSWORD"] = passwords["analyst"]
    # The analyst needs a second factor: single-use codes, one per sign-in of the run.
    code = (
        "import django, secrets; django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from django_otp.plugins.otp_static.models import StaticDevice, StaticToken\n"
        "user = get_user_model().objects.get(username='analyst')\n"
        "device = StaticDevice.objects.create(user=user, name='benchmark')\n"
        "codes = [secrets.token_hex(8) for _ in range(2000)]\n"
        "StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])\n"
        "print(' '.join(codes))\n"
    )
    codes = run([PY, "-c", code], {**env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"})
    SECOND_FACTOR_CODES[:] = codes.split()
    return {"load_demo_s": t1 - t0, "import_s": t2 - t1}


def incident_count(engine: Engine) -> int:
    code = (
        "import django; django.setup(); from csp_platform.incidents.models import Incident; "
        "print(Incident.objects.count())"
    )
    env = {**engine.env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"}
    return int(run([PY, "-c", code], env).strip())


class Server:
    def __init__(self, engine: Engine, port: int, workers: int, threads: int) -> None:
        env = {**engine.env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"}
        env["CSP_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        self.port = port
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"), "csp_platform.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                "--worker-class", "gthread", "--threads", str(threads),
                "--timeout", "300", "--keep-alive", "30", "--log-level", "warning",
            ],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        atexit.register(self.close)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/sign-in/")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("gunicorn did not start")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


# ----------------------------------------------------------------------------------------
# Virtual users


SECOND_FACTOR_CODES: list[str] = []  # single-use codes of the analyst (load() makes them)
_codes_lock = threading.Lock()


def _second_factor_code() -> str:
    with _codes_lock:
        return SECOND_FACTOR_CODES.pop()


class User:
    """One signed-in browser: a keep-alive connection and a session cookie."""

    def __init__(self, port: int, password: str) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.cookies: dict[str, str] = {}
        self.sign_in(password)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}/sign-in/"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def sign_in(self, password: str) -> None:
        _, page = self.request("GET", "/sign-in/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the sign-in page"
        form = urlencode(
            {"csrfmiddlewaretoken": token.group(1).decode(), "username": "analyst",
             "password": password}
        )  # fmt: skip
        status, _ = self.request("POST", "/sign-in/", form)
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"sign-in failed ({status})")
        # The second step: a code (the analyst sees incident points).
        _, page = self.request("GET", "/sign-in/second-factor/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the second-factor page"
        form = urlencode(
            {"csrfmiddlewaretoken": token.group(1).decode(), "code": _second_factor_code()}
        )
        status, _ = self.request("POST", "/sign-in/second-factor/", form)
        if status != 302:
            raise SystemExit(f"second factor refused ({status})")


@dataclass
class Mix:
    months: list[str]
    wards: list[str]
    categories: list[str]
    themes: list[str]
    rng: random.Random

    def filters(self) -> dict[str, str]:
        n = self.rng.randint(1, 12)
        start = self.rng.randrange(0, len(self.months) - n + 1)
        f = {"from": self.months[start], "to": self.months[start + n - 1]}
        area = self.rng.random()
        if area < 0.4:
            f["area"] = self.rng.choice(self.wards)
        elif area < 0.6:
            f["area"] = DISTRICT
        pick = self.rng.random()
        if pick < 0.3:
            f["category"] = self.rng.choice(self.categories)
        elif pick < 0.5:
            f["theme"] = self.rng.choice(self.themes)
        if self.rng.random() < 0.3:
            f["measure"] = "rate"
        return f

    def path(self, kind: str) -> str:
        base = f"/p/{PARTNERSHIP}/"
        f = self.filters()
        if kind in ("map.json", "trend.json", "points.json"):
            return f"{base}{kind}?{urlencode(f)}"
        if kind == "hotspots.json":  # the default period: cached once per worker
            return f"{base}hotspots.json" + (f"?area={f['area']}" if "area" in f else "")
        if kind == "hub page":
            return f"{base}?{urlencode(f)}"
        if kind == "ward profile":
            return f"{base}wards/{self.rng.choice(self.wards)}/"
        if kind == "SIA page":
            return f"{base}sia/"
        if kind == "forecast page":
            return f"{base}forecast/"
        return f"{base}data/"

    def kind(self) -> str:
        kinds = list(MIX)
        return self.rng.choices(kinds, weights=[MIX[k][0] for k in kinds])[0]


def choices_from(engine: Engine) -> dict[str, list[str]]:
    code = """
import django, json; django.setup()
from csp_platform.areas.models import Area
from csp_platform.incidents.models import Category, Theme
from csp_platform.hub.selectors import months_with_data
print(json.dumps({
  "months": [f"{m:%Y-%m}" for m in months_with_data()],
  "wards": list(Area.objects.filter(level="ward", parent__code="E06000002")
                .values_list("code", flat=True)),
  "categories": ["burglary", "anti-social-behaviour", "vehicle-crime", "shoplifting", "drugs"],
  "themes": list(Theme.objects.values_list("code", flat=True)),
}))
"""
    env = {**engine.env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"}
    return json.loads(run([PY, "-c", code], env))


def load_test(
    port: int, password: str, choices: dict[str, list[str]], users: int, duration: float,
    think: tuple[float, float], seed: int,
) -> tuple[dict[str, list[float]], dict[str, int], float]:
    """Run the virtual users; latencies (ms) and error counts by request kind."""
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    stop_at = [0.0]
    # The clock starts once every user has signed in.
    start_gate = threading.Barrier(
        users, action=lambda: stop_at.__setitem__(0, time.perf_counter() + duration)
    )

    def one(i: int) -> None:
        rng = random.Random(seed + i)
        mix = Mix(
            choices["months"], choices["wards"], choices["categories"], choices["themes"], rng
        )
        user = User(port, password)
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            kind = mix.kind()
            path = mix.path(kind)
            t0 = time.perf_counter()
            status, _ = user.request("GET", path)
            ms = 1000 * (time.perf_counter() - t0)
            with lock:
                timings[kind].append(ms)
                if status != 200:
                    errors[kind] += 1
            time.sleep(rng.uniform(*think))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings, errors, duration


def warm_up(port: int, password: str, choices: dict[str, list[str]], workers: int) -> None:
    """Each kind of request a few times, so every worker has started up (imports, geometry)."""
    mix = Mix(choices["months"], choices["wards"], choices["categories"], choices["themes"],
              random.Random(1))  # fmt: skip
    for _ in range(workers * 2):
        user = User(port, password)  # a new connection: the next worker may take it
        for kind in MIX:
            user.request("GET", mix.path(kind))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def report(engine: str, timings: dict[str, list[float]], errors: dict[str, int]) -> list[dict]:
    rows = []
    groups: dict[str, list[float]] = defaultdict(list)
    for kind in MIX:
        values = timings.get(kind, [])
        groups[MIX[kind][1]] += values
        rows.append(
            {"engine": engine, "what": kind, "class": MIX[kind][1], "n": len(values),
             "p50": pct(values, 0.5), "p95": pct(values, 0.95), "p99": pct(values, 0.99),
             "max": max(values, default=float("nan")), "errors": errors.get(kind, 0)}
        )  # fmt: skip
    for name, values in groups.items():
        rows.append(
            {"engine": engine, "what": f"all: {name}", "class": name, "n": len(values),
             "p50": pct(values, 0.5), "p95": pct(values, 0.95), "p99": pct(values, 0.99),
             "max": max(values, default=float("nan")),
             "errors": sum(errors.get(k, 0) for k in MIX if MIX[k][1] == name)}
        )  # fmt: skip
    return rows


def markdown(rows: list[dict]) -> str:
    out = [
        "| engine | request | n | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = f"**{r['what']}**" if r["what"].startswith("all:") else r["what"]
        out.append(
            f"| {r['engine']} | {name} | {r['n']} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{r['p99']:.0f} | {r['max']:.0f} | {r['errors']} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5),
                        metavar=("MIN", "MAX"), help="think time between requests (s)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--pg-port", type=int, default=54333)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "csp-bench-web.json"
    )
    args = parser.parse_args(argv)
    if not (SHARED / "data" / "police" / "cleveland").is_dir():
        raise SystemExit(f"{SHARED}/data is missing (set CSP_SHARED)")

    work = Path(tempfile.mkdtemp(prefix="csp-bench-web-"))
    atexit.register(shutil.rmtree, work, True)
    generated = work / "generated-cleveland.csv"
    log(f"generating {args.rows:,} rows calibrated on the real Cleveland months ...")
    run([PY, str(REPO / "benchmarks" / "generate_police_uk.py"), "--rows", str(args.rows),
         "--real", str(SHARED / "data" / "police" / "cleveland"), "--start", "2019-03",
         "--months", "58", "--out", str(generated)], dict(os.environ))  # fmt: skip

    engines = []
    if not args.skip_sqlite:
        engines.append(lambda: sqlite_engine(work))
    if not args.skip_postgres:
        engines.append(lambda: postgres_engine(work, args.pg_port))
    rows: list[dict] = []
    meta: dict[str, object] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
        "python": platform.python_version(), "users": args.users, "duration_s": args.duration,
        "think_s": list(args.think), "workers": args.workers, "threads": args.threads,
        "generated_rows": args.rows,
    }  # fmt: skip
    for make in engines:
        engine = make()
        try:
            log(f"[{engine.name}] migrate, load the demo, import {args.rows:,} rows ...")
            meta[f"{engine.name}_load"] = load(engine, generated)
            meta[f"{engine.name}_incidents"] = incident_count(engine)
            choices = choices_from(engine)
            server = Server(engine, args.port, args.workers, args.threads)
            try:
                password = engine.env["BENCH_PASSWORD"]
                warm_up(args.port, password, choices, args.workers)
                log(f"[{engine.name}] {args.users} users for {args.duration:.0f} s ...")
                timings, errors, _ = load_test(
                    args.port, password, choices, args.users, args.duration, tuple(args.think),
                    args.seed,
                )
            finally:
                server.close()
            rows += report(engine.name, timings, errors)
        finally:
            if engine.stop:
                run(engine.stop, engine.env)
    text = markdown(rows)
    print(text)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    log(f"results: {args.out}")
    log(json.dumps(meta, indent=2))
    worst = max((r["p95"] for r in rows if r["what"] == "all: data endpoint (monthly table)"),
                default=0.0)  # fmt: skip
    log(f"data endpoints (monthly table) p95: {worst:.0f} ms (target <= {TARGET_P95_MS:.0f} ms)")
    return 0 if worst <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
