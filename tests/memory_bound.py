#!/usr/bin/env python3
"""Hostile peers against the learner's memory bound (docs/robustness.md, "Memory").

Starts a learner (with [learner] max_inbound_mb = --max-inbound-mb) and one actor on
loopback, waits for training, then connects --peers raw ZMTP peers to each of the learner's
three ports (control, data, weights). Each peer completes the ZeroMQ handshake and then sends
frames flagged "more" forever: one message that never ends, which ZeroMQ buffers whole. A cut
peer reconnects and goes on. Meanwhile the learner's RSS is sampled every 20 ms.

Passes (exit 0) when, over --seconds of attack: the learner's RSS stayed under its RSS before
the attack + max_inbound_mb + --slack-mb, the learner is alive and still trained (iterations
went on), and it reports cut connections (metrics.csv, cut_connections). Stops the attack
early (and fails) once RSS passes that bound by 256 MiB, so a learner without the guard does
not take the machine down.

  python3 tests/memory_bound.py --cgrpo build/launch/cgrpo
"""
import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "launch"))
from soak import read_metrics as metrics, rss_mb  # noqa: E402  (the soak's own helpers)

FRAME = 32 << 10  # bytes per "more" frame: under every socket's frame limit (control: 64 KiB)


def zmtp_frame(body, more=False, command=False):
    flags = (1 if more else 0) | (4 if command else 0)
    if len(body) < 256:
        return bytes([flags, len(body)]) + body
    return bytes([flags | 2]) + struct.pack(">Q", len(body)) + body


def zmtp_handshake(sock, socket_type):
    """ZMTP 3.0 with the NULL mechanism: greeting, then a READY command."""
    sock.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") +
                 b"\x00" + b"\x00" * 31)
    got = b""
    while len(got) < 64:
        chunk = sock.recv(64 - len(got))
        if not chunk:
            raise ConnectionError("closed during the greeting")
        got += chunk
    name = b"Socket-Type"
    ready = b"\x05READY" + bytes([len(name)]) + name + struct.pack(">I", len(socket_type)) + \
        socket_type
    sock.sendall(zmtp_frame(ready, command=True))


class Peer(threading.Thread):
    """One hostile connection at a time to port, sending one endless multipart message (or,
    with complete_mb, complete junk messages of that size: they queue up to the high-water
    mark while the learner is busy updating)."""

    def __init__(self, port, socket_type, stop, complete_mb=0):
        super().__init__(daemon=True)
        self.port, self.socket_type, self.stop = port, socket_type, stop
        self.complete_mb = complete_mb
        self.sent = 0
        self.connections = 0

    def run(self):
        if self.complete_mb:
            frame = zmtp_frame(b"\x01" * (self.complete_mb << 20))
        else:
            frame = zmtp_frame(b"\x00" * FRAME, more=True)
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    zmtp_handshake(s, self.socket_type)
                    self.connections += 1
                    while not self.stop.is_set():
                        s.sendall(frame)
                        self.sent += len(frame)
            except OSError:
                time.sleep(0.01)  # cut (or refused): connect again


def learner_ports(log, proc, timeout=30):
    """(control, data, weights) from the learner's start line, or None if it exits first."""
    pat = re.compile(r"control port (\d+) \(data (\d+), weights (\d+)\)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with open(log, errors="replace") as f:
            m = pat.search(f.read())
        if m:
            return tuple(int(g) for g in m.groups())
        time.sleep(0.05)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cgrpo", required=True)
    ap.add_argument("--max-inbound-mb", type=int, default=64)
    ap.add_argument("--slack-mb", type=float, default=64)
    ap.add_argument("--peers", type=int, default=1, help="hostile peers per port")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--complete-mb", type=int, default=0,
                    help="send complete junk messages of this many MiB to the data port "
                         "instead of endless ones to all three")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="cgrpo-membound-")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    run_dir = os.path.join(out, "run")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    # Under AddressSanitizer freed blocks wait in a quarantine (256 MiB by default) before
    # reuse, and freed pages go back to the system every 5 s: both look like growth. A small
    # quarantine and a release every 10 ms keep RSS meaningful (other builds ignore this).
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = ((asan + ":" if asan else "") +
                           "quarantine_size_mb=8:allocator_release_to_os_interval_ms=10")
    procs = []

    def spawn(argv, log):
        p = subprocess.Popen(argv, stdout=open(os.path.join(out, log), "wb"),
                             stderr=subprocess.STDOUT, env=env)
        procs.append(p)
        return p

    # Ports the OS picks (none can collide with another test's); the learner's log names them.
    learner = spawn([a.cgrpo, "learner", "--no-progress", "--run-dir", run_dir,
                     "--set", "learner.port=0", "--set", "run.iterations=1000000",
                     "--set", "run.checkpoint_every=0",
                     "--set", f"learner.max_inbound_mb={a.max_inbound_mb}"], "learner.log")
    ports = learner_ports(os.path.join(out, "learner.log"), learner)
    if ports is None:
        print(f"memory_bound: FAIL: the learner did not start (see {out}/learner.log)")
        learner.kill()
        return 1
    port = ports[0]
    spawn([a.cgrpo, "actor", "--connect", f"127.0.0.1:{port}"], "actor.log")
    problems = []
    stop = threading.Event()
    peers = []
    samples = []
    try:
        deadline = time.monotonic() + 90
        while len(metrics(run_dir)) < 2 and time.monotonic() < deadline:
            if learner.poll() is not None:
                break
            time.sleep(0.1)
        rows_before = len(metrics(run_dir))
        if rows_before < 2:
            problems.append("no training before the attack (see learner.log)")
            raise RuntimeError
        rss0 = rss_mb(learner.pid)
        bound = rss0 + a.max_inbound_mb + a.slack_mb
        targets = ((ports[0], b"DEALER"), (ports[1], b"PUSH"), (ports[2], b"SUB"))
        if a.complete_mb:
            targets = ((port + 1, b"PUSH"),)
        for p, kind in targets:
            for _ in range(a.peers):
                peers.append(Peer(p, kind, stop, a.complete_mb))
        for p in peers:
            p.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < a.seconds:
            r = rss_mb(learner.pid)
            if r is None or learner.poll() is not None:
                problems.append(f"the learner exited during the attack ({learner.returncode})")
                break
            samples.append((time.monotonic() - t0, r))
            if r > bound + 256:
                problems.append(f"RSS {r:.0f} MiB, over the bound {bound:.0f} MiB by 256: "
                                "attack stopped")
                break
            time.sleep(0.02)
        stop.set()
        for p in peers:
            p.join(timeout=5)
        time.sleep(2)  # the iteration in progress ends
        rows = metrics(run_dir)
        cuts = float(rows[-1].get("cut_connections", 0)) if rows else 0
        rss_max = max((r for _, r in samples), default=0.0)
        sent = sum(p.sent for p in peers)
        report = {
            "rss_before_mb": round(rss0, 1), "bound_mb": round(bound, 1),
            "rss_max_mb": round(rss_max, 1), "rss_after_mb": round(rss_mb(learner.pid) or 0, 1),
            "attack_s": round(samples[-1][0] if samples else 0, 1),
            "sent_gib": round(sent / 2**30, 2), "peer_connections": sum(p.connections for p in peers),
            "cut_connections": cuts, "iterations_during": len(rows) - rows_before,
        }
        for k, v in report.items():
            print(f"{k}: {v}")
        if rss_max > bound:
            problems.append(f"RSS reached {rss_max:.0f} MiB (bound {bound:.0f})")
        if learner.poll() is not None:
            problems.append(f"the learner exited ({learner.returncode})")
        if report["iterations_during"] < 1:
            problems.append("no iteration during the attack")
        if cuts < 1:
            problems.append("no cut connection reported")
        with open(os.path.join(out, "rss.csv"), "w") as f:
            f.write("t_s,rss_mb\n")
            for t, r in samples:
                f.write(f"{t:.2f},{r:.1f}\n")
    except RuntimeError:
        pass
    finally:
        stop.set()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    print("memory_bound: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)) +
          f" (logs in {out})")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
