"""cartpole_safe in Python: the same task as the C plugin actor/sim/examples/cartpole_safe
(Gym's CartPole-v1 dynamics, explicit Euler; a safety cost `off_center` when the cart ever
leaves |x| <= safe_x; reward = the fraction of the horizon the pole stayed up), with the same
initial state for the same seed. A Gymnasium-style environment for `cgrpo.Actor`:

    python3 -m cgrpo.actor --connect 127.0.0.1:PORT \
        --env actor/python/examples/cartpole_safe.py:make_env

The learner: `cgrpo learner --config configs/cartpole_safe_python.ini`.
"""
import math

import numpy as np

GRAVITY, MASS_CART, MASS_POLE, LENGTH, TAU = 9.8, 1.0, 0.1, 0.5, 0.02
TOTAL_MASS = MASS_CART + MASS_POLE
POLE_MASS_LENGTH = MASS_POLE * LENGTH
THETA_LIMIT = 12.0 * 2.0 * math.pi / 360.0
X_LIMIT, VEL_SCALE = 2.4, 2.0
MASK64 = (1 << 64) - 1


def _splitmix64(state):
    """(new state, output): the generator the C plugin draws its initial state with."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


class CartPoleSafe:
    def __init__(self, horizon=200, safe_x=0.8, force=10.0, init_noise=0.05):
        self.horizon, self.safe_x, self.force, self.init_noise = horizon, safe_x, force, init_noise

    def _obs(self):
        return np.array([self.x / X_LIMIT, self.x_dot / VEL_SCALE, self.theta / THETA_LIMIT,
                         self.theta_dot / VEL_SCALE], dtype=np.float32)

    def reset(self, seed=None):
        state = (seed or 0) & MASK64
        v = []
        for _ in range(4):
            state, r = _splitmix64(state)
            u = (r >> 11) * 2.0**-53
            v.append(self.init_noise * (2.0 * u - 1.0))
        self.x, self.x_dot, self.theta, self.theta_dot = v
        self.steps = 0
        self.off = abs(self.x) > self.safe_x
        return self._obs(), {"costs": [float(self.off)]}

    def step(self, action):
        f = self.force if action == 1 else -self.force
        c, s = math.cos(self.theta), math.sin(self.theta)
        temp = (f + POLE_MASS_LENGTH * self.theta_dot * self.theta_dot * s) / TOTAL_MASS
        theta_acc = (GRAVITY * s - c * temp) / (
            LENGTH * (4.0 / 3.0 - MASS_POLE * c * c / TOTAL_MASS))
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * c / TOTAL_MASS
        self.x += TAU * self.x_dot
        self.x_dot += TAU * x_acc
        self.theta += TAU * self.theta_dot
        self.theta_dot += TAU * theta_acc
        self.steps += 1
        self.off = self.off or abs(self.x) > self.safe_x
        crashed = abs(self.x) > X_LIMIT or abs(self.theta) > THETA_LIMIT
        # Reward 1/horizon per step: an episode's reward is the fraction of the horizon.
        return (self._obs(), 1.0 / self.horizon, crashed, self.steps >= self.horizon,
                {"costs": [float(self.off)]})


def make_env():
    return CartPoleSafe()
