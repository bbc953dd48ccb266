"""vigil for Python: health checks over vigil's C ABI (bindings/c/vigil.h).

    import vigil

    registry = vigil.Registry("orders", "1.0.0")

    def ping_db():
        return (vigil.Status.HEALTHY, "connected") if db.ping() else \\
               (vigil.Status.UNHEALTHY, "refused")

    registry.register("db", ping_db, groups=["readiness"],
                      kind=vigil.Kind.DEPENDENCY, interval=5.0, timeout=1.0)
    registry.start()
    ...
    if registry.group_status("readiness").passing: ...

A check function takes no arguments and returns a Status, or a
(Status, message) pair. It runs on a vigil worker thread (holding the GIL
while it runs); an exception it raises is reported as UNHEALTHY with the
exception's text. The shared library is found through $VIGIL_LIBRARY, or
next to this file as libvigil.so.
"""

import ctypes
import enum
import json
import os
import threading

__all__ = ["Status", "Kind", "Registry", "VigilError"]


class Status(enum.IntEnum):
    UNKNOWN = 0
    HEALTHY = 1
    DEGRADED = 2
    UNHEALTHY = 3

    @property
    def passing(self):
        """HEALTHY and DEGRADED pass (a probe answers 200)."""
        return self in (Status.HEALTHY, Status.DEGRADED)


class Kind(enum.IntEnum):
    SELF = 0
    DEPENDENCY = 1


class VigilError(Exception):
    """A call was refused; `code` is the C ABI's error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


_CHECK_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)


class _CheckOptions(ctypes.Structure):
    _fields_ = [
        ("interval_seconds", ctypes.c_double),
        ("timeout_seconds", ctypes.c_double),
        ("initial_delay_seconds", ctypes.c_double),
        ("failure_threshold", ctypes.c_int),
        ("success_threshold", ctypes.c_int),
        ("critical", ctypes.c_int),
        ("groups", ctypes.c_char_p),
        ("kind", ctypes.c_int),
        ("allow_dependency_in_liveness", ctypes.c_int),
    ]


def _load():
    path = os.environ.get("VIGIL_LIBRARY") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "libvigil.so")
    lib = ctypes.CDLL(path)
    lib.vigil_registry_new.restype = ctypes.c_void_p
    lib.vigil_registry_new.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.vigil_registry_free.argtypes = [ctypes.c_void_p]
    lib.vigil_check_options_init.argtypes = [ctypes.POINTER(_CheckOptions)]
    lib.vigil_register_check.restype = ctypes.c_int
    lib.vigil_register_check.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_CheckOptions),
        _CHECK_FN, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.vigil_unregister_check.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    for name in ("vigil_start", "vigil_stop", "vigil_begin_shutdown"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.vigil_group_status.restype = ctypes.c_int
    lib.vigil_group_status.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.vigil_check_status.restype = ctypes.c_int
    lib.vigil_check_status.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
        ctypes.c_char_p, ctypes.c_size_t]
    lib.vigil_report_json.restype = ctypes.c_void_p
    lib.vigil_report_json.argtypes = [ctypes.c_void_p]
    lib.vigil_string_free.argtypes = [ctypes.c_void_p]
    lib.vigil_run_once_for_test.restype = ctypes.c_int
    lib.vigil_run_once_for_test.argtypes = [ctypes.c_void_p, ctypes.c_double]
    return lib


_lib = None
_lib_lock = threading.Lock()


def _library():
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = _load()
        return _lib


class Registry:
    """A vigil HealthRegistry. Thread-safe; close() (or `with`) frees it."""

    def __init__(self, service_name="vigil", version=""):
        self._lib = _library()
        self._handle = self._lib.vigil_registry_new(
            service_name.encode(), version.encode())
        if not self._handle:
            raise MemoryError("vigil_registry_new failed")
        self._callbacks = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._handle:
            self._lib.vigil_registry_free(self._handle)
            self._handle = None
            self._callbacks.clear()

    def __del__(self):
        try:
            self.close()
        except Exception:  # Interpreter shutdown: nothing sensible to do.
            pass

    def register(self, name, fn, groups=("readiness",), kind=Kind.SELF,
                 critical=True, interval=10.0, timeout=5.0,
                 initial_delay=0.0, failure_threshold=3, success_threshold=1,
                 allow_dependency_in_liveness=False):
        """Registers `fn` as check `name`. Raises VigilError on bad input."""
        opts = _CheckOptions()
        self._lib.vigil_check_options_init(ctypes.byref(opts))
        opts.interval_seconds = interval
        opts.timeout_seconds = timeout
        opts.initial_delay_seconds = initial_delay
        opts.failure_threshold = failure_threshold
        opts.success_threshold = success_threshold
        opts.critical = 1 if critical else 0
        opts.groups = ",".join(groups).encode()
        opts.kind = int(kind)
        opts.allow_dependency_in_liveness = int(allow_dependency_in_liveness)

        def trampoline(_user, message, length):
            try:
                result = fn()
                text = ""
                if isinstance(result, tuple):
                    result, text = result
                status = int(Status(result))
            except Exception as e:  # Reported, never propagated into C.
                status, text = int(Status.UNHEALTHY), "check raised %s: %s" % (
                    type(e).__name__, e)
            data = str(text).encode()[: max(0, length - 1)]
            ctypes.memmove(message, data + b"\0", len(data) + 1)
            return status

        callback = _CHECK_FN(trampoline)
        err = ctypes.create_string_buffer(512)
        code = self._lib.vigil_register_check(
            self._handle, name.encode(), ctypes.byref(opts), callback, None,
            err, len(err))
        if code != 0:
            raise VigilError(code, err.value.decode())
        self._callbacks[name] = callback  # Keep alive while registered.

    def unregister(self, name):
        code = self._lib.vigil_unregister_check(self._handle, name.encode())
        if code != 0:
            raise VigilError(code, "no check named %r" % name)

    def start(self):
        self._lib.vigil_start(self._handle)

    def stop(self):
        self._lib.vigil_stop(self._handle)

    def begin_shutdown(self):
        """Drain: readiness fails from now on; liveness keeps passing."""
        self._lib.vigil_begin_shutdown(self._handle)

    def group_status(self, group):
        return Status(self._lib.vigil_group_status(self._handle,
                                                   group.encode()))

    def check_status(self, name):
        """(Status, message) of one check; KeyError if absent."""
        status = ctypes.c_int()
        message = ctypes.create_string_buffer(1024)
        code = self._lib.vigil_check_status(
            self._handle, name.encode(), ctypes.byref(status), message,
            len(message))
        if code != 0:
            raise KeyError(name)
        return Status(status.value), message.value.decode()

    def report(self):
        """The vigil.v1.HealthReport as a dict (proto3 JSON mapping)."""
        ptr = self._lib.vigil_report_json(self._handle)
        if not ptr:
            raise VigilError(4, "report failed")
        try:
            return json.loads(ctypes.string_at(ptr).decode())
        finally:
            self._lib.vigil_string_free(ptr)

    def run_once_for_test(self, timeout=10.0):
        """One synchronous scheduler step; True if every run finished."""
        return bool(self._lib.vigil_run_once_for_test(self._handle, timeout))
