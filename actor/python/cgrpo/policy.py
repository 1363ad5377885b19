"""The policy network, as the learner defines it (docs/protocol.md, "The policy").

An MLP obs_dim -> hidden... -> n_actions with tanh or relu between layers and none after the
last; a softmax over the logits. The parameter vector holds, layer after layer, W (out, in)
row-major then b (out) ("mlp" layout). Actions are sampled at a temperature T (softmax of
logits / T); the log-prob sent with each step is the action's at temperature 1.
"""
import numpy as np

ACTIVATIONS = {0: "tanh", 1: "relu"}  # Welcome.activation codes (cg_activation_t)


class Policy:
    def __init__(self, obs_dim, hidden, n_actions, activation="tanh", params=None):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"activation {activation!r}: expected 'tanh' or 'relu'")
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        self.sizes = [self.obs_dim] + [int(h) for h in hidden] + [self.n_actions]
        self.activation = activation
        self.n_params = sum((i + 1) * o for i, o in zip(self.sizes[:-1], self.sizes[1:]))
        self.layers = []
        self.set_params(np.zeros(self.n_params, np.float32) if params is None else params)

    @classmethod
    def from_welcome(cls, w):
        name = w.activation_name or ACTIVATIONS.get(w.activation)
        if name is None:
            raise ValueError(f"welcome.activation {w.activation} is not one this package knows")
        if w.layout not in ("", "mlp"):
            raise ValueError(f"welcome.layout {w.layout!r} is not one this package knows ('mlp')")
        return cls(w.obs_dim, list(w.hidden), w.n_actions, name, w.params)

    def set_params(self, params):
        p = np.asarray(params, dtype=np.float32)
        if p.shape != (self.n_params,):
            raise ValueError(f"{p.size} parameters for a policy of {self.n_params} "
                             f"(layers {self.sizes})")
        self.params = p.copy()
        self.layers, off = [], 0
        for i, o in zip(self.sizes[:-1], self.sizes[1:]):
            w = self.params[off:off + o * i].reshape(o, i)
            off += o * i
            b = self.params[off:off + o]
            off += o
            self.layers.append((w, b))

    def logits(self, obs):
        """(n, obs_dim) -> (n, n_actions), in float32 as the learner computes them."""
        h = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        last = len(self.layers) - 1
        for k, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if k < last:
                h = np.tanh(h) if self.activation == "tanh" else np.maximum(h, 0)
        return h

    @staticmethod
    def sample(logits, temperature, rng):
        """Actions drawn from softmax(logits / temperature) (one temperature per row), and
        their log-probs at temperature 1. Inverse CDF in float64, as cgrpo's actors do."""
        z = np.asarray(logits, dtype=np.float64)
        t = np.asarray(temperature, dtype=np.float64).reshape(-1, 1)
        mx = z.max(axis=1, keepdims=True)
        w = np.exp((z - mx) / t)
        cum = np.cumsum(w, axis=1)
        target = rng.random(z.shape[0])[:, None] * cum[:, -1:]
        hit = (cum > target) & (w > 0)
        last_nonzero = z.shape[1] - 1 - np.argmax((w > 0)[:, ::-1], axis=1)
        action = np.where(hit.any(axis=1), np.argmax(hit, axis=1), last_nonzero)
        logp1 = z - mx - np.log(np.exp(z - mx).sum(axis=1, keepdims=True))
        return action.astype(np.int32), logp1[np.arange(z.shape[0]), action].astype(np.float32)
