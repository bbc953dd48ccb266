#!/usr/bin/python3
"""Fleet end to end: the shipped rules in a real Prometheus and Alertmanager.

Three example-service instances on loopback, scraped every second by a real
Prometheus (rules evaluated every second, monitoring/rules/vigil.rules.yml
loaded unmodified), alerting through a real Alertmanager to a webhook this
test serves:

  disk   its --scratch_dir is a 16 MiB tmpfs filled at a steady rate until
         ENOSPC; a disk time-to-exhaustion alert naming this instance only
         must reach the webhook before the disk is full. Its main loop also
         hangs for 45 s (--simulate_hang_*): VigilLivenessFailing must fire,
         then resolve after the loop beats again.
  memory runs in a fresh v1 memory cgroup (128 MiB) beside a child that
         grows 0.75 MiB/s until the kernel OOM-kills it; a memory alert for
         this instance must arrive before the cgroup's oom_kill counter moves.
  quiet  nothing happens to it: no alert may name it.

Each instance runs in its own memory cgroup (disk and quiet: 512 MiB), as in
a container, so its memory detector watches its own limit rather than the
shared host's MemAvailable (which other work on the machine moves).

Every Grafana panel query of monitoring/grafana/vigil-fleet.json is also
parsed and run by this Prometheus (/api/v1/query).

Needs root (memory cgroup, tmpfs; tags = ["no-sandbox"]), prometheus and
prometheus-alertmanager: without them it skips, or fails when CI is set.
Every wait is bounded; the whole test takes about 5 minutes.

Usage: fleet_test.py SERVICE_BINARY RULES_FILE DASHBOARD_JSON
"""

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_check  # noqa: E402

TMPFS_BYTES = 16 << 20
FILL_SECONDS = 270.0  # steady rate: TMPFS_BYTES over this long
MEMORY_LIMIT = 128 << 20
QUIET_LIMIT = 512 << 20  # the disk and quiet instances' cgroups
HOG_STEP = 768 << 10  # bytes per second the OOM child grows by
HANG_AFTER_S = 40
HANG_FOR_S = 45
TEST_DEADLINE_S = 480.0
T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def log(msg):
    print(f"[{now():7.1f}s] {msg}", flush=True)


def skip_or_fail(reason):
    if os.environ.get("CI"):
        print(f"FAIL: {reason} (required under CI)")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def wait_for(what, cond, timeout, step=0.2):
    """Polls cond() until it returns a true value; fails after timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = cond()
            if v:
                return v
        except OSError:
            pass
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Webhook(http.server.ThreadingHTTPServer):
    """Alertmanager's webhook receiver: records (time, alert) for each alert
    of each notification."""

    def __init__(self):
        self.events = []  # (test time, status, labels, annotations)
        self.lock = threading.Lock()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                t = now()
                payload = json.loads(body)
                with hook.lock:
                    for a in payload["alerts"]:
                        hook.events.append(
                            (t, a["status"], a["labels"], a["annotations"]))
                        log(f"webhook: {a['status']} {a['labels'].get('alertname')} "
                            f"{a['labels'].get('instance')} "
                            f"{a['labels'].get('check', '')}: "
                            f"{a['annotations'].get('summary', '')}")
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def first(self, status, pred):
        with self.lock:
            for t, s, labels, ann in self.events:
                if s == status and pred(labels):
                    return t, labels, ann
        return None

    def all(self):
        with self.lock:
            return list(self.events)


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, name, argv, tmp, preexec=None):
        self.name = name
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen(argv, stdout=self.log,
                                  stderr=subprocess.STDOUT,
                                  preexec_fn=preexec, start_new_session=True)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.log.close()


def memory_cgroup_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, opts = fields[sep + 1], fields[sep + 3]
            if fstype == "cgroup" and "memory" in opts.split(","):
                return fields[4]
    return None


def write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def oom_kills(cg):
    with open(os.path.join(cg, "memory.oom_control")) as f:
        for line in f:
            k, v = line.split()
            if k == "oom_kill":
                return int(v)
    return 0


def start_service(name, binary, tmp, upstream, extra, preexec=None):
    # Unsupervised: each instance is one process on a port picked once
    # (port 0), so a hung main loop stays hung in place and the liveness
    # alerts fire and resolve on the same scrape target. The supervisor's
    # own alerts are covered by the rule tests and supervisor_metrics_test.
    argv = [binary, "--port=0", "--app_port=0", "--warmup=0s",
            "--drain_delay=0s", "--supervise=false",
            f"--upstream={upstream}"] + extra
    proc = Proc(name, argv, tmp, preexec)
    m = wait_for(f"{name} to print its ports",
                 lambda: re.search(r"vigil-example: probe=127\.0\.0\.1:(\d+)",
                                   proc.output()), 15)
    proc.port = int(m.group(1))
    proc.instance = f"127.0.0.1:{proc.port}"
    log(f"{name}: pid {proc.p.pid}, probe {proc.instance}")
    return proc


def fill_disk(path, deadline):
    """Writes at TMPFS_BYTES / FILL_SECONDS bytes/s until ENOSPC; returns the
    test time when a write first failed (None if the deadline came first)."""
    rate = TMPFS_BYTES / FILL_SECONDS
    chunk = b"\xa5" * (64 << 10)
    written = 0
    start = time.monotonic()
    with open(os.path.join(path, "fill"), "wb", buffering=0) as f:
        for _ in range(10000):  # bounded in count as well as time
            if time.monotonic() > deadline:
                return None
            due = (time.monotonic() - start) * rate
            if written + len(chunk) > due:
                time.sleep(min(0.5, (written + len(chunk) - due) / rate))
                continue
            try:
                written += f.write(chunk)
            except OSError as e:
                if e.errno == 28:  # ENOSPC
                    return now()
                raise
    return None


HOG = r"""
import os, sys, time
step, limit_steps = int(sys.argv[1]), int(sys.argv[2])
with open("/proc/self/oom_score_adj", "w") as f:
    f.write("1000")
blocks = []
start = time.monotonic()
for i in range(limit_steps):
    blocks.append(bytes([i % 251 + 1]) * step)  # touched: resident
    time.sleep(max(0.0, start + i + 1 - time.monotonic()))
"""


def check_dashboard(prom, dashboard):
    """Runs every query of the dashboard on the live Prometheus."""
    with open(dashboard) as f:
        exprs = dashboard_check.queries(json.load(f))
    assert exprs, "dashboard has no queries"
    for q in exprs:
        for k, v in dashboard_check.SUBST.items():
            q = q.replace(k, v)
        url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        try:
            _, body = http_get(url)
        except urllib.error.HTTPError as err:
            raise AssertionError(
                f"dashboard query rejected by Prometheus: {q}: "
                f"{err.read().decode()}")
        assert json.loads(body)["status"] == "success", (q, body)
    log(f"dashboard: {len(exprs)} queries parsed and run by Prometheus")


def first_prediction(prom, check, since, what, instance=None):
    """Prints when Prometheus first stored a time to exhaustion for `check`."""
    sel = f'check="{check}"' + (f', instance="{instance}"' if instance else "")
    epoch0 = time.time() - now()
    q = urllib.parse.urlencode({
        "query": f"vigil_check_time_to_exhaustion_seconds{{{sel}}}",
        "start": epoch0 + since, "end": time.time(), "step": "1s"})
    _, body = http_get(f"{prom}/api/v1/query_range?{q}", timeout=10)
    result = json.loads(body)["data"]["result"]
    if not result:
        print(f"  {what}: no time to exhaustion was ever scraped")
        return
    t, v = result[0]["values"][0]
    print(f"  {what}: first time to exhaustion scraped "
          f"{float(t) - epoch0 - since:.0f}s in: {float(v):.0f}s")


def main():
    binary, rules, dashboard = (os.path.abspath(a) for a in sys.argv[1:4])
    if os.geteuid() != 0:
        skip_or_fail("needs root for a memory cgroup and a tmpfs")
    for tool in ("prometheus", "prometheus-alertmanager"):
        if not shutil.which(tool):
            skip_or_fail(f"{tool} not installed (scripts/setup.sh)")
    cg_root = memory_cgroup_root()
    if not cg_root:
        skip_or_fail("no v1 memory cgroup hierarchy mounted")
    # Mounts stay in a private mount namespace of this test: nothing is left
    # mounted on the host even if the test is killed.
    if os.environ.get("VIGIL_FLEET_UNSHARED") != "1":
        os.environ["VIGIL_FLEET_UNSHARED"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                              sys.executable, __file__] + sys.argv[1:])

    tmp = tempfile.mkdtemp(prefix="fleet.", dir=os.environ.get("TEST_TMPDIR"))
    # Short: the disk check's name (and alert label) holds this path.
    scratch = tempfile.mkdtemp(prefix="vigil-fleet.", dir="/tmp")
    cgroups = {}
    for name, limit in (("disk", QUIET_LIMIT), ("memory", MEMORY_LIMIT),
                        ("quiet", QUIET_LIMIT)):
        cg = os.path.join(cg_root, f"vigil-fleet-{os.getpid()}-{name}")
        try:
            os.mkdir(cg)
        except OSError as e:
            skip_or_fail(f"cannot create memory cgroup {cg}: {e} (a sandbox "
                         "mounts it read-only: tags = [\"no-sandbox\"])")
        cgroups[name] = cg
        limit_cgroup(cg, limit)
    procs = []
    webhook = Webhook()
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    try:
        return run(binary, rules, dashboard, tmp, scratch, cgroups, procs,
                   webhook)
    finally:
        for p in reversed(procs):
            p.stop()
        webhook.shutdown()
        for cg in cgroups.values():
            for _ in range(50):
                try:
                    os.rmdir(cg)
                    break
                except OSError:
                    time.sleep(0.1)
        subprocess.run(["umount", scratch], stderr=subprocess.DEVNULL)
        os.rmdir(scratch)
        if not os.environ.get("VIGIL_FLEET_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


def limit_cgroup(cg, limit):
    write(os.path.join(cg, "memory.limit_in_bytes"), limit)
    try:
        write(os.path.join(cg, "memory.memsw.limit_in_bytes"), limit)
    except OSError:
        pass  # no swap accounting
    write(os.path.join(cg, "memory.swappiness"), 0)


def into(cg):
    """A preexec_fn moving the child into memory cgroup `cg`."""
    return lambda: write(os.path.join(cg, "cgroup.procs"), os.getpid())


def run(binary, rules, dashboard, tmp, scratch, cgroups, procs, webhook):
    upstream = f"127.0.0.1:{webhook.server_address[1]}"  # accepts TCP
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}",
                    "tmpfs", scratch], check=True)
    cg = cgroups["memory"]

    disk = start_service("disk", binary, tmp, upstream, [
        f"--scratch_dir={scratch}", "--main_loop_deadline=1s",
        f"--simulate_hang_after={HANG_AFTER_S}s",
        f"--simulate_hang_for={HANG_FOR_S}s"], into(cgroups["disk"]))
    procs.append(disk)
    memory = start_service("memory", binary, tmp, upstream, [], into(cg))
    procs.append(memory)
    quiet = start_service("quiet", binary, tmp, upstream, [],
                          into(cgroups["quiet"]))
    procs.append(quiet)
    instances = {p.instance: p.name for p in (disk, memory, quiet)}

    am_port, prom_port = free_port(), free_port()
    am_cfg = os.path.join(tmp, "alertmanager.yml")
    with open(am_cfg, "w") as f:
        f.write(f"""route:
  receiver: webhook
  group_by: [alertname, instance, check]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://{upstream}/
        send_resolved: true
""")
    procs.append(Proc("alertmanager", [
        "prometheus-alertmanager", f"--config.file={am_cfg}",
        f"--storage.path={tmp}/am", f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address="], tmp))
    prom_cfg = os.path.join(tmp, "prometheus.yml")
    targets = ", ".join(f'"{i}"' for i in instances)
    with open(prom_cfg, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: ["{rules}"]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:{am_port}"]
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: [{targets}]
""")
    procs.append(Proc("prometheus", [
        "prometheus", f"--config.file={prom_cfg}",
        f"--storage.tsdb.path={tmp}/prom",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        "--rules.alert.resend-delay=1s"], tmp))
    prom = f"http://127.0.0.1:{prom_port}"
    wait_for("alertmanager ready",
             lambda: http_get(f"http://127.0.0.1:{am_port}/-/ready")[0] == 200,
             30)
    wait_for("prometheus ready", lambda: http_get(f"{prom}/-/ready")[0] == 200,
             30)

    def scraped():
        _, body = http_get(f"{prom}/api/v1/query?query=up")
        return len([r for r in json.loads(body)["data"]["result"]
                    if r["value"][1] == "1"]) == 3
    wait_for("three targets up", scraped, 30)
    _, body = http_get(f"{prom}/api/v1/rules")
    groups = [g["name"] for g in json.loads(body)["data"]["groups"]]
    log(f"prometheus: targets up, rule groups loaded: {groups}")
    assert len(groups) == 4, groups
    check_dashboard(prom, dashboard)

    # Memory growth in the cgroup, beside the memory instance.
    hog = Proc("hog", ["/usr/bin/python3", "-c", HOG, str(HOG_STEP),
                       str(2 * MEMORY_LIMIT // HOG_STEP)], tmp, into(cg))
    procs.append(hog)
    oom = {}

    def watch_oom():
        end = time.monotonic() + TEST_DEADLINE_S
        while time.monotonic() < end and oom_kills(cg) == 0:
            time.sleep(0.05)
        oom["t"] = now() if oom_kills(cg) else None
    oom_thread = threading.Thread(target=watch_oom, daemon=True)
    oom_thread.start()

    hang = {}

    def watch_hang():  # the disk instance logs when its loop stops beating
        end = time.monotonic() + TEST_DEADLINE_S
        while time.monotonic() < end and "t" not in hang:
            if "simulating a hang" in disk.output():
                hang["t"] = now()
            time.sleep(0.05)
    threading.Thread(target=watch_hang, daemon=True).start()

    disk_start = now()
    disk_full = fill_disk(scratch, time.monotonic() + FILL_SECONDS * 1.5)
    log(f"disk: full (ENOSPC) at {disk_full}")
    oom_thread.join(TEST_DEADLINE_S)
    log(f"memory: OOM kill at {oom.get('t')}")
    hang_start = hang.get("t")
    assert hang_start is not None, "the disk instance never hung"
    hang_end = hang_start + HANG_FOR_S

    def is_disk(l):
        return l.get("check") == "disk:" + scratch and \
            l["alertname"].startswith("VigilResourceExhaustion")

    def is_memory(l):
        return l.get("check") == "memory" and l["instance"] == memory.instance

    def is_liveness(l):
        return l["alertname"] == "VigilLivenessFailing" and \
            l["instance"] == disk.instance

    wait_for("liveness alert resolved",
             lambda: webhook.first("resolved", is_liveness),
             max(5.0, hang_end + 60 - now()))

    failures = []
    events = webhook.all()
    print("\nalerts received at the webhook (test time, status, alert, "
          "instance, check):")
    for t, s, l, _ in events:
        print(f"  {t:7.1f}s {s:8s} {l['alertname']:32s} "
              f"{instances.get(l.get('instance'), l.get('instance'))} "
              f"{l.get('check', '')}")

    d = webhook.first("firing", is_disk)
    if disk_full is None:
        failures.append("the tmpfs never filled")
    elif not d:
        failures.append("no disk time-to-exhaustion alert")
    elif d[0] >= disk_full:
        failures.append(f"disk alert at {d[0]:.1f}s, after full {disk_full:.1f}s")
    bad = [l for _, _, l, _ in events
           if is_disk(l) and l["instance"] != disk.instance]
    if bad:
        failures.append(f"disk alert on another instance: {bad}")

    m = webhook.first("firing", is_memory)
    if oom.get("t") is None:
        failures.append("no OOM kill in the memory cgroup")
    elif not m:
        failures.append("no memory alert for the memory instance")
    elif m[0] >= oom["t"]:
        failures.append(f"memory alert at {m[0]:.1f}s, after the OOM kill "
                        f"at {oom['t']:.1f}s")

    live = webhook.first("firing", is_liveness)
    resolved = webhook.first("resolved", is_liveness)
    if not live:
        failures.append("no liveness alert for the hung instance")
    if not resolved:
        failures.append("liveness alert never resolved")
    quiet_alerts = [(t, l) for t, _, l, _ in events
                    if l.get("instance") == quiet.instance]
    if quiet_alerts:
        failures.append(f"alerts for the quiet instance: {quiet_alerts}")
    if memory.p.poll() is not None or disk.p.poll() is not None:
        failures.append("an example-service instance died")

    print("\nMEASURED (scrape 1s, eval 1s, group_wait/interval 1s):")
    if d and disk_full:
        print(f"  disk:   {d[1]['alertname']} at the webhook {d[0] - disk_start:.0f}s "
              f"into the fill, {disk_full - d[0]:.0f}s before ENOSPC "
              f"({disk_full - disk_start:.0f}s fill of {TMPFS_BYTES >> 20} MiB): "
              f"{d[2]['summary']}")
    if m and oom.get("t"):
        print(f"  memory: {m[1]['alertname']} ({m[1].get('check')}) at the webhook "
              f"{oom['t'] - m[0]:.0f}s before the OOM kill: {m[2]['summary']}")
    if live:
        print(f"  hang:   VigilLivenessFailing {live[0] - hang_start:.0f}s after the "
              f"hang began (for: 30s)")
    if resolved:
        print(f"          resolved {resolved[0] - hang_end:.0f}s after the loop "
              f"beat again")
    print(f"  quiet:  {len(quiet_alerts)} alerts")
    first_prediction(prom, "disk:" + scratch, disk_start, "disk")
    first_prediction(prom, "memory", 0.0, "memory", memory.instance)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nPASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
