#!/usr/bin/env python3
"""Small helpers for bench/run.sh (stdlib only).

  util.py ports N                  N free TCP ports on 127.0.0.1, space-separated
  util.py stat PID...              "RSS_KB CPU_SECONDS" summed over the PIDs and their descendants
  util.py cpu ROOT                  "BUSY TOTAL OURS" jiffies: the machine's busy (all but idle and
                                   iowait) and total time over all CPUs, and the CPU time of ROOT's
                                   tree including its exited, reaped descendants
  util.py threads PID              "TID:JIFFIES ..." of each thread of PID (utime + stime)
  util.py busiest-share A B N      from two `threads` samples: the busiest thread's share of what
                                   the N busiest used in between (1/N: even, 1: one did it all)
  util.py wait-listen SECS PORT... [--pid PID]
                                   waits until every port is in LISTEN on 127.0.0.1 (no connect);
                                   gives up at once if process PID has exited
"""
import os
import socket
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _ppid_map():
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    return children


def process_tree(roots):
    """The root PIDs and all their descendants."""
    children = _ppid_map()
    seen, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(children.get(pid, []))
    return seen


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of the whole process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_jiffies(pid):
    """{tid: utime + stime} of each thread of PID."""
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[task] = int(fields[11]) + int(fields[12])
    return out


def tree_jiffies(root):
    """utime + stime + cutime + cstime over ROOT and its live descendants: every process of the
    tree, running or exited and reaped, counted once."""
    total = 0
    for pid in process_tree([root]):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += sum(int(x) for x in fields[11:15])
    return total


def machine_jiffies():
    """(busy, total) over all CPUs; busy is everything but idle and iowait."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    idle, iowait = fields[3], fields[4]
    return sum(fields) - idle - iowait, sum(fields)


def tree_stat(roots):
    """(RSS in KB, CPU seconds) summed over the process trees; raises if a root is gone."""
    for pid in roots:
        if not os.path.exists(f"/proc/{pid}"):
            raise RuntimeError(f"process {pid} is gone")
    rss = cpu = 0
    for pid in process_tree(roots):
        try:
            rss += rss_kb(pid)
            cpu += cpu_seconds(pid)
        except OSError:
            pass  # exited meanwhile
    return rss, cpu


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def listening_ports():
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def main(argv):
    if len(argv) >= 2 and argv[0] == "ports":
        print(" ".join(map(str, free_ports(int(argv[1])))))
    elif len(argv) >= 2 and argv[0] == "stat":
        rss, cpu = tree_stat([int(p) for p in argv[1:]])
        print(f"{rss} {cpu:.2f}")
    elif len(argv) == 2 and argv[0] == "cpu":
        busy, total = machine_jiffies()
        print(busy, total, tree_jiffies(int(argv[1])))
    elif len(argv) == 2 and argv[0] == "threads":
        print(" ".join(f"{tid}:{j}" for tid, j in thread_jiffies(int(argv[1])).items()))
    elif len(argv) == 4 and argv[0] == "busiest-share":
        # The busiest thread's share of the CPU that the N busiest threads used between two
        # `threads` samples: 1/N when the work was spread evenly, 1 when one thread did it all.
        before = dict(x.split(":") for x in argv[1].split())
        after = dict(x.split(":") for x in argv[2].split())
        used = sorted((int(j) - int(before.get(t, 0)) for t, j in after.items()), reverse=True)[:int(argv[3])]
        print(f"{max(used) / sum(used):.3f}" if used and sum(used) > 0 else "n/a")
    elif len(argv) >= 3 and argv[0] == "wait-listen":
        deadline = time.monotonic() + float(argv[1])
        args = argv[2:]
        pid = None
        if "--pid" in args:
            i = args.index("--pid")
            pid, args = int(args[i + 1]), args[:i] + args[i + 2:]
        want = {int(p) for p in args}
        while not want <= listening_ports():
            if pid is not None and not alive(pid):
                print(f"process {pid} exited", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print(f"not listening: {sorted(want - listening_ports())}", file=sys.stderr)
                return 1
            time.sleep(0.05)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
