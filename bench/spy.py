"""Sampling profiles of the gunicorn workers with py-spy while a scenario runs (BENCH_PROFILE=1).

Writes bench/profile-<scenario>.txt: the share of samples spent in (inclusive) and on (self)
each function, summed over all workers. Only threads holding the GIL are sampled (`--gil`), so
the shares are of the workers' Python CPU time: a thread waiting for PostgreSQL, Redis, a lock
or the GIL itself is not counted as if it were working.
"""
import collections
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def start(pid, name, seconds):
    raw = HERE / f"profile-{name}.raw"
    command = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
               "--subprocesses", "--gil", "--duration", str(int(seconds)), "--rate", "100",
               "--nonblocking", "--format", "raw", "--output", str(raw)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), raw


def finish(recorder, raw, name, top=40):
    recorder.wait(timeout=120)
    if not raw.exists():
        return None
    inclusive, own, total, outside = collections.Counter(), collections.Counter(), 0, \
        collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_frame(f) for f in stack.split(";")[1:]]
        if not frames or not count.isdigit():  # py-spy may append a warning of its own
            continue
        count = int(count)
        if "handle_request" not in stack:
            # gunicorn's own threads: accepting, polling keep-alive connections, handing off
            outside[frames[-1]] += count
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    everything = total + sum(outside.values())
    lines = [f"{name}: {total} samples inside request handling (all workers), "
             f"{everything - total} outside it ({(everything - total) / max(everything, 1):.0%} "
             "of the workers' samples: gunicorn accepting and polling connections)", "",
             "outside request handling, self:"]
    lines += [f"{n / max(everything, 1) * 100:5.1f}%  {f}" for f, n in outside.most_common(8)]
    lines += ["", "inside request handling, inclusive:"]
    lines += [f"{n / total * 100:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self:"] + [f"{n / total * 100:5.1f}%  {f}" for f, n in own.most_common(25)]
    text = "\n".join(lines) + "\n"
    (HERE / f"profile-{name}.txt").write_text(text)
    if os.environ.get("BENCH_PROFILE_KEEP") != "1":  # kept for a closer look at one subtree
        raw.unlink()
    return text


def _frame(frame):
    frame = re.sub(r"\(/.*?/site-packages/", "(", frame)
    frame = re.sub(r"\(/.*?/wt/[^/]+/", "(", frame)
    return re.sub(r":\d+\)$", ")", frame)
