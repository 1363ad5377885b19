#!/usr/bin/env python3
"""A buggy or hostile peer of a learner whose simulator takes continuous actions (protocol 3).

Starts `cgrpo learner` on configs/navigation.ini (loopback, no CURVE) for one iteration and,
written only from docs/protocol.md with python3-zmq and the generated protobuf module:
  1. says Hello without continuous_ok: refused for good (retry false), with the reason;
  2. says Hello with it: the Welcome has head 1 (gaussian) and the MLP's parameters plus
     n_actions log-stds;
  3. pushes GroupBatches a broken actor would send: a NaN in action_vec, integer actions in a
     continuous batch, a batch that says discrete, one action float short, a log-density
     above 4.1 per dimension; each is refused (the learner names the field in its log) and
     the learner keeps running;
  4. pushes 32 valid continuous groups: the learner trains its iteration on them and exits 0.

  python3 tests/continuous_hostile.py --cgrpo build/launch/cgrpo --src .
"""
import argparse
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

try:
    import zmq
except ImportError:  # Debian's python3-zmq (launch/setup.sh installs it for the tests)
    print("skipped: no python3-zmq")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "actor", "python"))
from cgrpo import wire  # noqa: E402
from relay_hostile import wait_file  # noqa: E402  (tests/ is this script's directory)

G, B = 8, 32


def hello(endpoint, continuous_ok):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(f"tcp://{endpoint}")
    env = wire.envelope()
    env.hello.actor_id = -1
    env.hello.host = "hostile"
    env.hello.pid = os.getpid()
    env.hello.continuous_ok = continuous_ok
    s.send(env.SerializeToString())
    if not s.poll(5000):
        sys.exit("FAIL: no answer to Hello")
    reply = wire.pb.Envelope()
    reply.ParseFromString(s.recv())
    return s, reply


def batch(w, run_id, seq, n_groups, rng, spoil=None):
    env = wire.envelope(run_id)
    gb = env.group_batch
    gb.policy_version = w.version
    gb.actor_id = w.actor_id
    gb.seq = seq
    gb.group_size = w.group_size
    gb.n_costs = len(w.cost_names)
    gb.obs_dim = w.obs_dim
    gb.n_actions = w.n_actions
    gb.session = w.session
    gb.continuous = True
    for g in range(n_groups):
        grp = gb.groups.add()
        grp.init_seed = rng.getrandbits(64)
        for _ in range(w.group_size):
            ep = grp.episodes.add()
            ep.reward = rng.random()
            ep.costs.extend([float(rng.random() < 0.3) for _ in w.cost_names])
            ep.length = 3
            ep.temperature = 1.0
            ep.obs.extend([rng.uniform(0, 1) for _ in range(3 * w.obs_dim)])
            ep.action_vec.extend([rng.gauss(0, 0.6) for _ in range(3 * w.n_actions)])
            ep.logp.extend([-rng.uniform(0.5, 3.0) for _ in range(3)])
    if spoil:
        spoil(gb)
    return env.SerializeToString()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cgrpo", required=True)
    ap.add_argument("--src", default=ROOT)
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix="cg-continuous-hostile-")
    run = os.path.join(out, "run")
    log = os.path.join(out, "learner.log")
    learner = subprocess.Popen(
        [args.cgrpo, "learner", "--no-progress", "--config",
         os.path.join(args.src, "configs", "navigation.ini"), "--run-dir", run, "--set",
         "run.iterations=1", "--set", "run.checkpoint_every=0", "--set", "learner.device=cpu"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    fails = []
    try:
        control = wait_file(os.path.join(run, "endpoint"), learner, 30)
        s, reply = hello(control, False)
        body = reply.WhichOneof("body")
        if body != "refusal" or reply.refusal.retry or \
                "cannot roll out continuous actions" not in reply.refusal.reason:
            fails.append(f"a Hello without continuous_ok got {body}: {reply}")
        s.close()
        s, reply = hello(control, True)
        if reply.WhichOneof("body") != "welcome":
            sys.exit(f"FAIL: no Welcome: {reply} (log {log})")
        w = reply.welcome
        sizes = [w.obs_dim] + list(w.hidden) + [w.n_actions]
        mlp = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
        if w.head != 1 or len(w.params) != mlp + w.n_actions or w.n_actions != 2:
            fails.append(f"Welcome head {w.head}, {len(w.params)} params for an MLP of {mlp}")
        run_id = reply.run_id
        push = zmq.Context.instance().socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 2000)
        push.connect(f"tcp://{control.rsplit(':', 1)[0]}:{w.data_port}")
        rng = random.Random(7)

        def nan_action(gb):
            gb.groups[0].episodes[1].action_vec[2] = math.nan

        def int_action(gb):
            gb.groups[0].episodes[0].action.append(1)

        def says_discrete(gb):
            gb.continuous = False

        def short_vector(gb):
            del gb.groups[0].episodes[3].action_vec[-1]

        def high_density(gb):
            gb.groups[0].episodes[2].logp[0] = 4.2 * 2

        spoilers = [(nan_action, "action_vec[2]: not finite"),
                    (int_action, ".action: 1 values, expected 0"),
                    (says_discrete, ".action: 0 values, expected 3 (length 3, discrete)"),
                    (short_vector, ".action_vec: 5 floats, expected 6"),
                    (high_density, "a log-density must be <=")]
        seq = 0
        for spoil, _ in spoilers:
            push.send(batch(w, run_id, seq, 1, rng, spoil))
            seq += 1
        time.sleep(1.0)
        if learner.poll() is not None:
            fails.append(f"the learner exited ({learner.returncode}) on a hostile batch")
        text = open(log, errors="replace").read()
        for _, words in spoilers:
            if words not in text:
                fails.append(f"the learner's log does not name '{words}'")
        for _ in range(B // 8):
            push.send(batch(w, run_id, seq, 8, rng))
            seq += 1
        try:
            rc = learner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
            fails.append("the learner did not finish its iteration on 32 valid groups")
        if rc not in (None, 0):
            fails.append(f"the learner exited {rc}")
        metrics = os.path.join(run, "metrics.csv")
        rows = open(metrics).read().splitlines() if os.path.exists(metrics) else []
        if len(rows) != 2:
            fails.append(f"metrics.csv has {len(rows)} lines, expected a header and 1 row")
        push.close()
        s.close()
    finally:
        if learner.poll() is None:
            learner.send_signal(signal.SIGKILL)
            learner.wait()
    if fails:
        print("FAIL: " + "; ".join(fails) + f" (log {log})")
        return 1
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
