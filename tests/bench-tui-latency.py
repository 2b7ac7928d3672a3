#!/usr/bin/env python3
"""Times users.list as the TUI issues it (first page of 200) over the admin socket, 100,000 users.

Each request is timed three ways: `list` is users.list with its counts (what a client waits for
when it needs both), `page` the same without counts (`counts: false`: what the TUI waits for
before it shows the page) and `count` users.count alone (the TUI's "counting…" until it answers).
A daemon without cursors or users.count (before issue 4's keyset pagination) shows "-" there.
Cursor rows page from row 90,000 the way the TUI pages (PgDn / PgUp next to loaded rows), and the
last page is the first page of the reversed sort (the TUI's `G`).

Usage: bench-tui-latency.py ADMIN_SOCKET [REPEATS] [PID,PID,...]

The daemon's database is whatever it was started on (`--data-dir DIR` for SQLite,
`--database-url postgres://…` for PostgreSQL): the requests are the same. A fresh daemon is seeded
with 100,000 users (the bootstrap admin's password is changed to "bench password 123"); a daemon
this script already seeded is measured again as it is.

Wall time depends on what else the machine runs; the optional PIDs (the daemon's, and for
PostgreSQL its backends': `pgrep -d, -f 'postgres: .* DBNAME'`) add the CPU time those processes
spent per request, which does not.
"""
import http.client, json, os, socket, statistics, sys, time

SOCK = sys.argv[1]
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
PIDS = [int(p) for p in sys.argv[3].split(",") if p] if len(sys.argv) > 3 else []
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")

def cpu_ms():
    """User + system CPU time of PIDS so far, in ms."""
    total = 0
    for pid in PIDS:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total * TICK_MS
BENCH_PASSWORD = "bench password 123"

class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("mama")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)

conn = UnixConn(SOCK)
token = None
def call(method, params):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    conn.request("POST", "/rpc", json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}), headers)
    r = conn.getresponse()
    return json.loads(r.read())

def rpc(method, params):
    body = call(method, params)
    if "error" in body:
        raise SystemExit(f"{method}: {body['error']}")
    return body["result"]

again = call("auth.login", {"username": "admin", "password": BENCH_PASSWORD})
if "result" in again:
    token = again["result"]["token"]
else:
    token = rpc("auth.login", {"username": "admin", "password": "admin"})["token"]
    token = rpc("auth.change_password", {"old_password": "admin", "new_password": BENCH_PASSWORD})["token"]

def limits_of(i):
    """Limits for seeded user i (issue 16's shapes): a budget for half, a rate limit for a
    fifth, an expiry within a year for a seventh."""
    limits = {}
    if i % 2 == 0:
        limits["max_budget"] = (i % 200) + 0.5
        limits["budget_period"] = "30d"
    if i % 5 == 0:
        limits["rpm_limit"] = 10 + i % 90
    if i % 7 == 0:
        ahead = time.time() + 86400 * (1 + i % 365)
        limits["expires_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ahead))
    return limits

total = rpc("users.list", {"page": {"limit": 1}})["total"]
if total == 0:
    # Granting a service needs the service (issue 11).
    call("services.create", {"name": "chat"})
    orgs = ["연구소", "개발팀", "Sales", "Ops", "Research"]
    t0 = time.time()
    for start in range(0, 100_000, 4000):
        users = [{"id": f"emp-{i:06d}", "organization": orgs[i % 5] + f"-{i % 97}", "models": ["gpt-4o", "llama3"] if i % 3 else ["mock-gpt"],
                  "services": ["chat"], "info": {"team": f"t{i % 50}"}, "limits": limits_of(i)} for i in range(start, start + 4000)]
        rpc("users.create", {"users": users})
    print(f"seeded 100000 users in {time.time() - t0:.1f} s")
elif total != 100_000:
    raise SystemExit(f"the daemon holds {total} users, not 0 or 100,000")

cases = [
    ("first page, sorted by id", {"page": {"limit": 200}}),
    ("sort by organization desc", {"sort": {"column": "organization", "descending": True}, "page": {"limit": 200}}),
    ("sort by models", {"sort": {"column": "models"}, "page": {"limit": 200}}),
    ("deep page (offset 90,000)", {"page": {"offset": 90000, "limit": 200}}),
    ("filter org:sales", {"filter": {"organization": "sales"}, "page": {"limit": 200}}),
    ("filter model:mock-gpt", {"filter": {"model": "mock-gpt"}, "page": {"limit": 200}}),
    ("filter text '연구' (Hangul)", {"filter": {"text": "연구"}, "page": {"limit": 200}}),
    ("filter text 'emp-0123' (keystroke)", {"filter": {"text": "emp-0123"}, "page": {"limit": 200}}),
    ("filter model:llama3 + sort org", {"filter": {"model": "llama3"}, "sort": {"column": "organization"}, "page": {"limit": 200}}),
    # Shapes beyond the original table: the slow paths of each plan.
    ("filter text 'e' (1 char)", {"filter": {"text": "e"}, "page": {"limit": 200}}),
    ("filter text 'zq' (2 chars, no match)", {"filter": {"text": "zq"}, "page": {"limit": 200}}),
    ("filter text 'emp-0' + sort org desc", {"filter": {"text": "emp-0"}, "sort": {"column": "organization", "descending": True}, "page": {"limit": 200}}),
    ("filter org:연구소 + sort org", {"filter": {"organization": "연구소"}, "sort": {"column": "organization"}, "page": {"limit": 200}}),
    ("filter model:mock-gpt + sort org", {"filter": {"model": "mock-gpt"}, "sort": {"column": "organization"}, "page": {"limit": 200}}),
    ("filter org:sales + model:mock-gpt", {"filter": {"organization": "sales", "model": "mock-gpt"}, "page": {"limit": 200}}),
    ("filter text 'emp-0123' + info:team", {"filter": {"text": "emp-0123", "info_key": "team"}, "page": {"limit": 200}}),
    # Limits and status (issue 16).
    ("sort by budget", {"sort": {"column": "max_budget"}, "page": {"limit": 200}}),
    ("sort by budget desc", {"sort": {"column": "max_budget", "descending": True}, "page": {"limit": 200}}),
    ("sort by spend desc", {"sort": {"column": "spend", "descending": True}, "page": {"limit": 200}}),
    ("sort by rpm", {"sort": {"column": "rpm_limit"}, "page": {"limit": 200}}),
    ("sort by expiry", {"sort": {"column": "expires_at"}, "page": {"limit": 200}}),
    ("filter status:pending", {"filter": {"status": "pending"}, "page": {"limit": 200}}),
    ("filter status:suspended (none)", {"filter": {"status": "suspended"}, "page": {"limit": 200}}),
    ("filter expires:<30d", {"filter": {"expires_within_days": 30}, "page": {"limit": 200}}),
    ("filter budget:none", {"filter": {"has_budget": False}, "page": {"limit": 200}}),
    ("filter spend:>10 (none)", {"filter": {"spend_above": 10}, "page": {"limit": 200}}),
    ("filter org:sales + budget:set + sort budget", {"filter": {"organization": "sales", "has_budget": True}, "sort": {"column": "max_budget"}, "page": {"limit": 200}}),
    ("filter expires:<30d + sort expiry", {"filter": {"expires_within_days": 30}, "sort": {"column": "expires_at"}, "page": {"limit": 200}}),
]
def cursor_at(row, sort):
    """The cursor of row `row` (0-based) in `sort`, or None on a daemon without cursors."""
    body = call("users.list", {"sort": sort, "page": {"offset": row, "limit": 1}, "counts": False})
    return body.get("result", {}).get("end_cursor")

by_id = {"column": "id"}
by_org = {"column": "organization"}
after_90k = cursor_at(89_999, by_id)
before_90k = cursor_at(90_000, by_id)
org_after = cursor_at(89_999, by_org)
by_budget = {"column": "max_budget"}
budget_after = cursor_at(89_999, by_budget)
if after_90k:
    cases += [
        ("page after row 90,000 by cursor (PgDn)", {"cursor": {"after": after_90k}, "page": {"limit": 200}}),
        ("page before row 90,001 by cursor (PgUp)", {"cursor": {"before": before_90k}, "page": {"limit": 200}}),
        ("sort org: page after row 90,000 by cursor", {"sort": by_org, "cursor": {"after": org_after}, "page": {"limit": 200}}),
    ]
if budget_after:
    cases += [
        ("sort budget: page after row 90,000 by cursor", {"sort": by_budget, "cursor": {"after": budget_after}, "page": {"limit": 200}}),
    ]
cases += [
    ("last page (G): reversed sort by id", {"sort": {"column": "id", "descending": True}, "page": {"limit": 200}}),
    ("last page (G) of org:연구소 sorted by org", {"filter": {"organization": "연구소"}, "sort": {"column": "organization", "descending": True}, "page": {"limit": 200}}),
]

def timed(method, params):
    """(median ms, p95 ms, CPU ms per request, result) or None if the daemon refuses it."""
    if "error" in call(method, params):
        return None
    times = []
    cpu0 = cpu_ms()
    for _ in range(REPEATS):
        t = time.perf_counter()
        res = rpc(method, params)
        times.append((time.perf_counter() - t) * 1000)
    cpu = (cpu_ms() - cpu0) / REPEATS
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], cpu, res

def cell(t):
    if t is None:
        return " - |" + (" - |" if PIDS else "")
    return f" {t[0]:.1f} / {t[1]:.1f} |" + (f" {t[2]:.1f} |" if PIDS else "")

print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
cols = ["list", "page (counts: false)", "users.count"]
head = "".join(f" {c} median / p95 ms |" + (f" {c} CPU ms |" if PIDS else "") for c in cols)
print(f"| request (first page of 200, 100,000 users) |{head} matching |")
print("|---|" + "---|" * (len(cols) * (2 if PIDS else 1) + 1))
for name, params in cases:
    listed = timed("users.list", params)
    page = timed("users.list", {**params, "counts": False})
    count = timed("users.count", {"filter": params["filter"]} if "filter" in params else {})
    matching = listed[3]["matching"] if listed else None
    if "cursor" in params:
        count = None
    shown = f"{matching:,}" if matching is not None else "-"
    print(f"| {name} |{cell(listed)}{cell(page)}{cell(count)} {shown} |", flush=True)
print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
