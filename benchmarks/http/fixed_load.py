#!/usr/bin/env python3
"""Sends exactly N GET requests to a loopback HTTP server and checks each
answer, for benchmarks/http/probe_instructions.sh (a fixed amount of work,
where wrk's load is a fixed duration).

  fixed_load.py --port P --requests N [--connections 8] [--close] [--path /readyz]

Keep-alive (default): `--connections` connections, each sending its next
request when the previous answer has arrived (like wrk), until N requests
were answered in all. `--close`: every request on a new connection with
`Connection: close`, `--connections` at a time; the answer is read to EOF.
Exits 1 if any answer is not 200 or a connection fails. Loopback only.
"""

import argparse
import socket
import sys
import threading


def read_keepalive_answer(sock, buf):
    """Reads one answer (headers and Content-Length body) from `sock`,
    keeping any bytes after it in `buf`. Returns the status code."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer's headers")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the answer's body")
        rest += chunk
    buf[:] = rest[length:]
    return status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--close", action="store_true")
    ap.add_argument("--path", default="/readyz")
    args = ap.parse_args()

    host = "127.0.0.1:%d" % args.port
    if args.close:
        request = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (args.path, host)).encode()
    else:
        request = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                   % (args.path, host)).encode()
    lock = threading.Lock()
    state = {"left": args.requests, "ok": 0, "bad": 0, "errors": []}

    def take():
        with lock:
            if state["left"] == 0:
                return False
            state["left"] -= 1
            return True

    def record(ok, error=None):
        with lock:
            state["ok" if ok else "bad"] += 1
            if error is not None and len(state["errors"]) < 5:
                state["errors"].append(error)

    def connect():
        s = socket.create_connection(("127.0.0.1", args.port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def keepalive_client():
        sock = None
        buf = bytearray()
        while take():
            try:
                if sock is None:
                    sock = connect()
                    buf = bytearray()
                sock.sendall(request)
                status = read_keepalive_answer(sock, buf)
                record(status == 200, None if status == 200 else
                       "status %d" % status)
            except OSError as e:
                record(False, repr(e))
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def close_client():
        while take():
            try:
                sock = connect()
                sock.sendall(request)
                data = bytearray()
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                sock.close()
                status = int(bytes(data).split(b" ", 2)[1]) if data else 0
                record(status == 200, None if status == 200 else
                       "status %d" % status)
            except (OSError, ValueError, IndexError) as e:
                record(False, repr(e))

    target = close_client if args.close else keepalive_client
    threads = [threading.Thread(target=target)
               for _ in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("requests=%d ok=%d bad=%d" % (args.requests, state["ok"],
                                        state["bad"]))
    if state["bad"]:
        print("errors: %s" % "; ".join(state["errors"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
