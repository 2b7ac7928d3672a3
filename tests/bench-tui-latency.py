#!/usr/bin/env python3
"""Times users.list as the TUI issues it (first page of 200) over the admin socket, 100,000 users."""
import http.client, json, socket, statistics, sys, time

SOCK = sys.argv[1]

class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("mama")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)

conn = UnixConn(SOCK)
token = None
def rpc(method, params):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    conn.request("POST", "/rpc", json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}), headers)
    r = conn.getresponse()
    body = json.loads(r.read())
    if "error" in body:
        raise SystemExit(f"{method}: {body['error']}")
    return body["result"]

token = rpc("auth.login", {"username": "admin", "password": "admin"})["token"]
token = rpc("auth.change_password", {"old_password": "admin", "new_password": "bench password 123"})["token"]
orgs = ["연구소", "개발팀", "Sales", "Ops", "Research"]
t0 = time.time()
for start in range(0, 100_000, 4000):
    users = [{"id": f"emp-{i:06d}", "organization": orgs[i % 5] + f"-{i % 97}", "models": ["gpt-4o", "llama3"] if i % 3 else ["mock-gpt"],
              "services": ["chat"], "info": {"team": f"t{i % 50}"}} for i in range(start, start + 4000)]
    rpc("users.create", {"users": users})
print(f"seeded 100000 users in {time.time() - t0:.1f} s")

cases = [
    ("first page, sorted by id", {"page": {"limit": 200}}),
    ("sort by organization desc", {"sort": {"column": "organization", "descending": True}, "page": {"limit": 200}}),
    ("sort by models", {"sort": {"column": "models"}, "page": {"limit": 200}}),
    ("filter text 'emp-0123' (keystroke)", {"filter": {"text": "emp-0123"}, "page": {"limit": 200}}),
    ("filter text '연구' (Hangul)", {"filter": {"text": "연구"}, "page": {"limit": 200}}),
    ("filter org:sales", {"filter": {"organization": "sales"}, "page": {"limit": 200}}),
    ("filter model:mock-gpt", {"filter": {"model": "mock-gpt"}, "page": {"limit": 200}}),
    ("filter model:llama3 + sort org", {"filter": {"model": "llama3"}, "sort": {"column": "organization"}, "page": {"limit": 200}}),
    ("deep page (offset 90,000)", {"page": {"offset": 90000, "limit": 200}}),
]
print("| request (first page of 200, 100,000 users) | median ms | p95 ms | matching |")
print("|---|---|---|---|")
for name, params in cases:
    times = []
    for _ in range(30):
        t = time.perf_counter()
        res = rpc("users.list", params)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"| {name} | {statistics.median(times):.1f} | {times[int(len(times) * 0.95) - 1]:.1f} | {res['matching']} |")
