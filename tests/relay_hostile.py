#!/usr/bin/env python3
"""A buggy or hostile subscriber of `cgrpo relay` (docs/cluster.md, "Broadcast relays").

Starts a learner (loopback, no CURVE: anyone on the machine may connect), one relay and one
actor that takes its weights from the relay, then, while they train, floods the relay's port:
raw TCP garbage, a DEALER's frames, an XSUB's 20,000 junk subscriptions, one 100 KB frame and
frames that are no subscription at all. Passes (exit 0) when, during the flood, a legitimate
SUB of the relay still gets weights; the learner's RSS does not grow (the relay forwards one
way: nothing a subscriber sends reaches the learner); the run completes with its actor
never falling back to a snapshot (one Welcome); and the relay exits 0 after `done`.

  python3 tests/relay_hostile.py --cgrpo build/launch/cgrpo
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import zmq
except ImportError:  # Debian's python3-zmq (launch/setup.sh installs it for the tests)
    print("skipped: no python3-zmq")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "launch"))
from soak import rss_mb  # noqa: E402  (the soak's own helper)


def wait_file(path, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    sys.exit(f"FAIL: no {path} within {timeout} s")


def send_nowait(sock, frames, deadline):
    """Sends what the socket takes without waiting (a flood, not a queue), until deadline."""
    sent = 0
    for frame in frames:
        if time.time() > deadline:
            break
        try:
            sock.send(frame, zmq.NOBLOCK)
            sent += 1
        except zmq.Again:
            time.sleep(0.001)
    return sent


def flood(endpoint):
    host, port = endpoint.rsplit(":", 1)
    ctx = zmq.Context()
    with socket.create_connection((host, int(port))) as s:
        s.sendall(os.urandom(100000))
    deadline = time.time() + 10
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(f"tcp://{endpoint}")
    send_nowait(dealer, (os.urandom(100) for _ in range(1000)), deadline)
    big = ctx.socket(zmq.XSUB)  # one frame over the relay's 4 KiB cap: that connection is cut
    big.connect(f"tcp://{endpoint}")
    time.sleep(0.2)
    send_nowait(big, [b"\x01" + b"A" * 100000], deadline)
    xsub = ctx.socket(zmq.XSUB)  # stays connected, with its junk, while the SUB below listens
    xsub.connect(f"tcp://{endpoint}")
    time.sleep(0.2)
    subs = send_nowait(xsub, (b"\x01" + os.urandom(200) for _ in range(20000)), deadline)
    send_nowait(xsub, (b"\x07junk" + os.urandom(50) for _ in range(5000)), deadline)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://{endpoint}")
    got, t0 = 0, time.time()
    while time.time() - t0 < 8 and got < 2:
        if sub.poll(100):
            sub.recv()
            got += 1
    for s in (dealer, big, xsub, sub):
        s.close(0)
    ctx.term()
    print(f"flood: {subs} junk subscriptions taken")
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cgrpo", required=True)
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix="cg-relay-hostile-")
    procs = []

    def start(argv, log):
        p = subprocess.Popen(argv, stdout=open(os.path.join(out, log), "wb"),
                             stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        run = os.path.join(out, "run")
        learner = start([args.cgrpo, "learner", "--no-progress", "--run-dir", run, "--set",
                         "sim.name=sleep", "--set", "sleep.step_us=300", "--set",
                         "run.iterations=25", "--set", "train.groups=4", "--set",
                         "learner.device=cpu"], "learner.log")
        control = wait_file(os.path.join(run, "endpoint"), learner, 30)
        relay_file = os.path.join(out, "relay.endpoint")
        relay = start([args.cgrpo, "relay", "--connect", control, "--port-file", relay_file],
                      "relay.log")
        relay_ep = wait_file(relay_file, relay, 10)
        actor = start([args.cgrpo, "actor", "--connect", control, "--relay", relay_ep],
                      "actor.log")
        time.sleep(3)
        rss0 = rss_mb(learner.pid)
        got = flood(relay_ep)
        rss1 = rss_mb(learner.pid)
        print(f"legitimate SUB got {got} weights messages during the flood; learner RSS "
              f"{rss0:.0f} -> {rss1:.0f} MB")
        fails = []
        if got < 1:
            fails.append("the legitimate subscriber got no weights during the flood")
        if rss1 > rss0 + 16:
            fails.append(f"the learner grew {rss1 - rss0:.0f} MB while the relay was flooded")
        for p, what in ((learner, "learner"), (actor, "actor"), (relay, "relay")):
            try:
                rc = p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                fails.append(f"{what} did not exit")
                continue
            if rc != 0:
                fails.append(f"{what} exited {rc}")
        alog = open(os.path.join(out, "actor.log")).read()
        if alog.count("welcome:") != 1 or "training is over" not in alog:
            fails.append("the actor fell back to snapshots or did not finish: " + alog[-400:])
        if fails:
            print("FAIL: " + "; ".join(fails) + f" (logs in {out})")
            return 1
        print("passed")
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
