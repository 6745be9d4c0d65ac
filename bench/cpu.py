"""Where a scenario's machine time goes: CPU seconds (user + system, from /proc) of the whole
machine, of PostgreSQL's processes, of Redis and of gunicorn's workers, read at the start and
the end of a measured window.

A ratio to a raw-SQL ceiling is a ratio of whole-machine costs: the ceiling's client, its
PostgreSQL backends and the kernel share the same two cores as the app under test. Split per
request, the budget shows which part of the gap is the app's own Python and which is
PostgreSQL, Redis or the load clients (the machine's rest).
"""
import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PARTS = ("app", "postgres", "redis")


def _ticks(stat, children=False, system_only=False):
    """utime + stime (only stime with `system_only`); with `children`, plus what its exited
    children spent (cutime + cstime: PostgreSQL's backends that closed are added to the
    postmaster's when it reaps them)."""
    fields = stat.rsplit(")", 1)[1].split()
    if system_only:
        return int(fields[12])
    own = int(fields[11]) + int(fields[12])
    return own + int(fields[13]) + int(fields[14]) if children else own


def workers_seconds(master_pid):
    """utime + stime of gunicorn's worker processes (children of the master)."""
    return _workers(master_pid)[0]


def _workers(master_pid):
    """(utime + stime, stime) seconds of gunicorn's workers: stime is the kernel working for
    them (sockets to the clients, PostgreSQL and Redis; futexes of the GIL and the pools)."""
    total = system = 0
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                stat = Path(f"/proc/{child}/stat").read_text()
            except OSError:
                continue
            total += _ticks(stat)
            system += _ticks(stat, system_only=True)
    return total / TICKS, system / TICKS


def _by_command(names):
    """CPU seconds of every process whose command name is one of `names`."""
    totals = dict.fromkeys(names, 0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        command = stat[stat.index("(") + 1:stat.rindex(")")]
        if command in totals:
            totals[command] += _ticks(stat, children=True)
    return {name: ticks / TICKS for name, ticks in totals.items()}


def _machine():
    """(busy, stolen) CPU seconds of the machine: `steal` is time the hypervisor gave this
    VM's cores to another guest while they had work, the sign of a noisy neighbour."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq) / TICKS, steal / TICKS


def snapshot(gunicorn_pid=None):
    commands = _by_command(("postgres", "redis-server"))
    busy, stolen = _machine()
    app, app_kernel = _workers(gunicorn_pid) if gunicorn_pid else (None, None)
    return {"machine": busy, "postgres": commands["postgres"],
            "redis": commands["redis-server"], "app": app, "app_kernel": app_kernel,
            "stolen": stolen}


def spent(before, after):
    return {part: None if after[part] is None else after[part] - before[part]
            for part in after}


def per_request(spents, requests):
    """Milliseconds per request of each part, summed over rounds; "rest" is what the machine
    spent outside them (the load clients, the kernel, anything else running). "app_kernel" is
    the part of "app" spent in the kernel; "stolen" is not part of "machine"."""
    total = {part: sum(s[part] for s in spents) if spents[0][part] is not None else None
             for part in spents[0]}
    budget = {part: round(seconds * 1000 / requests, 3) for part, seconds in total.items()
              if seconds is not None}
    budget["rest"] = round(budget["machine"] - sum(budget.get(p, 0) for p in PARTS), 3)
    return budget
