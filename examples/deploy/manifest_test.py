"""kubernetes.yaml's probes match the example service it deploys.

For the vigil-example container of examples/deploy/kubernetes.yaml:
- every probe points at a declared container port: an httpGet probe's port
  (by name) at --port, a grpc probe's port (a number, as Kubernetes
  requires) at --grpc_port;
- the service, started with the manifest's own arguments (the addresses
  and ports moved to 127.0.0.1 and free ports, the upstream at a listening
  loopback socket), answers each probe positively once ready: 200 for
  every httpGet path, SERVING for every grpc probe's service name, called
  over grpc.health.v1 by Debian's python3-grpcio;
- the control: a grpc service name the service does not serve is refused
  (NOT_FOUND), so a misspelled probe would fail here.

Run by run_manifest_test.sh with /usr/bin/python3 (Debian's PyYAML and
grpcio). Without them it skips on a developer machine and fails under CI
(CI set), like VIGIL_REQUIRE_OR_SKIP.
"""

import os
import re
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

try:
    import grpc
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    grpc = yaml = None

SERVING = 1
CHECK = "/grpc.health.v1.Health/Check"


def encode_request(service):
    data = service.encode()
    assert len(data) < 128
    return b"\x0a" + bytes([len(data)]) + data if data else b""


def decode_status(buf):
    # HealthCheckResponse: field 1, enum status (absent when UNKNOWN = 0).
    return buf[1] if len(buf) >= 2 and buf[0] == 0x08 else 0


def load_container(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "vigil-example":
            for c in d["spec"]["template"]["spec"]["containers"]:
                if c["name"] == "app":
                    return c
    raise AssertionError("no vigil-example Deployment with an app container")


def flags(args):
    out = {}
    for a in args:
        m = re.fullmatch(r"--([a-z_]+)=(.*)", a)
        assert m, "not a --flag=value argument: %r" % a
        out[m.group(1)] = m.group(2)
    return out


def probes(container):
    return {kind: container[kind]
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
            if kind in container}


class ManifestTest(unittest.TestCase):

    def setUp(self):
        if grpc is None:
            if os.environ.get("CI"):
                self.fail("required under CI, missing: python3-grpcio or "
                          "python3-yaml")
            self.skipTest("python3-grpcio / python3-yaml not installed")
        self.container = load_container(os.environ["VIGIL_MANIFEST"])
        self.flags = flags(self.container["args"])
        self.ports = {p["name"]: p["containerPort"]
                      for p in self.container["ports"]}

    def test_probes_point_at_the_service_ports(self):
        found = {"httpGet": 0, "grpc": 0}
        for kind, probe in probes(self.container).items():
            if "httpGet" in probe:
                found["httpGet"] += 1
                port = probe["httpGet"]["port"]
                self.assertIn(port, self.ports, kind)
                self.assertEqual(self.ports[port], int(self.flags["port"]),
                                 "%s: not the probe server's --port" % kind)
            else:
                self.assertIn("grpc", probe, kind)
                found["grpc"] += 1
                port = probe["grpc"]["port"]
                self.assertIsInstance(port, int,
                                      "%s: grpc.port must be a number" % kind)
                self.assertIn(port, self.ports.values(), kind)
                self.assertEqual(port, int(self.flags["grpc_port"]),
                                 "%s: not the service's --grpc_port" % kind)
        self.assertGreaterEqual(found["grpc"], 1, "no grpc: probe")
        self.assertGreaterEqual(found["httpGet"], 1, "no httpGet probe")

    def test_the_service_answers_every_probe(self):
        upstream = socket.socket()
        upstream.bind(("127.0.0.1", 0))
        upstream.listen(16)
        self.addCleanup(upstream.close)
        args = dict(self.flags)
        args.update({"address": "127.0.0.1", "port": "0", "app_port": "0",
                     "grpc_port": "0", "warmup": "0s", "pressure": "false",
                     "upstream": "127.0.0.1:%d" % upstream.getsockname()[1]})
        proc = subprocess.Popen(
            [os.environ["VIGIL_SERVICE"]] +
            ["--%s=%s" % kv for kv in args.items()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = []

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)

        self.addCleanup(stop)
        probe_port = grpc_port = None
        deadline = time.monotonic() + 30
        while (probe_port is None or grpc_port is None) and \
                time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            m = re.search(r"vigil-example: probe=[^ ]*:(\d+) ", line)
            if m:
                probe_port = int(m.group(1))
            m = re.search(r"vigil-example: grpc=[^ ]*:(\d+)", line)
            if m:
                grpc_port = int(m.group(1))
        self.assertIsNotNone(probe_port, "".join(output))
        self.assertIsNotNone(grpc_port, "".join(output))
        threading.Thread(target=lambda: [output.append(l) for l in proc.stdout],
                         daemon=True).start()
        channel = grpc.insecure_channel("127.0.0.1:%d" % grpc_port)
        self.addCleanup(channel.close)
        check = channel.unary_unary(CHECK, request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)

        def answer(probe):
            if "httpGet" in probe:
                url = "http://127.0.0.1:%d%s" % (probe_port,
                                                 probe["httpGet"]["path"])
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        return r.status
                except urllib.error.HTTPError as e:
                    return e.code
            return decode_status(check(
                encode_request(probe["grpc"].get("service", "")), timeout=5))

        want = {kind: 200 if "httpGet" in p else SERVING
                for kind, p in probes(self.container).items()}
        # Each probe turns positive once the first checks have run (bounded
        # wait; the service's checks run on its own timers).
        got = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = {kind: answer(p)
                   for kind, p in probes(self.container).items()}
            if got == want:
                break
            time.sleep(0.1)
        self.assertEqual(got, want, "".join(output))

        with self.assertRaises(grpc.RpcError) as err:
            check(encode_request("readyness"), timeout=5)
        self.assertEqual(err.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main(argv=["manifest_test", "-v"])
