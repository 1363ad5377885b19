#!/usr/bin/env python3
"""Python actors (actor/python/cgrpo, docs/python.md) against a real `cgrpo learner`.

  python3 tests/test_python_actor.py --cgrpo build/launch/cgrpo [TEST...]

policy        the layout and forward against a float64 reference; sampling frequencies and the
              temperature-1 log-prob convention
logp_match    the learner's first update (1 epoch, 1 minibatch) sees the Python actor's
              log-probs as its own: |approx_kl| < 1e-6
trains        Python actors alone train configs/cartpole_safe_python.ini: reward rises
mixed         a learner running the C plugin of the same task, one `cgrpo actor` and one
              Python actor: both deliver groups, the run learns
reconnect     the learner is SIGKILLed and resumed; the same actor goes on to the end
bad_env       NaN observations and a cost of 0.5 stop the actor with a clear EnvError, and the
              learner receives nothing (rejected_msgs 0)
curve         a learner bound to 0.0.0.0 with CURVE keys and a run token (cgrpo keygen): a
              Python actor with the public key and the token trains; a wrong token is refused
doc_example   docs/protocol.md's GroupBatch in protobuf text format parses as an Envelope
same_task     the Python cart-pole and the C plugin (--plugin, through ctypes) give the same
              observations, costs and ends for the same seeds and actions
Exit 0 all passed, 1 a failure, 77 skipped (no numpy, zmq or protobuf).
"""
import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "actor", "python"))
sys.path.insert(0, os.path.join(ROOT, "actor", "python", "examples"))
sys.path.insert(0, os.path.join(ROOT, "launch"))
from soak import read_metrics as metrics  # noqa: E402  (the soak's own helper)

CONFIG = os.path.join(ROOT, "configs", "cartpole_safe_python.ini")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Learner:
    """`cgrpo learner` on a port of its own, stopped by PID when the test ends."""

    def __init__(self, cgrpo, out, sets, resume=False, port=None):
        self.run_dir = os.path.join(out, "run")
        endpoint = os.path.join(self.run_dir, "endpoint")
        before = os.stat(endpoint).st_mtime_ns if resume and os.path.exists(endpoint) else None
        # port 0: the OS picks (no other test can hold it); a resumed learner takes its
        # earlier port again, if free, so that running actors find it
        argv = [cgrpo, "learner", "--no-progress"]
        argv += ["--resume", self.run_dir] if resume else \
            ["--config", CONFIG, "--run-dir", self.run_dir, "--set", "learner.port=0"]
        for s in sets:
            argv += ["--set", s]
        self.log = open(os.path.join(out, "learner.log"), "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(endpoint) or os.stat(endpoint).st_mtime_ns == before:
            check(self.proc.poll() is None and time.monotonic() < deadline,
                  f"the learner did not start (see {out}/learner.log)")
            time.sleep(0.05)
        time.sleep(0.2)
        with open(endpoint) as f:
            self.port = int(f.read().strip().rsplit(":", 1)[1])
        check(port is None or self.port == port,
              f"the resumed learner is on port {self.port}, not its earlier {port}")

    def connect(self):
        return f"127.0.0.1:{self.port}"

    def wait(self, timeout=120):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise Fail(f"the learner did not finish within {timeout} s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def summary(self):
        with open(os.path.join(self.run_dir, "summary.json")) as f:
            return json.load(f)


def run_actor(connect, env_fn, n_envs=16, **kw):
    from cgrpo import Actor
    return Actor(connect, env_fn, n_envs=n_envs, log=lambda m: None, **kw).run()


def test_policy(a, out):
    import numpy as np
    from cgrpo import Policy
    rng = np.random.default_rng(3)
    for act in ("tanh", "relu"):
        p = Policy(5, [7, 3], 4, act)
        params = rng.standard_normal(p.n_params).astype(np.float32)
        p.set_params(params)
        check(p.n_params == (5 + 1) * 7 + (7 + 1) * 3 + (3 + 1) * 4, "parameter count")
        obs = rng.standard_normal((9, 5)).astype(np.float32)
        # The reference: the layout read by hand, in float64.
        off, h = 0, obs.astype(np.float64)
        for k, (i, o) in enumerate([(5, 7), (7, 3), (3, 4)]):
            w = params[off:off + o * i].astype(np.float64).reshape(o, i)
            off += o * i
            b = params[off:off + o].astype(np.float64)
            off += o
            h = h @ w.T + b
            if k < 2:
                h = np.tanh(h) if act == "tanh" else np.maximum(h, 0)
        err = np.max(np.abs(p.logits(obs) - h) / (1 + np.abs(h)))
        check(err < 1e-6, f"{act} forward differs from the reference by {err:g}")
    z = np.array([[0.5, -1.0, 2.0]] * 200000)
    for t in (1.0, 0.5, 2.0):
        actions, logp = Policy.sample(z, np.full(len(z), t), rng)
        want = np.exp(z[0] / t) / np.exp(z[0] / t).sum()
        freq = np.bincount(actions, minlength=3) / len(actions)
        check(np.max(np.abs(freq - want)) < 0.005, f"T={t}: frequencies {freq} vs {want}")
        lp1 = z[0] - np.log(np.exp(z[0]).sum())
        check(np.allclose(logp, lp1[actions], atol=1e-6), "log-probs are not at temperature 1")


def test_logp_match(a, out):
    from cartpole_safe import make_env
    lrn = Learner(a.cgrpo, out, ["run.iterations=2", "train.epochs=1", "train.minibatches=1"])
    try:
        run_actor(lrn.connect(), make_env)
        check(lrn.wait() == 0, "the learner did not finish cleanly")
        kl = float(metrics(lrn.run_dir)[0]["approx_kl"])
        print(f"    first update approx_kl {kl:.3g}")
        check(abs(kl) < 1e-6, f"first update approx_kl {kl}: the learner's log-probs differ")
    finally:
        lrn.stop()


def test_trains(a, out):
    from cartpole_safe import make_env
    lrn = Learner(a.cgrpo, out, ["run.iterations=15"])
    try:
        threads = [threading.Thread(target=run_actor, args=(lrn.connect(), make_env))
                   for _ in range(2)]
        for t in threads:
            t.start()
        check(lrn.wait() == 0, "the learner did not finish cleanly")
        for t in threads:
            t.join(timeout=30)
        rows = metrics(lrn.run_dir)
        r0, r1 = float(rows[0]["reward_mean"]), float(rows[-1]["reward_mean"])
        print(f"    15 iterations, 2 Python actors: reward {r0:.3f} -> {r1:.3f}")
        check(len(rows) == 15 and r1 > r0 + 0.2, f"reward {r0} -> {r1}: no learning")
    finally:
        lrn.stop()


def test_mixed(a, out):
    from cartpole_safe import make_env
    if not a.plugin:
        print("    (no --plugin: skipped)")
        return
    lrn = Learner(a.cgrpo, out, ["run.iterations=15", "sim.name=", f"sim.plugin={a.plugin}",
                                 "cartpole_safe.safe_x=0.8"])
    c_actor = subprocess.Popen([a.cgrpo, "actor", "--connect", lrn.connect(), "--actor-id", "7"],
                               stdout=open(os.path.join(out, "c-actor.log"), "wb"),
                               stderr=subprocess.STDOUT)
    try:
        sent = run_actor(lrn.connect(), make_env)
        check(lrn.wait() == 0, "the learner did not finish cleanly")
        check(c_actor.wait(timeout=30) == 0, "the C actor did not end cleanly")
        with open(os.path.join(out, "c-actor.log")) as f:
            c_log = f.read()
        rows = metrics(lrn.run_dir)
        r0, r1 = float(rows[0]["reward_mean"]), float(rows[-1]["reward_mean"])
        print(f"    Python actor {sent} groups, C actor: {c_log.strip().splitlines()[-1]}; "
              f"reward {r0:.3f} -> {r1:.3f}")
        check(sent > 0 and "groups sent" in c_log and " 0 groups sent" not in c_log,
              "an actor delivered nothing")
        check(r1 > r0 + 0.2, f"reward {r0} -> {r1}: no learning")
    finally:
        if c_actor.poll() is None:
            c_actor.kill()
            c_actor.wait()
        lrn.stop()


def test_reconnect(a, out):
    from cartpole_safe import make_env
    sets = ["run.iterations=12", "run.checkpoint_every=2", "actor.heartbeat_ms=100",
            "learner.heartbeat_timeout_ms=1000"]
    lrn = Learner(a.cgrpo, out, sets)
    result = {}
    t = threading.Thread(target=lambda: result.update(sent=run_actor(lrn.connect(), make_env)))
    t.start()
    try:
        deadline = time.monotonic() + 60
        while len(metrics(lrn.run_dir)) < 4:
            check(time.monotonic() < deadline, "no 4 iterations before the kill")
            time.sleep(0.05)
        lrn.proc.send_signal(signal.SIGKILL)
        lrn.proc.wait()
        lrn2 = Learner(a.cgrpo, out, [], resume=True, port=lrn.port)
        try:
            check(lrn2.wait() == 0, "the resumed learner did not finish cleanly")
            t.join(timeout=30)
            check(not t.is_alive(), "the actor did not end with the resumed run")
            check(lrn2.summary()["iterations"] == 12, "the resumed run did not reach 12")
            print(f"    killed at iteration >= 4, resumed; the actor sent {result.get('sent')} "
                  "groups in all")
        finally:
            lrn2.stop()
    finally:
        lrn.stop()


class NanEnv:
    def __init__(self, bad_step, field):
        from cartpole_safe import CartPoleSafe
        self.env, self.bad_step, self.field, self.t = CartPoleSafe(), bad_step, field, 0

    def reset(self, seed=None):
        self.t = 0
        return self.env.reset(seed)

    def step(self, action):
        o, r, term, trunc, info = self.env.step(action)
        self.t += 1
        if self.t == self.bad_step:
            if self.field == "obs":
                o = o.copy()
                o[1] = math.nan
            else:
                info = {"costs": [0.5]}
        return o, r, term, trunc, info


def test_bad_env(a, out):
    from cgrpo import EnvError
    lrn = Learner(a.cgrpo, out, ["run.iterations=1000"])
    try:
        for field, words in (("obs", "not finite"), ("cost", "exactly 0 or 1")):
            try:
                run_actor(lrn.connect(), lambda: NanEnv(3, field))
                raise Fail(f"bad {field}: no error")
            except EnvError as e:
                print(f"    bad {field}: EnvError: {e}")
                check(words in str(e) and "step 2" in str(e), f"bad {field}: unclear error {e}")
        lrn.proc.send_signal(signal.SIGINT)
        lrn.wait()
        check(lrn.summary()["rejected_msgs"] == 0, "the learner received a bad batch")
        check(lrn.summary()["env_steps"] == 0, "the learner received a batch")
    finally:
        lrn.stop()


def test_doc_example(a, out):
    from google.protobuf import text_format
    from cgrpo import wire
    with open(os.path.join(ROOT, "docs", "protocol.md")) as f:
        text = f.read()
    start = text.index("in protobuf text format:")
    block = text[text.index("```", start) + 3:]
    block = block[block.index("\n") + 1:block.index("```")]
    env = text_format.Parse(block, wire.pb.Envelope())
    b = env.group_batch
    check(env.protocol == wire.PROTOCOL, "the example's protocol is not this package's")
    for g in b.groups:
        check(len(g.episodes) == b.group_size, "episodes != group_size")
        for ep in g.episodes:
            check(len(ep.obs) == ep.length * b.obs_dim and len(ep.action) == ep.length and
                  len(ep.logp) == ep.length and len(ep.costs) == b.n_costs,
                  "the example's shapes do not add up")


def test_same_task(a, out):
    import ctypes as C
    import numpy as np
    from cartpole_safe import CartPoleSafe
    if not a.plugin:
        print("    (no --plugin: skipped)")
        return
    lib = C.CDLL(a.plugin)
    F = C.CFUNCTYPE

    class Table(C.Structure):  # the head of cg_sim_table_t (cgrpo/sim.h), up to result
        _fields_ = [("abi", C.c_uint32), ("size", C.c_uint32), ("name", C.c_char_p),
                    ("help", C.c_char_p), ("keys", C.c_void_p), ("n_keys", C.c_int32),
                    ("describe", C.c_void_p),
                    ("create", F(C.c_void_p, C.c_void_p, C.c_int32, C.c_uint64, C.c_char_p,
                                 C.c_size_t)),
                    ("destroy", F(None, C.c_void_p)),
                    ("reset", F(None, C.c_void_p, C.c_int32, C.c_uint64,
                                C.POINTER(C.c_float))),
                    ("step", F(None, C.c_void_p, C.c_int32, C.POINTER(C.c_int32),
                               C.POINTER(C.c_int32), C.POINTER(C.c_float),
                               C.POINTER(C.c_uint8))),
                    ("result", F(None, C.c_void_p, C.c_int32, C.c_void_p))]

    class Value(C.Structure):
        _fields_ = [("i", C.c_int64), ("f", C.c_double), ("s", C.c_char_p)]

    class Params(C.Structure):
        _fields_ = [("values", C.POINTER(Value)), ("horizon", C.c_int32)]

    lib.cg_sim_plugin.restype = C.POINTER(Table)
    t = lib.cg_sim_plugin().contents
    vals = (Value * 3)(Value(0, 0.8, None), Value(0, 10.0, None), Value(0, 0.05, None))
    params = Params(vals, 200)
    err = C.create_string_buffer(512)
    ctx = t.create(C.byref(params), 1, 0, err, 512)
    check(ctx, f"the plugin's create failed: {err.value}")
    obs = (C.c_float * 4)()
    idx, act, done = (C.c_int32 * 1)(0), (C.c_int32 * 1)(), (C.c_uint8 * 1)()
    rng = np.random.default_rng(5)
    try:
        for seed in (1, 12345, 2**63 + 7):
            env = CartPoleSafe()
            py_obs, _ = env.reset(seed=seed)
            t.reset(ctx, 0, seed, obs)
            check(np.array_equal(py_obs, np.array(obs[:])), f"seed {seed}: reset differs")
            for k in range(200):
                act[0] = int(rng.integers(2))
                py_obs, _, term, trunc, _ = env.step(act[0])
                t.step(ctx, 1, idx, act, obs, done)
                check(np.array_equal(py_obs, np.array(obs[:])), f"seed {seed}: step {k} differs")
                check(bool(done[0]) == (term or trunc), f"seed {seed}: step {k} ends differ")
                if done[0]:
                    break
        print("    3 seeds, random actions: identical observations and ends")
    finally:
        t.destroy(ctx)


def test_curve(a, out):
    import zmq
    from cartpole_safe import make_env
    from cgrpo import LearnerRefused
    from cgrpo.actor import read_key_file
    if not zmq.has("curve"):
        print("    (this libzmq has no CURVE: skipped)")
        return
    keys = os.path.join(out, "keys")
    subprocess.run([a.cgrpo, "keygen", keys], check=True, capture_output=True)
    lrn = Learner(a.cgrpo, out, ["run.iterations=3", f"run.token_file={keys}/token",
                                 "learner.bind=0.0.0.0",
                                 f"learner.curve_secret_key={keys}/learner.key",
                                 f"learner.curve_public_key={keys}/learner.pub"])
    try:
        key = read_key_file(os.path.join(keys, "learner.pub"))
        try:
            run_actor(lrn.connect(), make_env, token="not-the-token", server_key=key)
            raise Fail("a wrong token was let in")
        except LearnerRefused as e:
            check("token" in str(e), f"unclear refusal: {e}")
        # The right ones, as docs/python.md's command line gives them.
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "actor", "python"))
        actor = subprocess.run(
            [sys.executable, "-m", "cgrpo.actor", "--connect", lrn.connect(), "--env",
             os.path.join(ROOT, "actor", "python", "examples", "cartpole_safe.py") + ":make_env",
             "--server-key", os.path.join(keys, "learner.pub"), "--token-file",
             os.path.join(keys, "token")], env=env, capture_output=True, text=True, timeout=120)
        check(actor.returncode == 0, f"the actor failed: {actor.stderr[-500:]}")
        check(lrn.wait() == 0 and lrn.summary()["iterations"] == 3,
              "the CURVE run did not finish")
        print(f"    wrong token refused; with the key and token files: "
              f"{actor.stderr.strip().splitlines()[-1]}")
    finally:
        lrn.stop()


def test_top_p(a, out):
    """A learner that samples with [sampling] top_p < 1 refuses this actor clearly (it does
    not implement nucleus sampling), instead of training with another sampling rule."""
    from cartpole_safe import make_env
    from cgrpo import LearnerRefused
    lrn = Learner(a.cgrpo, out, ["run.iterations=2", "sampling.top_p=0.9"])
    try:
        try:
            run_actor(lrn.connect(), make_env)
            raise Fail("a Python actor joined a top_p = 0.9 run")
        except LearnerRefused as e:
            check("top_p = 0.9" in str(e) and "hint:" in str(e), f"unclear refusal: {e}")
            print(f"    refused: {e}")
    finally:
        lrn.stop()


TESTS = {"policy": test_policy, "curve": test_curve, "doc_example": test_doc_example, "logp_match": test_logp_match, "trains": test_trains,
         "mixed": test_mixed, "reconnect": test_reconnect, "bad_env": test_bad_env,
         "same_task": test_same_task, "top_p": test_top_p}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cgrpo", required=True)
    ap.add_argument("--plugin", help="libcartpole_safe.so, for same_task")
    ap.add_argument("tests", nargs="*", default=list(TESTS))
    a = ap.parse_args()
    try:
        import numpy  # noqa: F401
        import zmq  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        print(f"python_actor: skipped: {e} (hint: bash launch/setup.sh deps installs "
              "python3-numpy, python3-zmq and python3-protobuf)")
        return 77
    failed = 0
    for name in a.tests:
        out = tempfile.mkdtemp(prefix=f"cgrpo-py-{name}-")
        t0 = time.monotonic()
        try:
            TESTS[name](a, out)
            print(f"  {name}: passed ({time.monotonic() - t0:.1f} s)")
            shutil.rmtree(out, ignore_errors=True)
        except Exception as e:  # a failure of any kind is this test's, with its logs kept
            failed += 1
            print(f"  {name}: FAILED: {type(e).__name__}: {e} (logs in {out})")
    print(f"python_actor: {len(a.tests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
