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
