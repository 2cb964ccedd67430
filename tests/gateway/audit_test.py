"""The audit log misses nothing (issue 17, defect 5): through the real gateway against the fake engine,
every request to a control path gets exactly one line of valid JSON whatever its outcome (401, 404,
405, 413, 414, 431, 400, 200), invalid UTF-8 in the path is escaped (U+FFFD), the file is created 0600, and a
control body with a duplicate key is refused with 400 (the kill switch stays as it was)."""
import http.client
import json
import os
import sys

from gwtest import check, poll, request, run, start_fake, start_gateway, write_config


def audit_lines(path):
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    check(lines[-1] == b"", "the audit log ends with a newline")
    return [json.loads(l.decode("utf-8", errors="strict")) for l in lines[:-1]]  # strict: valid UTF-8 only


def raw_post(port, path, headers, body):
    """A POST whose path is sent byte for byte (http.client would refuse some bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest("POST", path, skip_accept_encoding=True)
        for k, v in headers.items():
            c.putheader(k, v)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        try:
            c.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def main(args, procs):
    instance = f"audt{os.getpid()}"
    token = "t0ken-" + os.urandom(8).hex()
    audit = os.path.join(args.work, "run", "audit.jsonl")
    cfg = write_config(os.path.join(args.work, "gateway.toml"), instance, audit)
    start_fake(procs, args.fake, instance)
    gw, port = start_gateway(procs, args.gateway, cfg, token=token)
    poll(lambda: json.loads(request(port, "GET", "/api/health")[2])["status"] == "running", "engine running")
    auth = {"X-Admin-Token": token}
    cases = [
        ("POST", "/api/control/kill", {}, None, 401, "unauthorized"),
        ("POST", "/api/control/explode", auth, None, 404, "refused"),
        ("GET", "/api/control/kill", auth, None, 405, "refused"),
        ("PUT", "/api/risk/kill-switch", auth, b"{}", 405, "refused"),
        ("POST", "/api/risk/kill-switch", auth, b'{"enabled":true,"enabled":false}', 400, "bad_request"),
        ("POST", "/api/control/kill", auth, b"x" * (70 * 1024), 413, "refused"),
        ("POST", "/api/risk/kill-switch", auth, b'{"enabled":true}', 200, "done"),
    ]
    for method, path, headers, body, status, _ in cases:
        if status == 413:
            s, _ = raw_post(port, path, headers, body)
        else:
            s = request(port, method, path, headers=headers, body=body)[0]
        check(s == status, f"{method} {path}: {s}, expected {status}")
    # The duplicate key did not reach the engine: the kill switch stayed off until the last request.
    s, b = raw_post(port, b"/api/control/resync/%C0%AE%FF/x".decode("latin-1"), auth, b"")
    check(s == 404, f"resync of an invalid UTF-8 path: {s} {b!r}")
    lines = poll(lambda: (lambda l: l if len(l) == len(cases) + 1 else None)(audit_lines(audit)), "every audit line")
    got = [(l["status"], l["result"]) for l in lines]
    check(got == [(c[4], c[5]) for c in cases] + [(404, "unknown_instrument")], f"audit lines {got}")
    check(any("duplicate key" in l["detail"] for l in lines), f"the 400 names the duplicate key: {lines}")
    check("\ufffd" in lines[-1]["action"], f"invalid UTF-8 replaced: {lines[-1]}")
    check(os.stat(audit).st_mode & 0o777 == 0o600, f"audit log mode {oct(os.stat(audit).st_mode)}")
    test_oversized(port, audit, token, len(lines))
    test_slow_body(port)
    check(gw.poll() is None, "the gateway is still running")
    procs.stop(gw)
    test_rate_limit(args, procs, instance, token)


def raw_status(port, head):
    """Sends `head` (a request line and headers) on a fresh connection; the status of the reply,
    or None when the gateway closed the connection without one."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        try:
            s.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while b"\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except ConnectionResetError:
            pass
        if not reply.startswith(b"HTTP/1."):
            return None
        return int(reply.split(b" ", 2)[1])
    finally:
        s.close()


def test_oversized(port, audit, token, before):
    """Headers over 4 KiB get 431 and a URL over 2 KiB gets 414 (not a silent close), whatever the
    header's name; each such request to a control path gets its audit line; just under the bounds
    is served as before."""
    auth = f"X-Admin-Token: {token}\r\n".encode()
    def head(method, target, extra=b""):
        return f"{method} {target} HTTP/1.1\r\nHost: x\r\n".encode() + auth + extra + b"Content-Length: 0\r\n\r\n"
    cases = [
        (head("GET", "/api/health", b"X-Pad: " + b"p" * 3000 + b"\r\n"), 200),
        (head("GET", "/api/health?x=" + "q" * 1900), 200),
        (head("POST", "/api/control/kill", b"X-Pad: " + b"p" * 5000 + b"\r\n"), 431),
        (head("GET", "/api/quotes", b"Cookie: " + b"c" * 3000 + b"\r\nX-Other: " + b"o" * 3000 + b"\r\n"), 431),
        (head("POST", "/api/control/resync/" + "u" * 3000), 414),
        (head("GET", "/api/quotes?x=" + "q" * 3000), 414),
        (head("POST", "/api/risk/kill-switch?pad=" + "q" * 3000), 414),
    ]
    got = [raw_status(port, h) for h, _ in cases]
    check(got == [c[1] for c in cases], f"statuses {got}, expected {[c[1] for c in cases]}")
    lines = poll(lambda: (lambda l: l if len(l) == before + 3 else None)(audit_lines(audit)), "the oversized audit lines")
    new = lines[before:]
    check([(l["status"], l["result"]) for l in new] == [(431, "refused"), (414, "refused"), (414, "refused")],
          f"audit lines of the oversized control requests: {new}")
    check(new[0]["action"] == "POST /api/control/kill", f"431 action: {new[0]}")
    check(new[1]["action"].startswith("POST /api/control/resync/uuu") and len(new[1]["action"]) < 400,
          f"414 action (shortened): {new[1]['action'][:80]!r} ({len(new[1]['action'])} chars)")
    check(new[2]["action"] == "POST /api/risk/kill-switch", f"414 action: {new[2]}")
    print("ok: oversized headers 431, long URLs 414, audited")


def test_slow_body(port):
    """A POST body trickling in a byte a second is cut by the 10 s idle timeout counted from the
    headers (not restarted by each byte): closed before 20 of its 100 bytes have been sent."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /api/risk/kill-switch HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    sent = 0
    try:
        while sent < 20:
            s.sendall(b" ")
            sent += 1
            s.settimeout(1.0)
            try:
                if s.recv(4096) == b"":
                    break
            except socket.timeout:
                pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    check(sent < 20, f"a slow body keeps its connection: {sent} bytes sent and still open")


def test_rate_limit(args, procs, instance, token):
    """Unauthenticated attempts: 30 a minute per address (a token bucket), then 429 for every control
    request from that address, the right token included; one audit line per run of 429s and a
    counted summary once the address may try again."""
    audit = os.path.join(args.work, "run", "audit-rl.jsonl")
    cfg = write_config(os.path.join(args.work, "gateway-rl.toml"), instance, audit)
    gw, port = start_gateway(procs, args.gateway, cfg, token=token, extra=("--auth-failures-per-min", "30"))
    wrong = {"X-Admin-Token": "guess"}
    got = [request(port, "POST", "/api/control/kill", headers=wrong)[0] for _ in range(40)]
    check(got == [401] * 30 + [429] * 10, f"statuses of 40 guesses: {got}")
    s = request(port, "POST", "/api/control/kill", headers={"X-Admin-Token": token})[0]
    check(s == 429, f"the right token past the bound is refused too: {s}")
    lines = audit_lines(audit)
    check([l["status"] for l in lines] == [401] * 30 + [429], f"audit: 30 lines of 401, one of 429: {len(lines)}")
    refused = 11
    def allowed_again():
        nonlocal refused
        s = request(port, "POST", "/api/control/kill", headers=wrong)[0]
        if s == 429:
            refused += 1
        return s == 401
    poll(allowed_again, "the bucket refills (0.5 attempts a second)", timeout=30.0)
    lines = audit_lines(audit)
    summary, last = lines[-2], lines[-1]
    check(summary["action"] == "rate limit summary" and summary["detail"].startswith(f"{refused - 1} further 429"),
          f"summary of the suppressed lines ({refused - 1}): {summary}")
    check(last["status"] == 401, f"then the next attempt: {last}")
    check(len(lines) == 33, f"33 lines in all: {len(lines)}")
    procs.stop(gw)


if __name__ == "__main__":
    sys.exit(run("audit_test", main, ("--gateway", "--fake", "--work")))
