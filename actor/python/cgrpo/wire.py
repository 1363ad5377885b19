"""The wire format: proto/cgrpo.proto compiled by protoc (never committed).

The build writes cgrpo_pb2.py next to CMake's build tree (CGRPO_PB2_DIR names it); without
it, the module is compiled once into a cache directory with protoc.
"""
import hashlib
import importlib
import os
import subprocess
import sys

PROTOCOL = 3  # Envelope.protocol this package speaks (CG_PROTOCOL_VERSION)

_PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "proto",
                      "cgrpo.proto")


def _compile(proto):
    if not os.path.exists(proto):
        raise ImportError(f"cannot find {proto} (hint: use the package from cgrpo's tree, or set "
                          "CGRPO_PROTO to proto/cgrpo.proto or CGRPO_PB2_DIR to a directory "
                          "with cgrpo_pb2.py)")
    with open(proto, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                         "cgrpo", "pb2-" + digest)
    if not os.path.exists(os.path.join(cache, "cgrpo_pb2.py")):
        os.makedirs(cache, exist_ok=True)
        try:
            subprocess.run(["protoc", f"--python_out={cache}", "-I", os.path.dirname(proto),
                            proto], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise ImportError(f"cannot compile {proto} with protoc: {e} (hint: apt-get install "
                              "protobuf-compiler, or set CGRPO_PB2_DIR to a directory with "
                              "cgrpo_pb2.py)") from e
    return cache


def load():
    """The generated module cgrpo_pb2."""
    where = os.environ.get("CGRPO_PB2_DIR") or _compile(os.path.normpath(
        os.environ.get("CGRPO_PROTO", _PROTO)))
    if where not in sys.path:
        sys.path.insert(0, where)
    return importlib.import_module("cgrpo_pb2")


pb = load()


def envelope(run_id=""):
    env = pb.Envelope()
    env.protocol = PROTOCOL
    env.run_id = run_id
    return env
