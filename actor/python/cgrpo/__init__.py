"""cgrpo actors in Python: run any Python environment as a cgrpo actor (docs/python.md).

    from cgrpo import Actor
    Actor(connect="127.0.0.1:5555", env_fn=make_env, n_envs=16).run()

An environment is Gymnasium-style: reset(seed=) -> (obs, info) and
step(action) -> (obs, reward, terminated, truncated, info), with info["costs"] holding the
step's indicator costs (0 or 1 each, in the order of the learner's [external] costs). The
learner runs the `external` simulator (`cgrpo learner` with [sim] name = external).
"""
__all__ = ["Actor", "Policy", "EnvError", "LearnerRefused"]


def __getattr__(name):  # imported when first used, so `python3 -m cgrpo.actor` runs cleanly
    if name == "Policy":
        from .policy import Policy
        return Policy
    if name in ("Actor", "EnvError", "LearnerRefused"):
        from . import actor
        return getattr(actor, name)
    raise AttributeError(f"module 'cgrpo' has no attribute {name!r}")
