"""Peak resident memory of a command, read by the measured process itself at exit (VmHWM of
/proc/self/status: its own address space since exec). ru_maxrss from wait4 would not do: Linux
carries the parent's high-water mark over fork and exec into the child's figure. Used by
tests/python/test_reliability.py and bench/bench_memory.py."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

_WRAPPER = r"""
import atexit, os, runpy, sys
def report():
    with open("/proc/self/status") as f:
        hwm = next(l for l in f if l.startswith("VmHWM:")).split()[1]
    with open(os.environ["GLYPH_PEAK_RSS_FILE"], "w") as f:
        f.write(hwm)
atexit.register(report)
mode, what = sys.argv[1], sys.argv[2]
sys.argv = [what] + sys.argv[3:]
if mode == "-m":
    runpy.run_module(what, run_name="__main__", alter_sys=True)
else:
    exec(compile(what, "<string>", "exec"), {"__name__": "__main__"})
"""


def run_measured(args, stdout=subprocess.DEVNULL):
    """Runs `python -m MODULE ...` or `python -c CODE ...` (`args` without the interpreter) in a
    fresh process; returns (CompletedProcess with stderr captured, peak resident MB)."""
    assert args[0] in ("-m", "-c"), args
    fd, hwm = tempfile.mkstemp(suffix=".hwm")
    os.close(fd)
    try:
        r = subprocess.run([sys.executable, "-c", _WRAPPER, *args], stdout=stdout,
                           stderr=subprocess.PIPE, env=dict(os.environ, GLYPH_PEAK_RSS_FILE=hwm))
        peak = int(Path(hwm).read_text() or 0) / 1024.0
    finally:
        os.unlink(hwm)
    return r, peak
