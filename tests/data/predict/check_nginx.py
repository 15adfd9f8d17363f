"""Attacks on the NGINX front, for tests/integration/test_webapp_nginx.sh.

usage: python3 check_nginx.py rate PORT CA_FILE
       python3 check_nginx.py slow PORT CA_FILE N TIMEOUT
rate: one address (127.0.0.1) floods the API; it must get 429s while a
      second address (127.0.0.2) is still served.
slow: N clients (from 127.0.0.4) complete TLS and then trickle a request
      header, one line a second, forever; NGINX must cut every one off
      within TIMEOUT (+ slack) of its start while normal requests (from
      127.0.0.5) keep succeeding.
Exits non-zero with a message when something does not hold.
"""
import http.client
import json
import selectors
import socket
import ssl
import sys
import threading
import time

BODY = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [0.9, 0.1]}]})


def ctx(ca):
    c = ssl.create_default_context(cafile=ca)
    return c


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def infer(port, ca, src, conn=None):
    if conn is None:
        conn = http.client.HTTPSConnection("localhost", port, context=ctx(ca), timeout=10,
                                           source_address=(src, 0))
    conn.request("POST", "/v2/models/xor/infer", body=BODY,
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    return conn, r.status, data


def rate(port, ca):
    counts = {}
    conn = None
    t0 = time.time()
    for _ in range(150):
        conn, st, data = infer(port, ca, "127.0.0.1", conn)
        counts[st] = counts.get(st, 0) + 1
        if st == 429:
            j = json.loads(data)
            if "error" not in j:
                fail("429 without a JSON error: %r" % data)
    dt = time.time() - t0
    print("127.0.0.1: 150 requests in %.2f s: %s" % (dt, counts))
    if counts.get(429, 0) < 30 or counts.get(200, 0) < 40:
        fail("expected >= 40 answers then 429s, got %s" % counts)
    # the flooder is still being limited (at 20 requests/s one gets through
    # every 50 ms), and another address is served
    again = [infer(port, ca, "127.0.0.1", conn)[1] for _ in range(10)]
    ok2 = [infer(port, ca, "127.0.0.2")[1] for _ in range(5)]
    print("127.0.0.1 again: %s; 127.0.0.2: %s" % (again, ok2))
    if again.count(429) < 5:
        fail("the flooding address was let through: %s" % again)
    if ok2 != [200] * 5:
        fail("127.0.0.2 was not served while 127.0.0.1 was limited: %s" % ok2)


def slow(port, ca, n, timeout):
    c = ctx(ca)
    socks = []
    stop = threading.Event()
    normal = {"ok": 0, "bad": [], "max": 0.0}

    def normal_traffic():
        while not stop.is_set():
            t = time.time()
            try:
                conn = http.client.HTTPSConnection("localhost", port, context=ctx(ca), timeout=5,
                                                   source_address=("127.0.0.5", 0))
                conn.request("GET", "/v2/health/ready")
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    normal["ok"] += 1
                else:
                    normal["bad"].append(r.status)
            except (OSError, http.client.HTTPException) as e:
                normal["bad"].append(str(e))
            normal["max"] = max(normal["max"], time.time() - t)
            time.sleep(0.2)

    sel = selectors.DefaultSelector()
    state = {"open": 0, "trickled": time.time()}

    def closed(rec):
        rec[2] = time.time()
        state["open"] -= 1
        sel.unregister(rec[0])
        rec[0].close()

    def service(wait):
        # closures first (a readable socket here means the server closed it),
        # then one header line a second to every client still open
        for key, _ in sel.select(timeout=wait):
            rec = key.data
            try:
                if rec[0].recv(4096) == b"":
                    closed(rec)
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
            except (ssl.SSLError, OSError):
                closed(rec)
        if time.time() - state["trickled"] >= 1:
            state["trickled"] = time.time()
            for rec in socks:
                if rec[2] is None:
                    try:
                        rec[0].send(b"X-Slow: 1\r\n")
                    except (ssl.SSLWantWriteError, BlockingIOError):
                        pass
                    except (ssl.SSLError, OSError):
                        closed(rec)

    th = threading.Thread(target=normal_traffic)
    th.start()
    t0 = time.time()
    for i in range(n):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.4", 0))
        s = c.wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        s.setblocking(False)
        rec = [s, time.time(), None]
        socks.append(rec)
        sel.register(s, selectors.EVENT_READ, rec)
        state["open"] += 1
        service(0)
    opened = time.time() - t0
    print("%d slow clients connected over TLS in %.1f s, each sending a header line a second" % (n, opened))
    deadline = time.time() + timeout + 15
    while state["open"] and time.time() < deadline:
        service(0.2)
    stop.set()
    th.join()
    lived = [rec[2] - rec[1] for rec in socks if rec[2] is not None]
    for rec in socks:
        if rec[2] is None:
            rec[0].close()
    print("cut off: %d of %d; connection lifetime min %.1f s, max %.1f s (client_header_timeout %d s)"
          % (len(lived), n, min(lived) if lived else -1, max(lived) if lived else -1, timeout))
    print("normal requests meanwhile: %d ok, failures %s, slowest %.2f s" % (normal["ok"], normal["bad"][:5], normal["max"]))
    if len(lived) != n:
        fail("%d slow clients were never cut off" % (n - len(lived)))
    if min(lived) < timeout - 1:
        fail("a slow client was closed after %.1f s, before the %d s timeout" % (min(lived), timeout))
    if max(lived) > timeout + 4:
        fail("a slow client lived %.1f s, over the %d s timeout" % (max(lived), timeout))
    if normal["bad"] or normal["ok"] < 5:
        fail("normal requests suffered: %d ok, failures %s" % (normal["ok"], normal["bad"][:5]))


if __name__ == "__main__":
    mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "rate":
        rate(port, ca)
    elif mode == "slow":
        slow(port, ca, int(sys.argv[4]), int(sys.argv[5]))
    else:
        fail("unknown mode")
