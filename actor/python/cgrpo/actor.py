"""A cgrpo actor in Python: the protocol loop of docs/protocol.md around Python environments.

    python3 -m cgrpo.actor --connect HOST:PORT --env module:factory [--n-envs 16]

Says Hello on the learner's control port, takes the Welcome (policy, group size, temperatures,
the simulator's costs and episode cap, the data and weights ports), then rolls out groups of
episodes on n_envs environments in lockstep (one batched policy forward per step), sends them
as GroupBatch messages, applies new weights between groups, heartbeats on the Hello's
connection, says Hello again (with its session key) when the learner asks or goes silent,
and exits when the learner's final Weights say training is over.
"""
import argparse
import importlib
import importlib.util
import math
import os
import socket
import sys
import time

import numpy as np
import zmq

from . import wire
from .policy import Policy

MAX_ABS_OBS = 1e6  # CG_MAX_ABS_OBS: the learner refuses larger observation values



def _config_value(text, section, key):
    """The value of [section] key in the learner's config (INI text), or None."""
    current = None
    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and "]" in stripped:
            current = stripped[1:stripped.index("]")]
        elif current == section and "=" in stripped and not line[:1].isspace():
            name, value = stripped.split("=", 1)
            if name.strip() == key:
                return value.split(";")[0].strip()
    return None

class LearnerRefused(RuntimeError):
    """The learner refused this actor for good (wrong token, run, shape or protocol)."""


class EnvError(ValueError):
    """An environment returned something the learner would refuse (nothing was sent)."""


def read_key_file(path):
    """A key file as `cgrpo keygen` writes it: the first line that is not empty or a '#'
    comment, a 40-character Z85 CURVE key (the token file: the token)."""
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                return line
    raise ValueError(f"{path}: no key in it (hint: give a file written by `cgrpo keygen`)")


def _costs_of(info, n_costs, where):
    c = info.get("costs", ()) if isinstance(info, dict) else ()
    if isinstance(c, dict):
        raise EnvError(f"{where}: info['costs'] is a dict; give a sequence in the order of the "
                       "learner's [external] costs")
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if c.size == 0:
        return np.zeros(n_costs)
    if c.size != n_costs:
        raise EnvError(f"{where}: info['costs'] has {c.size} values, the learner's run has "
                       f"{n_costs} costs")
    if not np.all((c == 0) | (c == 1)):
        raise EnvError(f"{where}: info['costs'] = {c.tolist()}: each cost must be exactly 0 or 1")
    return c


def _check_obs(obs, obs_dim, where):
    o = np.asarray(obs, dtype=np.float32).reshape(-1)
    if o.size != obs_dim:
        raise EnvError(f"{where}: observation of {o.size} values, the learner's run has "
                       f"obs_dim {obs_dim}")
    if not np.all(np.isfinite(o)) or np.max(np.abs(o)) > MAX_ABS_OBS:
        raise EnvError(f"{where}: observation {o.tolist()[:8]}... is not finite or beyond "
                       f"+-{MAX_ABS_OBS:g} (hint: fix or scale the environment's observation)")
    return o


class Actor:
    def __init__(self, connect, env_fn, n_envs=16, actor_id=-1, token="", log=None,
                 server_key=None):
        host, _, port = connect.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"connect {connect!r}: expected HOST:PORT")
        self.host, self.port = host, int(port)
        self.env_fn, self.n_envs = env_fn, int(n_envs)
        self.actor_id, self.token = int(actor_id), token
        # A learner bound off loopback is a CURVE server (docs/cluster.md): this actor then
        # needs its public key (Z85) and makes a key pair of its own, as `cgrpo actor` does.
        self.server_key = server_key
        if server_key is not None:
            if not zmq.has("curve"):
                raise ValueError("this libzmq has no CURVE (hint: Debian's libzmq5 has it)")
            if len(server_key) != 40:
                raise ValueError(f"server key {server_key[:12]!r}...: not a 40-character Z85 "
                                 "key (hint: the learner.pub that `cgrpo keygen` wrote)")
            self.public_key, self.secret_key = zmq.curve_keypair()
        self.log = log or (lambda m: print(f"cgrpo actor: {m}", file=sys.stderr, flush=True))
        self.ctx = zmq.Context()
        self.control = self.data = self.weights = None
        self.session = 0
        self.seq = 0
        self.groups_sent = 0
        self.envs = []
        self.done = False
        self.last_heard = time.monotonic()
        self.next_heartbeat = 0.0
        self.pending = None  # the newest Weights not applied yet

    # ---- connection -------------------------------------------------------------------------

    def _socket(self, kind, port):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if self.server_key is not None:
            s.curve_serverkey = self.server_key.encode()
            s.curve_publickey = self.public_key
            s.curve_secretkey = self.secret_key
        s.setsockopt(zmq.SNDHWM, 8)
        if kind == zmq.SUB:
            s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(f"tcp://{self.host}:{port}")
        return s

    def _hello(self, timeout_s=30.0):
        """Hello on a fresh control connection until a Welcome (or a final refusal)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.control is not None:
                self.control.close()
            self.control = self._socket(zmq.DEALER, self.port)
            env = wire.envelope()
            h = env.hello
            # sim "" (unknown): the learner may run `external` or the same task as a C plugin,
            # with cgrpo's own actors beside this one.
            h.actor_id, h.host, h.pid, h.sim = self.actor_id, socket.gethostname()[:63], \
                os.getpid(), ""
            h.token, h.credits, h.session = self.token, False, self.session
            self.control.send(env.SerializeToString())
            if self.control.poll(2000):
                reply = wire.pb.Envelope.FromString(self.control.recv())
                if reply.WhichOneof("body") == "welcome":
                    return reply
                if reply.WhichOneof("body") == "refusal":
                    if not reply.refusal.retry:
                        raise LearnerRefused(reply.refusal.reason)
                    self.log(f"learner says: {reply.refusal.reason}; trying again")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Welcome from {self.host}:{self.port} within "
                                   f"{timeout_s:.0f} s (hint: is `cgrpo learner` running there?)")
            time.sleep(0.5)

    def _welcome(self, reply):
        w = reply.welcome
        if w.deterministic:
            raise LearnerRefused("the learner runs --deterministic, which needs cgrpo's own "
                                 "actors (hint: train without --deterministic)")
        top_p = _config_value(w.config_text, "sampling", "top_p")
        if top_p is not None and float(top_p) < 1.0:
            raise LearnerRefused(f"the learner samples with [sampling] top_p = {top_p}, which "
                                 "this Python actor does not implement (hint: cgrpo's own "
                                 "actors do; or train with top_p = 1)")
        self.run_id = reply.run_id
        self.actor_id, self.session = w.actor_id, w.session
        self.group_size = w.group_size
        self.temps = np.asarray(w.temperatures if len(w.temperatures) else [1.0] * w.group_size,
                                dtype=np.float32)
        self.cost_names = list(w.cost_names)
        self.max_steps = w.max_steps or 1000
        self.heartbeat_s = max(w.heartbeat_ms, 50) / 1000.0
        self.policy = Policy.from_welcome(w)
        self.version = w.version
        self.rng = np.random.default_rng(w.seed)
        for s in (self.data, self.weights):
            if s is not None:
                s.close()
        self.data = self._socket(zmq.PUSH, w.data_port)
        self.weights = self._socket(zmq.SUB, w.weights_port)
        self.last_heard = time.monotonic()
        self.log(f"welcome: actor {self.actor_id} in run {self.run_id} at version {self.version}"
                 f", group size {self.group_size}, costs {self.cost_names or 'none'}")

    def _service(self):
        """Heartbeats, the learner's answers, new weights: called often during rollouts."""
        now = time.monotonic()
        while self.weights.poll(0):
            msg = wire.pb.Envelope.FromString(self.weights.recv())
            if msg.WhichOneof("body") == "weights" and msg.run_id == self.run_id:
                if msg.weights.done:
                    self.done = True
                elif msg.weights.version > self.version:
                    self.pending = msg.weights
        while self.control.poll(0):
            msg = wire.pb.Envelope.FromString(self.control.recv())
            self.last_heard = now
            if msg.WhichOneof("body") == "refusal":
                if not msg.refusal.retry:
                    raise LearnerRefused(msg.refusal.reason)
                self.log(f"learner says: {msg.refusal.reason}; saying Hello again")
                self._welcome(self._hello())
        if now >= self.next_heartbeat:
            self._heartbeat()
            self.next_heartbeat = now + self.heartbeat_s
        if now - self.last_heard > max(3.0, 10 * self.heartbeat_s):
            self.log("the learner went silent; saying Hello again")
            self._welcome(self._hello(timeout_s=3600.0))

    def _heartbeat(self, leaving=False):
        env = wire.envelope(self.run_id)
        hb = env.heartbeat
        hb.actor_id, hb.applied_version, hb.groups_sent = self.actor_id, self.version, \
            self.groups_sent
        hb.weights_latency_s, hb.leaving = -1.0, leaving
        try:
            self.control.send(env.SerializeToString(), zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _apply_weights(self):
        if self.pending is not None:
            self.policy.set_params(self.pending.params)
            self.version = self.pending.version
            self.pending = None

    # ---- rollouts ---------------------------------------------------------------------------

    def _rollout(self):
        """One wave: n_envs // G groups run to the end; returns the GroupBatch's groups."""
        G, K = self.group_size, len(self.cost_names)
        n_groups = max(1, self.n_envs // G)
        n = n_groups * G
        while len(self.envs) < n:
            self.envs.append(self.env_fn())
        seeds = self.rng.integers(0, 2**63, size=n_groups, dtype=np.uint64)
        temps = np.tile(self.temps, n_groups)
        obs = np.zeros((n, self.policy.obs_dim), np.float32)
        traj = [{"obs": [], "action": [], "logp": [], "reward": 0.0, "costs": np.zeros(K)}
                for _ in range(n)]
        for i in range(n):
            o, info = self.envs[i].reset(seed=int(seeds[i // G]))
            obs[i] = _check_obs(o, self.policy.obs_dim, f"env {i} reset")
            if K:
                traj[i]["costs"] = np.maximum(traj[i]["costs"],
                                              _costs_of(info, K, f"env {i} reset"))
        running = np.ones(n, bool)
        for t in range(self.max_steps):
            idx = np.flatnonzero(running)
            if idx.size == 0:
                break
            actions, logp = Policy.sample(self.policy.logits(obs[idx]), temps[idx], self.rng)
            for k, i in enumerate(idx):
                tr = traj[i]
                tr["obs"].append(obs[i].copy())
                tr["action"].append(int(actions[k]))
                tr["logp"].append(float(logp[k]))
                o, r, terminated, truncated, info = self.envs[i].step(int(actions[k]))
                where = f"env {i} step {t}"
                if not math.isfinite(float(r)):
                    raise EnvError(f"{where}: reward {r} is not finite")
                tr["reward"] += float(r)
                if K:
                    tr["costs"] = np.maximum(tr["costs"], _costs_of(info, K, where))
                if terminated or truncated:
                    running[i] = False
                else:
                    obs[i] = _check_obs(o, self.policy.obs_dim, where)
            if t % 16 == 0:
                self._service()
        groups = []
        for g in range(n_groups):
            grp = wire.pb.Group()
            grp.init_seed = int(seeds[g])
            for j in range(G):
                tr = traj[g * G + j]
                ep = grp.episodes.add()
                ep.reward = tr["reward"]
                ep.costs.extend(tr["costs"].tolist())
                ep.length = len(tr["action"])
                ep.temperature = float(temps[g * G + j])
                ep.obs.extend(np.concatenate(tr["obs"]).tolist())
                ep.action.extend(tr["action"])
                ep.logp.extend(tr["logp"])
            groups.append(grp)
        return groups

    def _send(self, groups, version):
        env = wire.envelope(self.run_id)
        b = env.group_batch
        b.policy_version, b.actor_id, b.seq, b.session = version, self.actor_id, self.seq, \
            self.session
        b.group_size, b.n_costs = self.group_size, len(self.cost_names)
        b.obs_dim, b.n_actions = self.policy.obs_dim, self.policy.n_actions
        b.groups.extend(groups)
        self.data.send(env.SerializeToString())
        self.seq += 1
        self.groups_sent += len(groups)

    def run(self):
        """Trains until the learner says training is over; returns the groups sent."""
        self._welcome(self._hello())
        try:
            while not self.done:
                self._apply_weights()
                version = self.version
                groups = self._rollout()
                self._service()
                if self.done:
                    break
                self._send(groups, version)
            self._heartbeat(leaving=True)
            self.log(f"actor {self.actor_id} done: {self.groups_sent} groups sent, version "
                     f"{self.version}")
            return self.groups_sent
        finally:
            for s in (self.control, self.data, self.weights):
                if s is not None:
                    s.close(linger=500)
            self.ctx.term()


def load_env_fn(spec):
    """'module:factory' or 'path/to/file.py:factory' -> the factory."""
    mod, _, name = spec.rpartition(":")
    if not mod or not name:
        raise ValueError(f"--env {spec!r}: expected MODULE:FACTORY or FILE.py:FACTORY")
    if mod.endswith(".py"):
        s = importlib.util.spec_from_file_location(os.path.basename(mod)[:-3], mod)
        m = importlib.util.module_from_spec(s)
        s.loader.exec_module(m)
    else:
        m = importlib.import_module(mod)
    return getattr(m, name)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m cgrpo.actor", description=__doc__.split("\n")[0])
    ap.add_argument("--connect", required=True, help="the learner's control endpoint HOST:PORT")
    ap.add_argument("--env", required=True, help="MODULE:FACTORY or FILE.py:FACTORY, a "
                    "function that returns a new environment")
    ap.add_argument("--n-envs", type=int, default=16, help="environments stepped in lockstep")
    ap.add_argument("--actor-id", type=int, default=-1, help="-1: the learner assigns one")
    ap.add_argument("--token", default="", help="the run token, if the learner needs one")
    ap.add_argument("--token-file", help="the run token from a file (cgrpo keygen's DIR/token)")
    ap.add_argument("--server-key", help="the learner's CURVE public key file (DIR/learner.pub): "
                    "for a learner bound off loopback")
    a = ap.parse_args(argv)
    try:
        token = read_key_file(a.token_file) if a.token_file else a.token
        key = read_key_file(a.server_key) if a.server_key else None
        Actor(a.connect, load_env_fn(a.env), a.n_envs, a.actor_id, token,
              server_key=key).run()
    except (LearnerRefused, EnvError, TimeoutError, ValueError, OSError) as e:
        print(f"cgrpo actor: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
