"""vigil for Python: health checks, probes, pressure and a watchdog over
vigil's C ABI (bindings/c/vigil.h).

    import vigil

    registry = vigil.Registry("orders", "1.0.0")

    def ping_db():
        return (vigil.Status.HEALTHY, "connected") if db.ping() else \\
               (vigil.Status.UNHEALTHY, "refused")

    registry.register("db", ping_db, groups=["readiness"],
                      kind=vigil.Kind.DEPENDENCY, interval=5.0, timeout=1.0)
    registry.register_default_pressure(disk_paths=["/"])
    watchdog = vigil.Watchdog()
    registry.register_watchdog_liveness(watchdog)
    registry.start()
    server = registry.serve(address="0.0.0.0", port=8081)  # /readyz ...
    heartbeat = watchdog.heartbeat("request-loop", kill_after=10)
    while serving:
        heartbeat.beat()
        handle_one_request()
    registry.begin_shutdown()   # drain: /readyz answers 503
    server.stop(); heartbeat.close(); registry.close(); watchdog.close()

A check function takes no arguments and returns a Status, or a
(Status, message) pair. It runs on a vigil worker thread (holding the GIL
while it runs); an exception it raises is reported as UNHEALTHY with the
exception's text; one that blocks past its timeout is reported UNHEALTHY
("timed out") and not started again until it returns. vigil keeps the
function alive while it may call it: dropping your reference, or
unregistering or re-registering the name while a run is in flight, never
frees a function that is still running.

The shared library is found through $VIGIL_LIBRARY, next to this file as
libvigil.so, or as libvigil.so.0 on the dynamic loader's path (an
installed SDK: scripts/install.sh).
"""

import contextlib
import ctypes
import enum
import json
import os
import threading

__all__ = ["Status", "Kind", "Registry", "ProbeServer", "Watchdog",
           "Heartbeat", "VigilError", "version"]


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
_GAUGE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p,
                             ctypes.POINTER(ctypes.c_double))
_RELEASE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_ERR_LEN = 512


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


class _WatchdogOptions(ctypes.Structure):
    _fields_ = [
        ("tick_seconds", ctypes.c_double),
        ("capture_stacks", ctypes.c_int),
        ("log_to_stderr", ctypes.c_int),
        ("abort_on_kill", ctypes.c_int),
    ]


def _library_path():
    if os.environ.get("VIGIL_LIBRARY"):
        return os.environ["VIGIL_LIBRARY"]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "libvigil.so")
    return here if os.path.exists(here) else "libvigil.so.0"


def _sig(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


def _load():
    lib = ctypes.CDLL(_library_path())
    P, S, D, I, Z = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double,
                     ctypes.c_int, ctypes.c_size_t)
    OPTS = ctypes.POINTER(_CheckOptions)
    _sig(lib, "vigil_version", S)
    _sig(lib, "vigil_register_check_with_release", I, P, S, OPTS, _CHECK_FN,
         P, _RELEASE_FN, S, Z)
    _sig(lib, "vigil_dependency_check_options_init", None, OPTS)
    _sig(lib, "vigil_register_tcp_check", I, P, S, S, OPTS, S, Z)
    _sig(lib, "vigil_register_http_check", I, P, S, S, OPTS, S, Z)
    _sig(lib, "vigil_register_file_freshness_check", I, P, S, S, S, D, D,
         OPTS, S, Z)
    _sig(lib, "vigil_register_tls_cert_check", I, P, S, S, S, D, OPTS, S, Z)
    _sig(lib, "vigil_register_gauge_check", I, P, S, _GAUGE_FN, P,
         _RELEASE_FN, D, D, D, S, OPTS, S, Z)
    _sig(lib, "vigil_register_default_pressure", I, P, S, S, S, Z, S, Z)
    _sig(lib, "vigil_report_proto", I, P, ctypes.POINTER(P),
         ctypes.POINTER(Z))
    _sig(lib, "vigil_free", None, P)
    _sig(lib, "vigil_probe_server_start", P, P, S, I, S, Z)
    _sig(lib, "vigil_probe_server_port", I, P)
    _sig(lib, "vigil_probe_server_stop", None, P)
    _sig(lib, "vigil_watchdog_options_init", None,
         ctypes.POINTER(_WatchdogOptions))
    _sig(lib, "vigil_watchdog_new", P, ctypes.POINTER(_WatchdogOptions), S, Z)
    _sig(lib, "vigil_watchdog_free", None, P)
    _sig(lib, "vigil_register_watchdog_liveness", I, P, P, S, Z)
    _sig(lib, "vigil_watchdog_hung_count", I, P)
    _sig(lib, "vigil_heartbeat_new", P, P, S, D, D, D, S, Z)
    _sig(lib, "vigil_heartbeat_beat", None, P)
    _sig(lib, "vigil_heartbeat_scope_begin", I, P, D, S)
    _sig(lib, "vigil_heartbeat_scope_end", I, P)
    _sig(lib, "vigil_heartbeat_free", None, P)
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

# Callbacks vigil may still call, by token: a registration's C function
# pointer and the Python function behind it. vigil's release callback
# (called once the check is gone AND its last run returned) drops the entry,
# so a callback is never freed while it can run.
_live = {}
_live_lock = threading.Lock()
_next_token = [1]


def _keep(*objects):
    with _live_lock:
        token = _next_token[0]
        _next_token[0] += 1
        _live[token] = objects
        return token


def _on_release(token):
    with _live_lock:
        _live.pop(token, None)


_RELEASE = _RELEASE_FN(_on_release)


def version():
    """vigil's version, from the loaded library ("0.1.0")."""
    return _library().vigil_version().decode()


def _error(code, err):
    return VigilError(code, err.value.decode(errors="replace"))


def _library():
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = _load()
        return _lib


def _options(lib, groups, kind, critical, interval, timeout, initial_delay,
             failure_threshold, success_threshold,
             allow_dependency_in_liveness):
    opts = _CheckOptions()
    lib.vigil_check_options_init(ctypes.byref(opts))
    opts.interval_seconds = interval
    opts.timeout_seconds = timeout
    opts.initial_delay_seconds = initial_delay
    opts.failure_threshold = failure_threshold
    opts.success_threshold = success_threshold
    opts.critical = 1 if critical else 0
    opts.groups = ",".join(groups).encode()
    opts.kind = int(kind)
    opts.allow_dependency_in_liveness = int(allow_dependency_in_liveness)
    return opts


def _check_trampoline(fn):
    def trampoline(_user, message, length):
        try:
            result = fn()
            text = ""
            if isinstance(result, tuple):
                result, text = result
            status = int(Status(result))
        except BaseException as e:  # Reported, never propagated into C.
            status, text = int(Status.UNHEALTHY), "check raised %s: %s" % (
                type(e).__name__, e)
        data = str(text).encode()[: max(0, length - 1)]
        ctypes.memmove(message, data + b"\0", len(data) + 1)
        return status
    return trampoline


def _gauge_trampoline(fn):
    def trampoline(_user, value):
        try:
            value[0] = float(fn())
            return 0
        except BaseException:  # The check reports the failure.
            return 1
    return trampoline


def _encode(s):
    return None if s is None else s.encode()


class Registry:
    """A vigil HealthRegistry. Thread-safe; close() (or `with`) frees it.

    Check options (keyword arguments of every register* method): groups,
    kind, critical, interval, timeout, initial_delay, failure_threshold,
    success_threshold, allow_dependency_in_liveness. The ready-made
    dependency checks default to kind=DEPENDENCY.
    """

    def __init__(self, service_name="vigil", version=""):
        self._lib = _library()
        self._handle = self._lib.vigil_registry_new(
            service_name.encode(), version.encode())
        if not self._handle:
            raise MemoryError("vigil_registry_new failed")
        self._servers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stops probe servers and checks, waits for runs in flight, frees."""
        if self._handle:
            for server in self._servers:
                server.stop()
            self._servers = []
            self._lib.vigil_registry_free(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # Interpreter shutdown: nothing sensible to do.
            pass

    def _opts(self, kind, groups=("readiness",), critical=True, interval=10.0,
              timeout=5.0, initial_delay=0.0, failure_threshold=3,
              success_threshold=1, allow_dependency_in_liveness=False):
        return _options(self._lib, groups, kind, critical, interval, timeout,
                        initial_delay, failure_threshold, success_threshold,
                        allow_dependency_in_liveness)

    def _call(self, fn, *args):
        err = ctypes.create_string_buffer(_ERR_LEN)
        code = fn(self._handle, *args, err, len(err))
        if code != 0:
            raise _error(code, err)

    def register(self, name, fn, kind=Kind.SELF, **options):
        """Registers `fn` as check `name`. Raises VigilError on bad input."""
        opts = self._opts(kind, **options)
        callback = _CHECK_FN(_check_trampoline(fn))
        token = _keep(callback, fn)
        # From here vigil owns the token: it releases it (even on error).
        self._call(self._lib.vigil_register_check_with_release, name.encode(),
                   ctypes.byref(opts), callback, ctypes.c_void_p(token),
                   _RELEASE)

    def register_gauge(self, name, fn, limit, warn_ratio=0.8,
                       critical_ratio=0.95, unit="count", kind=Kind.SELF,
                       **options):
        """A value `fn()` returns (a number) against `limit`: DEGRADED at
        warn_ratio * limit, UNHEALTHY at critical_ratio * limit or if `fn`
        raises."""
        opts = self._opts(kind, **options)
        callback = _GAUGE_FN(_gauge_trampoline(fn))
        token = _keep(callback, fn)
        self._call(self._lib.vigil_register_gauge_check, name.encode(),
                   callback, ctypes.c_void_p(token), _RELEASE, float(limit),
                   float(warn_ratio), float(critical_ratio), unit.encode(),
                   ctypes.byref(opts))

    def register_tcp(self, address, name=None, kind=Kind.DEPENDENCY,
                     **options):
        """Can a TCP connection to "host:port" be opened in time?"""
        self._call(self._lib.vigil_register_tcp_check, _encode(name),
                   address.encode(), ctypes.byref(self._opts(kind, **options)))

    def register_http(self, url, name=None, kind=Kind.DEPENDENCY, **options):
        """GET `url`; passing on 200..399."""
        self._call(self._lib.vigil_register_http_check, _encode(name),
                   url.encode(), ctypes.byref(self._opts(kind, **options)))

    def register_file_freshness(self, directory, max_age, pattern="*",
                                warn_age=0.0, name=None, kind=Kind.DEPENDENCY,
                                **options):
        """Is the newest non-empty file matching `pattern` in `directory`
        younger than `max_age` seconds?"""
        self._call(self._lib.vigil_register_file_freshness_check,
                   _encode(name), directory.encode(), pattern.encode(),
                   float(max_age), float(warn_age),
                   ctypes.byref(self._opts(kind, **options)))

    def register_tls_cert(self, pem_file=None, address=None, warn_before=0.0,
                          name=None, kind=Kind.DEPENDENCY, **options):
        """Expiry of a PEM file's or a TLS server's ("host:443")
        certificate; exactly one of pem_file and address."""
        self._call(self._lib.vigil_register_tls_cert_check, _encode(name),
                   _encode(pem_file), _encode(address), float(warn_before),
                   ctypes.byref(self._opts(kind, **options)))

    def register_default_pressure(self, disk_paths=("/",), groups=None):
        """The default resource-pressure detectors (memory, cpu, io, one disk
        check per path, fds, tasks); returns the check names registered."""
        names = ctypes.create_string_buffer(4096)
        self._call(self._lib.vigil_register_default_pressure,
                   ",".join(disk_paths).encode(),
                   None if groups is None else ",".join(groups).encode(),
                   names, len(names))
        return [n for n in names.value.decode().split(",") if n]

    def register_watchdog_liveness(self, watchdog):
        """Check "watchdog" in liveness: UNHEALTHY while a heartbeat of
        `watchdog` is hung. The watchdog must be closed after this
        registry."""
        err = ctypes.create_string_buffer(_ERR_LEN)
        code = self._lib.vigil_register_watchdog_liveness(
            self._handle, watchdog._handle, err, len(err))
        if code != 0:
            raise _error(code, err)
        watchdog._registries.append(self)

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

    def serve(self, address="127.0.0.1", port=0):
        """Starts a dedicated probe server (/livez /readyz /startupz /healthz
        /metrics) on its own thread; port 0 picks a free one. Returns a
        ProbeServer; close() stops it too."""
        server = ProbeServer(self, address, port)
        self._servers.append(server)
        return server

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

    def report_proto(self):
        """The vigil.v1.HealthReport as serialized protobuf bytes."""
        data, size = ctypes.c_void_p(), ctypes.c_size_t()
        code = self._lib.vigil_report_proto(self._handle, ctypes.byref(data),
                                            ctypes.byref(size))
        if code != 0:
            raise VigilError(code, "report failed")
        try:
            return ctypes.string_at(data, size.value)
        finally:
            self._lib.vigil_free(data)

    def run_once_for_test(self, timeout=10.0):
        """One synchronous scheduler step; True if every run finished."""
        return bool(self._lib.vigil_run_once_for_test(self._handle, timeout))


class ProbeServer:
    """A running probe server (Registry.serve). `port` is the bound port."""

    def __init__(self, registry, address, port):
        self._lib = registry._lib
        err = ctypes.create_string_buffer(_ERR_LEN)
        self._handle = self._lib.vigil_probe_server_start(
            registry._handle, address.encode(), int(port), err, len(err))
        if not self._handle:
            raise _error(5, err)
        self.port = self._lib.vigil_probe_server_port(self._handle)

    def stop(self):
        """Closes every connection and joins the server's thread."""
        if self._handle:
            self._lib.vigil_probe_server_stop(self._handle)
            self._handle = None


class Watchdog:
    """Heartbeats with deadlines, watched by a monitor thread.

    A silent heartbeat is reported (miss), then its thread's stack is
    captured (long miss), then it counts as hung (kill): liveness fails if
    registered with Registry.register_watchdog_liveness, and with
    abort_on_kill the process aborts. Close heartbeats first, then
    registries using it, then the watchdog (close() does all of that).
    """

    def __init__(self, tick=0.1, capture_stacks=False, log_to_stderr=True,
                 abort_on_kill=False):
        # Stacks are captured by signalling the stuck thread; in Python that
        # thread is usually the interpreter's, so it is off by default.
        self._lib = _library()
        opts = _WatchdogOptions()
        self._lib.vigil_watchdog_options_init(ctypes.byref(opts))
        opts.tick_seconds = tick
        opts.capture_stacks = int(capture_stacks)
        opts.log_to_stderr = int(log_to_stderr)
        opts.abort_on_kill = int(abort_on_kill)
        err = ctypes.create_string_buffer(_ERR_LEN)
        self._handle = self._lib.vigil_watchdog_new(ctypes.byref(opts), err,
                                                    len(err))
        if not self._handle:
            raise _error(1, err)
        self._heartbeats = []
        self._registries = []

    def heartbeat(self, name, miss_after=1.0, long_miss_after=3.0,
                  kill_after=10.0):
        """Registers a heartbeat bound to the calling thread."""
        hb = Heartbeat(self, name, miss_after, long_miss_after, kill_after)
        self._heartbeats.append(hb)
        return hb

    def hung_count(self):
        """Heartbeats at their kill stage now."""
        return self._lib.vigil_watchdog_hung_count(self._handle)

    def close(self):
        if self._handle:
            for hb in self._heartbeats:
                hb.close()
            for registry in self._registries:
                registry.close()
            self._lib.vigil_watchdog_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Heartbeat:
    """One heartbeat (Watchdog.heartbeat). beat() is one atomic store."""

    def __init__(self, watchdog, name, miss_after, long_miss_after,
                 kill_after):
        self._lib = watchdog._lib
        err = ctypes.create_string_buffer(_ERR_LEN)
        self._handle = self._lib.vigil_heartbeat_new(
            watchdog._handle, name.encode(), miss_after, long_miss_after,
            kill_after, err, len(err))
        if not self._handle:
            raise _error(1, err)

    def beat(self):
        """I am making progress."""
        self._lib.vigil_heartbeat_beat(self._handle)

    @contextlib.contextmanager
    def scope(self, timeout, label=None):
        """`with heartbeat.scope(30, "compaction"):` gives the block its own
        deadline. Use from the watched thread; scopes nest."""
        code = self._lib.vigil_heartbeat_scope_begin(self._handle, timeout,
                                                     _encode(label))
        if code != 0:
            raise VigilError(code, "scope_begin failed")
        try:
            yield self
        finally:
            self._lib.vigil_heartbeat_scope_end(self._handle)

    def close(self):
        if self._handle:
            self._lib.vigil_heartbeat_free(self._handle)
            self._handle = None
