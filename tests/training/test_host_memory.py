"""``kerasrnn.training.host_memory``: freed large blocks stay in the process and are reused without page faults.

Each case runs in a child process (the allocator's settings are per process
and permanent): it allocates and frees a 32 MiB block ten times, touching
every page, and reports its minor page faults. With glibc's defaults the
block is mapped afresh (and faulted in again) each time; kept, only the first
time.
"""

import json
import platform
import subprocess
import sys

import pytest

from kerasrnn.training import host_memory

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator only"
)

CHILD = r"""
import ctypes, json, resource, sys
from kerasrnn.training import host_memory
kept = host_memory.keep_freed_memory() if sys.argv[1] == "call" else None
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size = 32 << 20
faults = []
for _ in range(10):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"kept": kept, "later_faults": sum(faults[1:]) / 9}))
"""
PAGES = (32 << 20) // 4096


def _child(mode, **environment):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(environment)
    done = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_defaults_map_the_block_again_each_time():
    result = _child("none")
    assert result["later_faults"] > PAGES / 2  # what the tuning removes (the premise of the module)


def test_kept_memory_is_reused_without_faults():
    result = _child("call")
    assert result["kept"] is True
    assert result["later_faults"] < PAGES / 20


def test_the_child_environment_gives_a_child_the_same(monkeypatch):
    monkeypatch.delenv(host_memory.DISABLE, raising=False)
    environment = host_memory.child_environment()
    assert environment and host_memory.describe().startswith("freed memory kept")
    assert _child("none", **environment)["later_faults"] < PAGES / 20


@pytest.mark.parametrize("value", ["0", "off"])
def test_turned_off_by_the_environment(monkeypatch, value):
    monkeypatch.setenv(host_memory.DISABLE, value)
    assert host_memory.keep_freed_memory() is False
    assert host_memory.child_environment() == {}
    assert host_memory.describe().startswith("glibc defaults")
    assert _child("call", **{host_memory.DISABLE: value})["kept"] is False
