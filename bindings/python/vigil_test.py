"""Tests of the Python binding against the real shared library."""

import threading

import pytest

import vigil


def test_register_run_and_aggregate():
    with vigil.Registry("py-test", "2.0") as r:
        r.register("db", lambda: (vigil.Status.HEALTHY, "connected"),
                   kind=vigil.Kind.DEPENDENCY)
        r.register("cache", lambda: (vigil.Status.UNHEALTHY, "cache down"),
                   critical=False)
        r.register("loop", lambda: vigil.Status.HEALTHY, groups=["liveness"])
        assert r.group_status("readiness") == vigil.Status.UNHEALTHY  # not run
        assert r.run_once_for_test()
        assert r.group_status("readiness") == vigil.Status.DEGRADED
        assert r.group_status("readiness").passing
        assert r.group_status("liveness") == vigil.Status.HEALTHY
        assert r.check_status("cache") == (vigil.Status.UNHEALTHY,
                                           "cache down")
        report = r.report()
        assert report["service"]["name"] == "py-test"
        assert report["status"] == "STATUS_DEGRADED"
        names = [c["name"] for c in report["checks"]]
        assert names == ["cache", "db", "loop"]


def test_exception_in_check_is_unhealthy_with_message():
    with vigil.Registry() as r:
        def boom():
            raise RuntimeError("pool exhausted")
        r.register("boom", boom, failure_threshold=1)
        assert r.run_once_for_test()
        status, message = r.check_status("boom")
        assert status == vigil.Status.UNHEALTHY
        assert "RuntimeError: pool exhausted" in message


def test_bad_registrations_raise_with_reason():
    with vigil.Registry() as r:
        with pytest.raises(vigil.VigilError, match="liveness"):
            r.register("db", lambda: vigil.Status.HEALTHY,
                       groups=["liveness"], kind=vigil.Kind.DEPENDENCY)
        with pytest.raises(vigil.VigilError, match="interval"):
            r.register("x", lambda: vigil.Status.HEALTHY, interval=0)
        r.register("x", lambda: vigil.Status.HEALTHY)
        with pytest.raises(vigil.VigilError, match="already registered"):
            r.register("x", lambda: vigil.Status.HEALTHY)
        with pytest.raises(KeyError):
            r.check_status("nope")
        r.unregister("x")
        with pytest.raises(vigil.VigilError):
            r.unregister("x")


def test_drain_fails_readiness_only():
    with vigil.Registry() as r:
        r.register("ok", lambda: vigil.Status.HEALTHY)
        r.register("live", lambda: vigil.Status.HEALTHY, groups=["liveness"])
        assert r.run_once_for_test()
        assert r.group_status("readiness") == vigil.Status.HEALTHY
        r.begin_shutdown()
        assert r.group_status("readiness") == vigil.Status.UNHEALTHY
        assert r.group_status("liveness") == vigil.Status.HEALTHY
        assert r.report()["shuttingDown"] is True


def test_background_scheduler_calls_python_from_worker_threads():
    ran = threading.Event()

    def check():
        ran.set()
        return vigil.Status.HEALTHY

    with vigil.Registry() as r:
        r.register("bg", check, interval=0.05)
        r.start()
        assert ran.wait(10), "check never ran"
        r.stop()


# ---- The service surface: probes over HTTP, watchdog, ready-made checks,
# pressure, protobuf report; callbacks that block, vanish or get replaced.

import gc
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref


def http_status(port, path):
    try:
        with urllib.request.urlopen(
                "http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_version_is_the_library_s():
    assert vigil.version().count(".") == 2
    with vigil.Registry() as r:
        server = r.serve()
        assert r.run_once_for_test()
        status, body = http_status(server.port, "/metrics")
        assert status == 200
        assert 'vigil_version="%s"' % vigil.version() in body


def test_probe_server_answers_real_http_and_drains():
    with vigil.Registry("probed") as r:
        r.register("ok", lambda: vigil.Status.HEALTHY)
        server = r.serve()
        assert server.port > 0
        assert http_status(server.port, "/readyz")[0] == 503  # not run yet
        assert r.run_once_for_test()
        assert http_status(server.port, "/readyz")[0] == 200
        assert http_status(server.port, "/readyz/ok")[0] == 200
        r.begin_shutdown()
        assert http_status(server.port, "/readyz")[0] == 503
        assert http_status(server.port, "/livez")[0] == 200
        with pytest.raises(vigil.VigilError):
            r.serve(port=server.port)  # in use


def test_ready_made_checks_and_report_proto():
    with vigil.Registry("checks") as r, tempfile.TemporaryDirectory() as d:
        server = r.serve()
        r.register_tcp("127.0.0.1:%d" % server.port, failure_threshold=1)
        r.register_http("http://127.0.0.1:%d/livez" % server.port,
                        name="self-http", failure_threshold=1)
        with open(os.path.join(d, "backup.tar"), "w") as f:
            f.write("data")
        r.register_file_freshness(d, max_age=3600, pattern="*.tar",
                                  name="backups", failure_threshold=1)
        in_use = [48]
        r.register_gauge("pool", lambda: in_use[0], limit=50,
                         unit="connections", failure_threshold=1)
        with pytest.raises(vigil.VigilError, match="limit"):
            r.register_gauge("bad", lambda: 1, limit=0)
        with pytest.raises(vigil.VigilError):
            r.register_tls_cert()  # neither a file nor an address
        names = r.register_default_pressure(disk_paths=["/"])
        assert "memory" in names and "disk:/" in names
        assert r.run_once_for_test(30)
        assert r.check_status("tcp:127.0.0.1:%d" % server.port)[0] == \
            vigil.Status.HEALTHY
        assert r.check_status("self-http")[0] == vigil.Status.HEALTHY
        assert r.check_status("backups")[0] == vigil.Status.HEALTHY
        status, message = r.check_status("pool")
        assert status == vigil.Status.UNHEALTHY
        assert "48 of 50 connections" in message
        data = r.report_proto()
        assert isinstance(data, bytes) and b"checks" in data


def test_watchdog_hung_heartbeat_fails_liveness():
    with vigil.Watchdog(tick=0.01, log_to_stderr=False) as w:
        r = vigil.Registry("wd")
        r.register_watchdog_liveness(w)
        hb = w.heartbeat("loop", miss_after=0.02, long_miss_after=0.04,
                         kill_after=0.08)
        with hb.scope(60, "long operation"):
            pass
        assert wait_until(lambda: w.hung_count() == 1)
        assert r.run_once_for_test()
        status, message = r.check_status("watchdog")
        assert status == vigil.Status.UNHEALTHY and "loop" in message

        def beating():
            hb.beat()
            return w.hung_count() == 0
        assert wait_until(beating)
        with pytest.raises(vigil.VigilError):
            w.heartbeat("bad", miss_after=2, long_miss_after=1)


def test_check_blocking_past_its_timeout_is_unhealthy_and_not_rerun():
    release = threading.Event()
    calls = []

    def slow():
        calls.append(1)
        release.wait(30)
        return vigil.Status.HEALTHY

    with vigil.Registry() as r:
        r.register("slow", slow, timeout=0.05, interval=0.01,
                   failure_threshold=1)
        r.start()
        assert wait_until(
            lambda: "timed out" in r.check_status("slow")[1]), \
            r.check_status("slow")
        assert r.check_status("slow")[0] == vigil.Status.UNHEALTHY
        time.sleep(0.1)  # several intervals: still the one run in flight
        assert len(calls) == 1
        release.set()
        r.stop()


def test_callback_dropped_by_the_caller_stays_alive_while_registered():
    with vigil.Registry() as r:
        def make():
            return lambda: (vigil.Status.HEALTHY, "still here")
        fn = make()
        ref = weakref.ref(fn)
        r.register("gc", fn, failure_threshold=1)
        del fn
        gc.collect()
        assert ref() is not None  # vigil holds it
        assert r.run_once_for_test()
        assert r.check_status("gc") == (vigil.Status.HEALTHY, "still here")
        r.unregister("gc")
        gc.collect()
        assert wait_until(lambda: (gc.collect(), ref() is None)[1])


def test_reregistered_name_never_frees_the_running_callback():
    running, release = threading.Event(), threading.Event()

    def old():
        running.set()
        release.wait(30)
        return vigil.Status.HEALTHY

    ref = weakref.ref(old)
    with vigil.Registry() as r:
        r.register("x", old, interval=0.01, timeout=30)
        del old
        r.start()
        assert running.wait(10)
        r.unregister("x")
        r.register("x", lambda: vigil.Status.HEALTHY, interval=0.01)
        gc.collect()
        assert ref() is not None  # still running: not freed
        release.set()
        assert wait_until(lambda: (gc.collect(), ref() is None)[1])
        assert wait_until(
            lambda: r.check_status("x")[0] == vigil.Status.HEALTHY)
        r.stop()


def test_example_service_probes_and_drains():
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.Popen(
        [sys.executable, os.path.join(here, "example_service.py"),
         "--drain", "1"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        ports = {}
        for _ in range(2):
            line = p.stdout.readline()
            name, port = line.rsplit(" port ", 1)
            ports[name] = int(port)
        app, probes = ports["app"], ports["probe"]
        assert http_status(app, "/")[0] == 200
        assert wait_until(lambda: http_status(probes, "/readyz")[0] == 200,
                          30), http_status(probes, "/readyz?verbose")
        assert http_status(probes, "/livez")[0] == 200
        body = http_status(probes, "/readyz?verbose")[1]
        assert "app-port" in body and "memory" in body
        p.send_signal(signal.SIGTERM)
        assert wait_until(lambda: http_status(probes, "/readyz")[0] == 503)
        assert http_status(app, "/")[0] == 200  # still serving while draining
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
