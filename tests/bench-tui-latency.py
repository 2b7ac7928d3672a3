#!/usr/bin/env python3
"""Times users.list as the TUI issues it (first page of 200) over the admin socket, 100,000 users.

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

total = rpc("users.list", {"page": {"limit": 1}})["total"]
if total == 0:
    orgs = ["연구소", "개발팀", "Sales", "Ops", "Research"]
    t0 = time.time()
    for start in range(0, 100_000, 4000):
        users = [{"id": f"emp-{i:06d}", "organization": orgs[i % 5] + f"-{i % 97}", "models": ["gpt-4o", "llama3"] if i % 3 else ["mock-gpt"],
                  "services": ["chat"], "info": {"team": f"t{i % 50}"}} for i in range(start, start + 4000)]
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
]
print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
cpu_column = " CPU ms |" if PIDS else ""
print(f"| request (first page of 200, 100,000 users) | median ms | p95 ms |{cpu_column} matching |")
print("|---|---|---|---|" + ("---|" if PIDS else ""))
for name, params in cases:
    times = []
    cpu0 = cpu_ms()
    for _ in range(REPEATS):
        t = time.perf_counter()
        res = rpc("users.list", params)
        times.append((time.perf_counter() - t) * 1000)
    cpu = f" {(cpu_ms() - cpu0) / REPEATS:.1f} |" if PIDS else ""
    times.sort()
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    print(f"| {name} | {statistics.median(times):.1f} | {p95:.1f} |{cpu} {res['matching']:,} |", flush=True)
print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
