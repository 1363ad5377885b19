#!/usr/bin/env python3
"""Chaos soak: trains while things break, and reports what it cost.

For --minutes minutes, a learner trains the default gridworld run with --actors actors
while this driver
  * SIGKILLs a random half of the actors every --kill-every seconds and starts them again,
  * SIGKILLs the learner --learner-kills times (evenly spread) and restarts it with
    `cgrpo learner --resume` on the same ports,
  * runs a hostile client on the control and data ports the whole time (junk frames,
    multi-frame messages, Hellos with random ids from fresh connections, heartbeats for ids it
    was never given, group batches without a session key or replayed),
then stops the learner (SIGTERM), and compares the last batches' goal rate with a clean run
of the same config (--clean-iterations iterations, no chaos).

Reported (and written to OUT/soak.json, RSS samples to OUT/rss.csv): iterations, the longest
gap between two iterations outside the learner restarts (a stall), groups ingested and the
ones lost (dropped as stale; group batches that never arrived, from the gaps in the actors'
seq numbers), rejected messages, dropped batches, cut connections, the learner's RSS over
time (max, last), and the final goal rate against the clean run's. Exit 0 when the run kept going (every restart resumed,
no stall over --max-stall seconds, RSS under --max-rss-mb, goal rate within --goal-tolerance
of the clean run's), else 1 with the reasons.

  python3 launch/soak.py --cgrpo build/launch/cgrpo --minutes 2 --out /tmp/soak

Needs python3-zmq and python3-protobuf, and protoc (protobuf-compiler) to compile
proto/cgrpo.proto for the hostile client. docs/robustness.md has results.
"""
import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "common", "cg_msg.h")) as _f:  # Envelope.protocol, as cgrpo speaks it
    PROTOCOL = int(re.search(r"#define CG_PROTOCOL_VERSION (\d+)u", _f.read()).group(1))


def load_proto(tmp):
    subprocess.run(["protoc", f"--python_out={tmp}", "-I", os.path.join(ROOT, "proto"),
                    os.path.join(ROOT, "proto", "cgrpo.proto")], check=True)
    sys.path.insert(0, tmp)
    import cgrpo_pb2  # noqa: E402  (generated just now)
    return cgrpo_pb2


class Hostile(threading.Thread):
    """An outsider on the learner's ports, sending what a buggy or hostile peer sends."""

    def __init__(self, pb, host, port, seed):
        super().__init__(daemon=True)
        self.pb, self.host, self.port = pb, host, port
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.sent = 0
        self.refusals = 0

    def envelope(self, run_id=""):
        env = self.pb.Envelope()
        env.protocol = PROTOCOL
        env.run_id = run_id
        return env

    def batch(self):
        env = self.envelope(self.rng.choice(["", "run-guess"]))
        b = env.group_batch
        b.policy_version = self.rng.randrange(0, 50)
        b.actor_id = self.rng.randrange(-1, 16)
        b.seq = self.rng.randrange(0, 1 << 20)
        b.session = self.rng.getrandbits(64)
        b.group_size, b.n_costs, b.obs_dim, b.n_actions = 16, 2, 67, 4
        g = b.groups.add()
        for _ in range(16):
            ep = g.episodes.add()
            ep.reward, ep.length, ep.temperature = 1.0, 1, 1.0
            ep.costs.extend([0.0, 0.0])
            ep.obs.extend([0.0] * 67)
            ep.action.append(0)
            ep.logp.append(-1.0)
        return env.SerializeToString()

    def run(self):
        import zmq
        ctx = zmq.Context()
        push = None
        dealer = None
        while not self.stop.is_set():
            try:
                if dealer is None or self.rng.random() < 0.05:  # a fresh connection now and then
                    if dealer is not None:
                        dealer.close(linger=0)
                    dealer = ctx.socket(zmq.DEALER)
                    dealer.setsockopt(zmq.SNDHWM, 100)
                    dealer.connect(f"tcp://{self.host}:{self.port}")
                if push is None:
                    push = ctx.socket(zmq.PUSH)
                    push.setsockopt(zmq.SNDHWM, 100)
                    push.connect(f"tcp://{self.host}:{self.port + 1}")
                kind = self.rng.randrange(7)
                if kind == 0:  # junk
                    dealer.send(os.urandom(self.rng.randrange(1, 300)), zmq.NOBLOCK)
                elif kind == 1:  # a Hello with a random id (some of them the real actors')
                    env = self.envelope()
                    env.hello.actor_id = self.rng.randrange(-1, 12)
                    env.hello.host = "hostile"
                    env.hello.session = self.rng.getrandbits(64)
                    dealer.send(env.SerializeToString(), zmq.NOBLOCK)
                elif kind == 2:  # a heartbeat for an id it was never given
                    env = self.envelope("run-guess")
                    env.heartbeat.actor_id = self.rng.randrange(0, 12)
                    env.heartbeat.weights_latency_s = -1
                    dealer.send(env.SerializeToString(), zmq.NOBLOCK)
                elif kind == 3:  # multi-frame messages on both sockets
                    dealer.send_multipart([b"x"] * self.rng.randrange(2, 50), zmq.NOBLOCK)
                    push.send_multipart([b"y"] * self.rng.randrange(2, 50), zmq.NOBLOCK)
                elif kind == 4:  # a group batch without the sender's session key
                    push.send(self.batch(), zmq.NOBLOCK)
                elif kind == 5:  # junk on the data socket
                    push.send(os.urandom(self.rng.randrange(1, 2000)), zmq.NOBLOCK)
                else:  # an oversized frame (> 64 MiB would be dropped by ZeroMQ; 1 MiB of junk)
                    push.send(os.urandom(1 << 20), zmq.NOBLOCK)
                self.sent += 1
                while dealer.poll(0):
                    dealer.recv_multipart(zmq.NOBLOCK)
                    self.refusals += 1
            except zmq.Again:
                pass
            except zmq.ZMQError:
                dealer, push = None, None
            time.sleep(0.005)
        for s in (dealer, push):
            if s is not None:
                s.close(linger=0)
        ctx.term()


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def read_metrics(run_dir):
    path = os.path.join(run_dir, "metrics.csv")
    try:
        with open(path) as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def total(rows, key):
    """A counter over the whole soak: counters that restart with each learner process
    (dropped_batches, missing_batches, cut_connections) are summed over the processes."""
    out, prev = 0.0, 0.0
    for r in rows:
        v = float(r.get(key) or 0)
        if v < prev:  # a new learner process
            out += prev
        prev = v
    return out + prev


def goal(rows, last=10):
    rows = rows[-last:]
    return sum(float(r["goal_rate"]) for r in rows) / len(rows) if rows else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cgrpo", default=os.path.join(ROOT, "build", "launch", "cgrpo"))
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--actors", type=int, default=8)
    ap.add_argument("--kill-every", type=float, default=5)
    ap.add_argument("--learner-kills", type=int, default=2)
    ap.add_argument("--clean-iterations", type=int, default=150)
    ap.add_argument("--max-stall", type=float, default=15.0)
    ap.add_argument("--max-rss-mb", type=float, default=1024.0)
    ap.add_argument("--goal-tolerance", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    try:
        import zmq  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        print(f"soak: skipped: {e} (hint: bash launch/setup.sh deps installs python3-zmq and "
              "python3-protobuf)")
        return 77
    if subprocess.run(["protoc", "--version"], capture_output=True).returncode != 0:
        print("soak: skipped: no protoc (hint: bash launch/setup.sh deps installs protobuf-compiler)")
        return 77
    out = a.out or tempfile.mkdtemp(prefix="cgrpo-soak-")
    os.makedirs(out, exist_ok=True)
    for sub in ("clean", "run"):  # a soak of its own, not the continuation of an earlier one
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    for f in os.listdir(out):
        if f.endswith(".log"):
            os.remove(os.path.join(out, f))
    rng = random.Random(a.seed)
    port = 20000 + (os.getpid() * 7) % 30000
    sets = ["--set", f"learner.port={port}", "--set", "run.iterations=1000000",
            "--set", "run.checkpoint_every=5", "--set", "actor.heartbeat_ms=200",
            "--set", "learner.heartbeat_timeout_ms=1500", "--set", f"run.seed={a.seed}"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    procs = []

    def spawn(argv, log):
        p = subprocess.Popen(argv, stdout=open(os.path.join(out, log), "ab"),
                             stderr=subprocess.STDOUT, env=env)
        procs.append(p)
        return p

    # The clean run first: same config, no chaos.
    clean_dir = os.path.join(out, "clean")
    subprocess.run([a.cgrpo, "train", "--no-progress", "--run-dir", clean_dir, "--set",
                    f"run.seed={a.seed}", "--set", f"run.iterations={a.clean_iterations}"],
                   stdout=open(os.path.join(out, "clean.log"), "wb"), stderr=subprocess.STDOUT,
                   env=env, check=True)
    clean_goal = goal(read_metrics(clean_dir))

    run_dir = os.path.join(out, "run")
    tmp = tempfile.mkdtemp(prefix="cgrpo-soak-pb-")
    pb = load_proto(tmp)
    problems = []
    learner = spawn([a.cgrpo, "learner", "--no-progress", "--run-dir", run_dir] + sets,
                    "learner.log")
    actors = {}

    def start_actor(i):
        actors[i] = spawn([a.cgrpo, "actor", "--connect", f"127.0.0.1:{port}", "--actor-id",
                           str(i)], f"actor-{i}.log")

    for i in range(a.actors):
        start_actor(i)
    hostile = Hostile(pb, "127.0.0.1", port, a.seed)
    hostile.start()

    t0 = time.monotonic()
    end = t0 + a.minutes * 60
    kill_at = [t0 + (k + 1) * (end - t0) / (a.learner_kills + 1) for k in range(a.learner_kills)]
    restarts = []  # (down at, back at first new row)
    rss = []
    last_rows, last_row_t, max_gap = 0, time.monotonic(), 0.0
    next_actor_kill = t0 + a.kill_every
    actor_kills = 0
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            rows = read_metrics(run_dir)
            if len(rows) != last_rows:  # a new iteration (a resume may rewind the file)
                if restarts and restarts[-1][1] is None:  # the first since a learner restart
                    restarts[-1] = (restarts[-1][0], now)
                else:
                    max_gap = max(max_gap, now - last_row_t)
                last_rows, last_row_t = len(rows), now
            r = rss_mb(learner.pid)
            if r is not None:
                rss.append((round(now - t0, 2), r))
            if learner.poll() is not None:
                problems.append(f"the learner exited by itself with status {learner.returncode}")
                break
            if now >= next_actor_kill:
                for i in rng.sample(sorted(actors), a.actors // 2):
                    actors[i].kill()
                    actors[i].wait()
                    start_actor(i)
                    actor_kills += 1
                next_actor_kill = now + a.kill_every
            if kill_at and now >= kill_at[0]:
                kill_at.pop(0)
                learner.kill()
                learner.wait()
                restarts.append((now, None))
                learner = spawn([a.cgrpo, "learner", "--no-progress", "--resume", run_dir],
                                "learner.log")
            time.sleep(0.1)
        if time.monotonic() - last_row_t > a.max_stall:
            max_gap = max(max_gap, time.monotonic() - last_row_t)
    finally:
        hostile.stop.set()
        learner.send_signal(signal.SIGTERM)
        try:
            learner.wait(timeout=30)
        except subprocess.TimeoutExpired:
            learner.kill()
            problems.append("the learner did not stop within 30 s of SIGTERM")
        for p in actors.values():
            p.kill()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        hostile.join(timeout=5)

    rows = read_metrics(run_dir)
    last = rows[-1] if rows else {}
    with open(os.path.join(out, "rss.csv"), "w") as f:
        f.write("t_s,rss_mb\n")
        for t, r in rss:
            f.write(f"{t},{r:.1f}\n")
    report = {
        "minutes": a.minutes,
        "actors": a.actors,
        "actor_kills": actor_kills,
        "learner_kills": len(restarts),
        "learner_restarts_resumed": sum(1 for _, back in restarts if back is not None),
        "restart_s": [round(back - down, 2) for down, back in restarts if back is not None],
        "iterations": int(float(last.get("iteration", 0))) if last else 0,
        "longest_stall_s": round(max_gap, 2),
        "groups_ingested": float(last.get("groups_ingested", 0)) if last else 0,
        "dropped_stale": float(last.get("dropped_stale", 0)) if last else 0,
        "rejected_msgs": float(last.get("rejected_msgs", 0)) if last else 0,
        "dropped_batches": total(rows, "dropped_batches"),
        "missing_batches": total(rows, "missing_batches"),
        "cut_connections": total(rows, "cut_connections"),
        "hostile_msgs_sent": hostile.sent,
        "hostile_replies": hostile.refusals,
        "rss_mb_max": round(max((r for _, r in rss), default=0.0), 1),
        "rss_mb_last": round(rss[-1][1], 1) if rss else 0.0,
        "goal_rate_last10": round(goal(rows), 4),
        "clean_goal_rate_last10": round(clean_goal, 4),
        "out": out,
    }
    if report["learner_restarts_resumed"] < len(restarts):
        problems.append(f"{len(restarts) - report['learner_restarts_resumed']} learner restarts "
                        "never produced another iteration")
    if report["longest_stall_s"] > a.max_stall:
        problems.append(f"a stall of {report['longest_stall_s']} s (limit {a.max_stall})")
    if report["rss_mb_max"] > a.max_rss_mb:
        problems.append(f"learner RSS reached {report['rss_mb_max']} MB (limit {a.max_rss_mb})")
    if not report["goal_rate_last10"] >= clean_goal - a.goal_tolerance:
        problems.append(f"goal rate {report['goal_rate_last10']} vs the clean run's "
                        f"{clean_goal:.4f} (tolerance {a.goal_tolerance})")
    if report["iterations"] < 1:
        problems.append("no iteration at all")
    report["problems"] = problems
    with open(os.path.join(out, "soak.json"), "w") as f:
        json.dump(report, f, indent=1)
    for k, v in report.items():
        print(f"{k}: {v}")
    print("soak: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
