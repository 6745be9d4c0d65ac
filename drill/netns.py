"""A second host on this machine whose network link can be cut: a Linux network namespace
joined to ours by a veth pair (`ip netns`, iproute2; needs root).

The partition drill runs the old primary in it. Cutting the link takes the namespace's end of
the pair down: everything sent to it from here is then dropped without an answer, as when a
switch port or a cable dies — no reset, no "unreachable" (the neighbour entry is pinned, so
nothing waits on ARP either). Connections stay open and hang; new ones time out. The server
inside keeps running and can still be inspected through its Unix socket, which no network
namespace hides.
"""
import os
import random
import shutil
import subprocess

from tests import services


def available():
    """Why a namespace cannot be made here, or None."""
    if not shutil.which("ip"):
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Link:
    """A namespace `ns` at `inner_ip`, reached from here (`outer_ip`) over a veth pair."""

    def __init__(self):
        reason = available()
        if reason:
            services.missing(reason)
        tag = f"{os.getpid() % 10000}{random.randrange(1000):03d}"
        self.ns, self.outer, self.inner = f"kiryana-{tag}", f"kdo{tag}", f"kdi{tag}"
        net = f"10.{random.randrange(200, 250)}.{random.randrange(256)}"
        self.outer_ip, self.inner_ip = f"{net}.1", f"{net}.2"
        self.made = False

    def create(self):
        _ip("netns", "add", self.ns)
        self.made = True
        _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _ip("link", "set", self.inner, "netns", self.ns)
        _ip("addr", "add", f"{self.outer_ip}/30", "dev", self.outer)
        _ip("-n", self.ns, "addr", "add", f"{self.inner_ip}/30", "dev", self.inner)
        _ip("link", "set", self.outer, "up")
        _ip("-n", self.ns, "link", "set", "lo", "up")
        _ip("-n", self.ns, "link", "set", self.inner, "up")
        inner_mac = self._mac(["ip", "netns", "exec", self.ns], self.inner)
        outer_mac = self._mac([], self.outer)
        _ip("neigh", "replace", self.inner_ip, "lladdr", inner_mac, "dev", self.outer,
            "nud", "permanent")
        _ip("-n", self.ns, "neigh", "replace", self.outer_ip, "lladdr", outer_mac, "dev",
            self.inner, "nud", "permanent")
        return self

    @staticmethod
    def _mac(prefix, device):
        return subprocess.run([*prefix, "cat", f"/sys/class/net/{device}/address"],
                              check=True, capture_output=True, text=True).stdout.strip()

    def run_inside(self):
        """The command prefix that runs a program in the namespace."""
        return ["ip", "netns", "exec", self.ns]

    def cut(self):
        """Packets to and from the namespace are dropped from now on, silently."""
        _ip("-n", self.ns, "link", "set", self.inner, "down")

    def restore(self):
        _ip("-n", self.ns, "link", "set", self.inner, "up")

    def remove(self):
        if not self.made:
            return
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=30)
        self.made = False
