#!/usr/bin/env python3
"""What a sockmap data path would give cplb, and what it would break (issue 17, item 3).

Runs sockmap_probe (a one-thread relay) in its three modes on 127.0.0.1: with the kernel's
sockmap redirect (redirect.bpf.c), with an epoll copy through user space, and with epoll and
splice(2) through a pipe (what cplb does for bulk directions), and reports:
  throughput  iperf3 -P 4 through each, interleaved rounds, with the CPU of the whole machine
              per GB (the redirect runs in softirq and kworker context, not in the relay);
  ordering    a client sends 32 MiB and shuts its write side; a server replies 1,000 bytes and
              shuts its own: are all bytes delivered before each end of stream?
  queue       a server that reads nothing: how much the client can write into the relay
              before it blocks, and how much memory the kernel holds for it.

  sudo bench/sockmap/probe.py [--rounds 3] [--seconds 5] [--cplb build-release/src/app/cplb]

With --cplb, the throughput table has a row for cplb itself (2 workers) in the same rounds.

Needs root (CAP_BPF, CAP_NET_ADMIN), clang, g++, libbpf-dev and iperf3 (scripts/deps iperf3).
"""
import argparse
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RELAY, BACKEND, IPERF = 19100, 19101, 19102


def build(work):
    obj, probe = work / "redirect.bpf.o", work / "sockmap_probe"
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-Wall", "-Werror", f"-I/usr/include/{multiarch}",
                    "-c", str(HERE / "redirect.bpf.c"), "-o", str(obj)], check=True)
    subprocess.run(["g++", "-O2", "-std=c++20", "-Wall", "-Wextra", "-o", str(probe),
                    str(HERE / "sockmap_probe.cpp"), "-lbpf"], check=True)
    return obj, probe


class Relay:
    def __init__(self, probe, obj, mode, upstream):
        self.proc = subprocess.Popen([str(probe), mode, str(RELAY), str(upstream), str(obj)],
                                     stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready or self.proc.stdout.readline().strip() != "listening":
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"sockmap_probe {mode} did not start within 10 s")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=10)
        return dict(kv.split("=") for kv in out.split() if "=" in kv)


class Cplb:
    """cplb with two workers relaying RELAY to the iperf3 server, for the same rounds."""

    def __init__(self, binary, work):
        config = work / "cplb.yaml"
        config.write_text(f"""global: {{workers: 2, shutdown_grace: 1s}}
admin: {{listen: 127.0.0.1:{BACKEND}}}
frontends: [{{name: iperf, listen: 127.0.0.1:{RELAY}, backend: iperf, idle_timeout: 1h}}]
backends:
  - name: iperf
    servers: [{{name: s1, address: 127.0.0.1:{IPERF}}}]
    health_check: {{protocol: tcp, interval: 1h, timeout: 1s}}
""")
        self.proc = subprocess.Popen([str(binary), "-c", str(config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while '"state":"up"' not in self.status().replace(" ", ""):
            if time.monotonic() > deadline:
                raise RuntimeError("cplb's server is not up")
            time.sleep(0.1)

    @staticmethod
    def status():
        try:
            with socket.create_connection(("127.0.0.1", BACKEND), timeout=1) as s:
                s.sendall(b"GET /status HTTP/1.0\r\n\r\n")
                return b"".join(iter(lambda: s.recv(65536), b"")).decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)
        return {}


def busy_jiffies():
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def iperf_once(port, seconds):
    start = busy_jiffies()
    out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-P", "4", "-t", str(seconds), "-J"],
                         capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    cpu = (busy_jiffies() - start) / os.sysconf("SC_CLK_TCK")
    received = json.loads(out)["end"]["sum_received"]
    gigabytes = received["bytes"] / 1e9
    return received["bits_per_second"] / 1e9, cpu / gigabytes


def throughput(probe, obj, rounds, seconds, cplb, work):
    server = subprocess.Popen(["iperf3", "-s", "-p", str(IPERF)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    results = {"direct": [], "epoll": [], "splice": [], "sockmap": []}
    if cplb:
        results["cplb"] = []
    try:
        for _ in range(rounds):
            for mode in results:
                if mode == "direct":
                    results[mode].append(iperf_once(IPERF, seconds))
                    continue
                relay = Cplb(cplb, work) if mode == "cplb" else Relay(probe, obj, mode, IPERF)
                try:
                    results[mode].append(iperf_once(RELAY, seconds))
                finally:
                    counted = relay.stop()
                if mode == "sockmap" and int(counted["user_bytes"]) > 1 << 20:
                    raise RuntimeError(f"the sockmap relay copied {counted['user_bytes']} bytes itself")
    finally:
        server.terminate()
        server.wait()
    print("throughput: iperf3 -P 4, %d rounds of %d s, median [min-max]" % (rounds, seconds))
    print("| path | Gbit/s | machine CPU s/GB |\n| --- | --- | --- |")
    for mode, runs in results.items():
        rates, cpus = [r for r, _ in runs], [c for _, c in runs]
        print(f"| {mode} | {statistics.median(rates):.2f} [{min(rates):.2f}-{max(rates):.2f}] "
              f"| {statistics.median(cpus):.3f} [{min(cpus):.3f}-{max(cpus):.3f}] |")


def ordering(probe, obj, mode):
    """Bytes each end receives before its end of stream, through the relay."""
    sent, reply = 32 << 20, 1000
    listener = socket.create_server(("127.0.0.1", BACKEND))
    server_got = []

    def serve():
        conn, _ = listener.accept()
        with conn:
            n = 0
            while chunk := conn.recv(1 << 20):
                n += len(chunk)
            server_got.append(n)
            try:
                conn.sendall(b"r" * reply)
                conn.shutdown(socket.SHUT_WR)
            except OSError:  # the relay closed the session: its reply is lost
                return
            time.sleep(1)  # keep the socket until the relay has had every chance to deliver

    thread = threading.Thread(target=serve)
    thread.start()
    relay = Relay(probe, obj, mode, BACKEND)
    try:
        with socket.create_connection(("127.0.0.1", RELAY)) as client:
            client.sendall(b"c" * sent)
            client.shutdown(socket.SHUT_WR)
            client.settimeout(10)
            back = 0
            while chunk := client.recv(65536):
                back += len(chunk)
        thread.join(timeout=15)
    finally:
        relay.stop()
        listener.close()
    print(f"ordering ({mode}): server got {server_got[0] if server_got else '?'} of {sent} bytes "
          f"before its end of stream, client {back} of {reply}")


def meminfo_kib(key):
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def queue(probe, obj, mode, seconds=3, cap=2 << 30):
    """How much a client writes into the relay in `seconds` while the server reads nothing."""
    listener = socket.create_server(("127.0.0.1", BACKEND))
    relay = Relay(probe, obj, mode, BACKEND)
    held = []
    try:
        client = socket.create_connection(("127.0.0.1", RELAY))
        server, _ = listener.accept()
        held = [client, server]
        before = meminfo_kib("MemAvailable")
        client.setblocking(False)
        chunk, written, deadline = b"q" * (1 << 20), 0, time.monotonic() + seconds
        while written < cap and time.monotonic() < deadline:
            try:
                written += client.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.5)
        taken = (before - meminfo_kib("MemAvailable")) / 1024
    finally:
        for s in held:
            s.close()
        relay.stop()
        listener.close()
    print(f"queue ({mode}): the client wrote {written / (1 << 20):.0f} MiB in {seconds} s to a server "
          f"that reads nothing; memory available fell by {taken:.0f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--cplb", type=Path, help="a cplb binary to measure beside the probe")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cplb-sockmap-") as work:
        obj, probe = build(Path(work))
        print(f"kernel {os.uname().release}")
        for mode in ("epoll", "splice", "sockmap"):
            ordering(probe, obj, mode)
        for mode in ("epoll", "splice", "sockmap"):
            queue(probe, obj, mode)
        throughput(probe, obj, args.rounds, args.seconds, args.cplb, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
