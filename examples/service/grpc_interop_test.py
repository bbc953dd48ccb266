"""Interoperability: Debian's python3-grpcio (a client vigil did not write)
calls grpc.health.v1 Check, Watch and List on the example service.

Generic calls with hand-encoded protobuf bytes, so the test needs no
generated code: HealthCheckRequest is field 1 (string service);
HealthCheckResponse is field 1 (enum status, absent when UNKNOWN = 0);
HealthListResponse is field 1, a map<string, HealthCheckResponse> (entries
with key = 1, value = 2).

Run by run_grpc_interop_test.sh with /usr/bin/python3. Without grpcio it
skips on a developer machine and fails under CI (CI set), like
VIGIL_REQUIRE_OR_SKIP.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

try:
    import grpc
except ImportError:  # pragma: no cover - depends on the machine
    grpc = None

UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN = 0, 1, 2, 3
CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"
LIST = "/grpc.health.v1.Health/List"


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(buf):
    """Yields (field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 2:
            n, i = _read_varint(buf, i)
            value, i = bytes(buf[i:i + n]), i + n
        else:
            raise ValueError("unexpected wire type %d" % wire)
        yield number, wire, value


def encode_request(service):
    data = service.encode()
    return b"\x0a" + _varint(len(data)) + data if data else b""


def decode_status(buf):
    status = UNKNOWN
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 0:
            status = value
    return status


def decode_list(buf):
    statuses = {}
    for number, _, entry in _fields(buf):
        if number != 1:
            continue
        key, status = "", UNKNOWN
        for n, _, v in _fields(entry):
            if n == 1:
                key = v.decode()
            elif n == 2:
                status = decode_status(v)
        statuses[key] = status
    return statuses


def _identity(b):
    return b


class GrpcInteropTest(unittest.TestCase):

    def setUp(self):
        if grpc is None:
            if os.environ.get("CI"):
                self.fail("required under CI, missing: python3-grpcio")
            self.skipTest("python3-grpcio not installed (scripts/setup.sh)")
        # A listening upstream, so the example's readiness can pass.
        self.upstream = socket.socket()
        self.upstream.bind(("127.0.0.1", 0))
        self.upstream.listen(16)
        binary = os.environ["VIGIL_SERVICE"]
        self.proc = subprocess.Popen(
            [binary, "--port=0", "--app_port=0", "--grpc_port=0",
             "--warmup=0s", "--pressure=false", "--drain_delay=2s",
             "--upstream=127.0.0.1:%d" % self.upstream.getsockname()[1]],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = []
        port = self._wait_for_grpc_port()
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % port)
        self.check = self.channel.unary_unary(
            CHECK, request_serializer=_identity,
            response_deserializer=_identity)
        self.list = self.channel.unary_unary(
            LIST, request_serializer=_identity,
            response_deserializer=_identity)
        self.watch = self.channel.unary_stream(
            WATCH, request_serializer=_identity,
            response_deserializer=_identity)

    def tearDown(self):
        if getattr(self, "proc", None) is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=30)
            if getattr(self, "reader", None) is not None:
                self.reader.join(timeout=10)
            self.proc.stdout.close()
            self.channel.close()
            self.upstream.close()

    def _wait_for_grpc_port(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            m = re.search(r"vigil-example: grpc=[^ ]*:(\d+)", line)
            if m:
                # Keep draining the output so the service never blocks.
                self.reader = threading.Thread(target=self._drain_output,
                                               daemon=True)
                self.reader.start()
                return int(m.group(1))
        self.fail("no grpc port printed:\n" + "".join(self.output))

    def _drain_output(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def _check(self, service):
        return decode_status(self.check(encode_request(service), timeout=10))

    def _next(self, stream):
        return decode_status(next(stream))

    def test_check_watch_list_and_drain(self):
        ready = self.watch(encode_request("readiness"), timeout=60)
        # The first message comes at once; readiness turns SERVING once the
        # first checks have run.
        status = self._next(ready)
        while status != SERVING:
            self.assertIn(status, (UNKNOWN, NOT_SERVING))
            status = self._next(ready)

        self.assertEqual(self._check(""), SERVING)
        self.assertEqual(self._check("liveness"), SERVING)
        self.assertEqual(self._check("readiness"), SERVING)
        self.assertEqual(self._check("upstream"), SERVING)
        with self.assertRaises(grpc.RpcError) as err:
            self._check("no-such-service")
        self.assertEqual(err.exception.code(), grpc.StatusCode.NOT_FOUND)

        unknown = self.watch(encode_request("no-such-service"), timeout=60)
        self.assertEqual(self._next(unknown), SERVICE_UNKNOWN)

        statuses = decode_list(self.list(b"", timeout=10))
        for name in ("", "liveness", "readiness", "startup", "upstream",
                     "warmup"):
            self.assertIn(name, statuses)
        self.assertEqual(statuses["readiness"], SERVING)
        self.assertEqual(statuses["upstream"], SERVING)

        # Drain: readiness turns NOT_SERVING at once; after --drain_delay the
        # service completes every Watch stream with OK and exits 0.
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self._next(ready), NOT_SERVING)
        self.assertEqual(self._check("liveness"), SERVING)
        with self.assertRaises(StopIteration):
            next(ready)
        self.assertEqual(ready.code(), grpc.StatusCode.OK)
        with self.assertRaises(StopIteration):
            next(unknown)
        self.assertEqual(self.proc.wait(timeout=30), 0,
                         "".join(self.output))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
