"""What a Python check costs against a native one, side by side in one run.

Two registries, one check each: a Python function (through the binding's
ctypes trampoline: GIL, argument conversion, message copy) and a native C
function (vigil_bench_native_check in native_check.so, called through the
same C ABI callback path a C or C++ check uses). Each round is one
synchronous scheduler step that runs the check on a worker and waits for it
(run_once_for_test), so both sides pay the same scheduling; the difference
is the check call. Rounds alternate between the two sides to share any
machine noise. Prints per-run medians and the ratio python / native.

Probes themselves (/readyz) cost the same for both: they are answered by
the C++ probe server from the latest snapshot and never call a check.

    bazel run --config=opt //benchmarks/python:python_check_benchmark
"""

import ctypes
import os
import statistics
import sys
import time

import vigil


def time_rounds(registry, rounds):
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        registry.run_once_for_test()
        samples.append(time.perf_counter_ns() - t0)
    return samples


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    native = ctypes.CDLL(os.environ["VIGIL_NATIVE_CHECK"])
    fn = vigil._CHECK_FN(("vigil_bench_native_check", native))

    # A 1 us interval: the check is due again at every step.
    py = vigil.Registry("bench-python")
    calls = [0]

    def python_check():
        calls[0] += 1
        return vigil.Status.HEALTHY, "ok"

    py.register("check", python_check, interval=1e-6)
    c = vigil.Registry("bench-native")
    err = ctypes.create_string_buffer(256)
    opts = c._opts(vigil.Kind.SELF, interval=1e-6)
    code = vigil._library().vigil_register_check_with_release(
        c._handle, b"check", ctypes.byref(opts), fn, None,
        vigil._RELEASE_FN(), err, len(err))
    assert code == 0, err.value

    py_samples, c_samples = [], []
    for _ in range(10):  # alternate blocks
        py_samples += time_rounds(py, rounds // 10)
        c_samples += time_rounds(c, rounds // 10)
    # Every round ran the check (the native side runs the same schedule).
    assert calls[0] == len(py_samples), (calls[0], len(py_samples))
    assert c.report()["checks"][0].get("lastRunTime")
    py_us = statistics.median(py_samples) / 1000
    c_us = statistics.median(c_samples) / 1000
    print("check run (scheduler step + check), median of %d rounds:" %
          len(py_samples))
    print("  native C check : %8.2f us" % c_us)
    print("  python check   : %8.2f us" % py_us)
    print("  ratio python / native: %.2f" % (py_us / c_us))

    # The bare call, outside the scheduler: ctypes into the C function vs a
    # Python function called from C through the trampoline.
    buf = ctypes.create_string_buffer(512)
    tramp = vigil._CHECK_FN(vigil._check_trampoline(
        lambda: (vigil.Status.HEALTHY, "ok")))
    n = 20000
    for name, f in (("native", fn), ("python", tramp)):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            f(None, buf, len(buf))
        print("  bare call %-6s: %8.3f us (includes ctypes' own call from "
              "Python)" % (name, (time.perf_counter_ns() - t0) / n / 1000))
    py.close()
    c.close()


if __name__ == "__main__":
    main()
