#!/usr/bin/env python3
"""A Python service using vigil: a standard-library HTTP application, vigil's
probe server on its own port, a heartbeat beaten from the request loop, the
default pressure detectors, and drain on SIGTERM.

    VIGIL_LIBRARY=.../libvigil.so python3 example_service.py \\
        --app-port 8080 --probe-port 8081 --drain 5

Prints "app port N" and "probe port N" once serving. On SIGTERM, /readyz
answers 503 at once while the application keeps serving for --drain
seconds (the load balancer takes the instance out of rotation), then it
exits 0.
"""

import argparse
import http.server
import signal
import sys
import threading
import time

import vigil


class App(http.server.BaseHTTPRequestHandler):
    """The application itself: answers every GET with a greeting."""

    def do_GET(self):
        body = b"hello from the python service\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app-port", type=int, default=0)
    parser.add_argument("--probe-port", type=int, default=0)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--drain", type=float, default=5.0,
                        help="seconds to keep serving after SIGTERM")
    args = parser.parse_args(argv)

    app = http.server.HTTPServer((args.address, args.app_port), App)
    app.timeout = 0.1  # handle_request() returns, so the loop beats

    registry = vigil.Registry("python-example", vigil.version())
    watchdog = vigil.Watchdog()
    registry.register_watchdog_liveness(watchdog)
    app_port = app.server_address[1]
    # The application's own port, checked the way a load balancer would.
    registry.register_tcp("127.0.0.1:%d" % app_port, name="app-port",
                          kind=vigil.Kind.SELF, interval=1.0, timeout=1.0)
    registry.register_default_pressure(disk_paths=["/"])
    registry.start()
    probes = registry.serve(args.address, args.probe_port)

    draining = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: draining.set())
    print("app port %d" % app_port, flush=True)
    print("probe port %d" % probes.port, flush=True)

    heartbeat = watchdog.heartbeat("request-loop", miss_after=2,
                                   long_miss_after=5, kill_after=10)
    drain_until = None
    while drain_until is None or time.monotonic() < drain_until:
        heartbeat.beat()
        app.handle_request()  # one request, or 0.1 s without one
        if draining.is_set() and drain_until is None:
            registry.begin_shutdown()  # /readyz: 503 from now on
            drain_until = time.monotonic() + args.drain
    app.server_close()
    watchdog.close()  # closes the heartbeat, the registry, its server
    return 0


if __name__ == "__main__":
    sys.exit(main())
