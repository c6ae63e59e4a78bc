#!/usr/bin/env python3
"""meshlab's throughput benchmark: one reverse-proxy hop against nginx and HAProxy, side by side.

bench/run is the entry point (it owns the temporary folder and a last-resort cleanup trap); this
file does the work. Python 3 standard library only.

Configs, interleaved in rounds (D N H M, D N H M, ...) so slow drift of a shared VM hits all alike:
  D  wrk -> origin                          no-proxy baseline
  N  wrk -> nginx 1.22 reverse proxy -> origin
  H  wrk -> HAProxy 2.6 -> origin
  M  wrk -> meshlab proxy -> origin

Origin: nginx, 1 worker, a static 1 KB file, started once for the whole run. Each proxy is started
fresh in every round (so meshlab's start-to-ready time is measured once per round), probed, sampled
idle, warmed up, measured with wrk, sampled under load, and stopped by pid. Placement follows
docs/reference benchmarking.md 3.2: wrk alone on CPU1, origin and proxy together on CPU0.
"""

import argparse
import datetime
import hashlib
import http.client
import http.server
import json
import os
import pwd
import grp
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CONFIGS = ("D", "N", "H", "M")
LABELS = {"D": "D direct (no proxy)", "N": "N nginx", "H": "H HAProxy", "M": "M meshlab"}
BODY_PATH = "/1k"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# A run where other processes took more than this % of a core is marked noisy. The estimate is
# /proc/stat busy time (tick-sampled) minus our processes' CPU (precise runtime): on an idle
# machine the two disagree by up to ~10 points, hence the margin.
NOISY_PCT = 15


class Interrupted(Exception):
    pass


class StartError(Exception):
    """A process under test did not come up; the message says why."""


# --------------------------------------------------------------------------------------------
# /proc helpers


def proc_stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 is field 3, state)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2:].split()


def proc_starttime(pid):
    f = proc_stat_fields(pid)
    return f[19] if f else None


def proc_cpu_ticks(pid):
    f = proc_stat_fields(pid)
    return int(f[11]) + int(f[12]) if f else 0


def proc_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_children(pid):
    """Direct children of pid (nginx workers of a master), by scanning /proc once."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = proc_stat_fields(int(name))
        if f and f[1] == str(pid):
            kids.append(int(name))
    return sorted(kids)


def cpu_times():
    """Per-CPU (busy, total) jiffies from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                idle = v[3] + (v[4] if len(v) > 4 else 0)
                out[int(m.group(1))] = (sum(v[:8]) - idle, sum(v[:8]))
    return out


def cpu_busy_pct(before, after, cpu):
    if cpu not in before or cpu not in after:
        return None
    db = after[cpu][0] - before[cpu][0]
    dt = after[cpu][1] - before[cpu][1]
    return 100.0 * db / dt if dt > 0 else None


# --------------------------------------------------------------------------------------------
# Processes: every child is registered by pid (and start time, against pid reuse) in a file that
# bench/run's trap reads if this script dies without cleaning up.


class Procs:
    def __init__(self, pidfile, taskset):
        self.pidfile = pidfile
        self.taskset = taskset
        self.live = {}  # pid -> (starttime, name, Popen or None)
        self.in_spawn = False
        self.pending_signal = None

    def _write(self):
        tmp = self.pidfile + ".tmp"
        with open(tmp, "w") as f:
            for pid, (st, name, _) in sorted(self.live.items()):
                f.write(f"{pid} {st} {name}\n")
        os.replace(tmp, self.pidfile)

    def spawn(self, argv, name, cpu=None, stdout=None, stderr=None):
        if cpu is not None and self.taskset:
            argv = [self.taskset, "-c", str(cpu)] + list(argv)
        self.in_spawn = True
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=stdout if stdout is not None else subprocess.DEVNULL,
                                 stderr=stderr if stderr is not None else subprocess.DEVNULL,
                                 start_new_session=True, close_fds=True)
            self.live[p.pid] = (proc_starttime(p.pid) or "?", name, p)
            self._write()
        finally:
            self.in_spawn = False
        if self.pending_signal:
            raise Interrupted(self.pending_signal)
        return p

    def adopt(self, pid, name):
        """Register a grandchild (an nginx worker) so it is stopped too."""
        if pid not in self.live:
            st = proc_starttime(pid)
            if st:
                self.live[pid] = (st, name, None)
                self._write()

    def alive(self, pid):
        ent = self.live.get(pid)
        if not ent:
            return False
        p = ent[2]
        if p is not None:
            return p.poll() is None
        return proc_starttime(pid) == ent[0]

    def _forget(self, pid):
        if self.live.pop(pid, None) is not None:
            self._write()

    def stop(self, pid, sig=signal.SIGTERM, timeout=5.0):
        """Signal pid, wait up to timeout, then SIGKILL. Returns (exit code or None, killed)."""
        ent = self.live.get(pid)
        if not ent:
            return None, False
        st, name, p = ent
        killed = False
        rc = None
        if p is not None:
            if p.poll() is None:
                try:
                    p.send_signal(sig)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    killed = True
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        pass
            rc = p.returncode
        else:
            if proc_starttime(pid) == st:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + timeout
                while proc_starttime(pid) == st and time.monotonic() < deadline:
                    time.sleep(0.02)
                if proc_starttime(pid) == st:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed = True
                    except ProcessLookupError:
                        pass
        self._forget(pid)
        return rc, killed

    def stop_all(self):
        # Popen children first (nginx masters take their workers down), then leftovers.
        for pid in [p for p, e in self.live.items() if e[2] is not None]:
            self.stop(pid, timeout=3.0)
        for pid in list(self.live):
            self.stop(pid, timeout=1.0)


# --------------------------------------------------------------------------------------------
# Small network helpers (127.0.0.1 only)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=2.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()


def can_connect(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_http_ok(port, path, alive, deadline):
    """Poll until GET path returns 200; bounded by deadline. Returns the last error or None."""
    last = "no attempt"
    for _ in range(5000):
        if time.monotonic() > deadline:
            break
        if not alive():
            return "process exited"
        try:
            status, _ = http_get(port, path, timeout=1.0)
            if status == 200:
                return None
            last = f"HTTP {status}"
        except OSError as e:
            last = str(e)
        time.sleep(0.005)
    return f"not ready before the deadline ({last})"


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).rstrip()
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# Peer configurations


def nginx_preamble(d, worker_connections):
    user = ""
    if os.geteuid() == 0:
        # Run the workers as the current user too (nginx would switch root's workers to nobody).
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    return f"""
worker_processes 1;
{user}
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections {worker_connections}; }}
"""


def nginx_temp_paths(d):
    return "\n".join(f"  {k}_temp_path {d}/tmp/{k};"
                     for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def write_origin_conf(d, port, conns):
    os.makedirs(f"{d}/www", exist_ok=True)
    os.makedirs(f"{d}/tmp", exist_ok=True)
    line = b"meshlab bench origin, 1 KB static body...................................\n"
    body = (line * 20)[:1023] + b"\n"
    assert len(body) == 1024
    with open(f"{d}/www{BODY_PATH}", "wb") as f:
        f.write(body)
    conf = nginx_preamble(d, max(1024, 8 * conns)) + f"""
http {{
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  open_file_cache max=64 inactive=300s;
  open_file_cache_valid 300s;
{nginx_temp_paths(d)}
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    location = /nginx_status {{ stub_status; }}
  }}
}}
"""
    path = f"{d}/nginx.conf"
    with open(path, "w") as f:
        f.write(conf)
    return path


def write_nginx_proxy_conf(d, port, upstream_port, conns):
    os.makedirs(f"{d}/tmp", exist_ok=True)
    conf = nginx_preamble(d, max(1024, 8 * conns)) + f"""
http {{
  access_log off;
  tcp_nodelay on;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
{nginx_temp_paths(d)}
  upstream origin {{
    server 127.0.0.1:{upstream_port};
    keepalive {max(128, conns)};
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id;
    }}
  }}
}}
"""
    path = f"{d}/nginx.conf"
    with open(path, "w") as f:
        f.write(conf)
    return path


def write_haproxy_conf(d, port, upstream_port, conns):
    conf = f"""global
  nbthread 1
  maxconn {max(4096, 4 * conns)}

defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  timeout http-request 300s
  http-reuse always
  option forwardfor

frontend fe
  bind 127.0.0.1:{port}
  http-request set-header X-Forwarded-Proto http
  unique-id-format %{{+X}}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
  unique-id-header X-Request-Id
  default_backend be

backend be
  server origin 127.0.0.1:{upstream_port}
"""
    path = f"{d}/haproxy.cfg"
    with open(path, "w") as f:
        f.write(conf)
    return path


# --------------------------------------------------------------------------------------------
# A running instance of something under test


class Instance:
    """One started origin or proxy: its port, its pids (for RSS and CPU), how it started."""

    def __init__(self, kind, port, main_pid, popen, d):
        self.kind = kind
        self.port = port
        self.main_pid = main_pid
        self.popen = popen
        self.dir = d
        self.ready_ms = None        # meshlab: until "listening on"; peers: until first 200
        self.accept_ms = None       # meshlab: until a TCP connect succeeded
        self.first_ok_ms = None     # until the first 200 through it
        self.admin = None
        self.drain = None
        self.stdout_log = None

    def pids(self, procs):
        """Pids whose RSS/CPU are summed: nginx master + workers; otherwise the process."""
        if self.kind in ("origin", "N"):
            kids = proc_children(self.main_pid)
            for k in kids:
                procs.adopt(k, f"{self.kind}-worker")
            return [self.main_pid] + kids
        return [self.main_pid]

    def rss_kb(self, procs):
        return sum(proc_rss_kb(p) for p in self.pids(procs))

    def cpu_ticks(self, procs):
        return sum(proc_cpu_ticks(p) for p in self.pids(procs))


class Bench:
    def __init__(self, args, work):
        self.a = args
        self.work = work
        self.taskset = None
        if not args.no_pin and shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
            self.taskset = shutil.which("taskset")
        self.procs = Procs(os.path.join(work, "pids"), self.taskset)
        self.sut_cpu = 0 if self.taskset else None
        self.gen_cpu = 1 if self.taskset else None
        self.seq = 0

    def newdir(self, name):
        self.seq += 1
        d = os.path.join(self.work, f"{self.seq:03d}-{name}")
        os.makedirs(d)
        return d

    # ---- starting things

    def start_nginx(self, kind, d, conf, port):
        t0 = time.monotonic()
        err = open(f"{d}/stderr.log", "wb")
        p = self.procs.spawn([self.a.nginx, "-p", d, "-c", conf, "-e", f"{d}/error.log"],
                             f"nginx-{kind}", cpu=self.sut_cpu, stderr=err)
        err.close()
        inst = Instance(kind, port, p.pid, p, d)
        path = BODY_PATH if kind == "origin" else BODY_PATH
        why = wait_http_ok(port, path, lambda: p.poll() is None, time.monotonic() + 10)
        if why:
            raise StartError(f"nginx ({kind}) did not start: {why}\n{tail(f'{d}/error.log')}"
                             f"\n{tail(f'{d}/stderr.log')}")
        inst.first_ok_ms = inst.ready_ms = (time.monotonic() - t0) * 1000
        inst.pids(self.procs)
        return inst

    def start_origin(self):
        d = self.newdir("origin")
        port = free_port()
        conf = write_origin_conf(d, port, self.a.connections)
        return self.start_nginx("origin", d, conf, port)

    def start_proxy(self, cfg, upstream_port, tag=""):
        d = self.newdir(f"{cfg}{tag}")
        if cfg == "N":
            port = free_port()
            conf = write_nginx_proxy_conf(d, port, upstream_port, self.a.connections)
            return self.start_nginx("N", d, conf, port)
        if cfg == "H":
            port = free_port()
            conf = write_haproxy_conf(d, port, upstream_port, self.a.connections)
            t0 = time.monotonic()
            err = open(f"{d}/stderr.log", "wb")
            p = self.procs.spawn([self.a.haproxy, "-db", "-f", conf], "haproxy",
                                 cpu=self.sut_cpu, stdout=err, stderr=err)
            err.close()
            inst = Instance("H", port, p.pid, p, d)
            why = wait_http_ok(port, BODY_PATH, lambda: p.poll() is None, time.monotonic() + 10)
            if why:
                raise StartError(f"haproxy did not start: {why}\n{tail(f'{d}/stderr.log')}")
            inst.first_ok_ms = inst.ready_ms = (time.monotonic() - t0) * 1000
            return inst
        if cfg == "M":
            return self.start_meshlab(d, upstream_port)
        raise ValueError(cfg)

    def start_meshlab(self, d, upstream_port):
        err = open(f"{d}/stderr.log", "wb")
        argv = [self.a.meshlab_run, "proxy", "--listen", "127.0.0.1:0",
                "--upstream", f"127.0.0.1:{upstream_port}", "--admin", "127.0.0.1:0"]
        t0 = time.monotonic()
        p = self.procs.spawn(argv, "meshlab", cpu=self.sut_cpu, stdout=subprocess.PIPE,
                             stderr=err)
        err.close()
        fd = p.stdout.fileno()
        buf = b""
        lines = []
        ready_at = None
        deadline = time.monotonic() + 10
        # Read the first stdout lines: "listening on HOST:PORT", then "admin on HOST:PORT".
        while len(lines) < 2 and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], max(0.0, min(0.5, deadline - time.monotonic())))
            if not r:
                if p.poll() is not None:
                    break
                if ready_at and time.monotonic() - ready_at > 2:
                    break  # no admin line within 2 s of the listening line
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf and len(lines) < 2:
                line, buf = buf.split(b"\n", 1)
                lines.append(line.decode(errors="replace").strip())
                if len(lines) == 1:
                    ready_at = time.monotonic()
        stdout_log = f"{d}/stdout.log"
        drain = threading.Thread(target=drain_pipe, args=(fd, buf, stdout_log), daemon=True)
        drain.start()
        m = re.fullmatch(r"listening on (\S+):(\d+)", lines[0]) if lines else None
        if not m:
            rc = p.poll()
            when = "before exiting" if rc is not None else "within 10 s"
            raise StartError(
                "meshlab proxy did not print 'listening on HOST:PORT' as its first stdout line "
                f"{when} (first lines: {lines!r}, exit code: {rc})\n"
                f"stderr:\n{tail(f'{d}/stderr.log')}")
        port = int(m.group(2))
        inst = Instance("M", port, p.pid, p, d)
        inst.drain = drain
        inst.stdout_log = stdout_log
        inst.ready_ms = (ready_at - t0) * 1000
        if len(lines) > 1:
            ma = re.fullmatch(r"admin on (\S+):(\d+)", lines[1])
            inst.admin = lines[1] if ma else f"unexpected second line: {lines[1]!r}"
        else:
            inst.admin = "no 'admin on' line"
        # Probe: it accepts a TCP connection, then serves a request end to end.
        for _ in range(2000):
            if can_connect("127.0.0.1", port):
                inst.accept_ms = (time.monotonic() - t0) * 1000
                break
            if p.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if inst.accept_ms is None:
            raise StartError(f"meshlab printed '{lines[0]}' but port {port} does not accept "
                             f"connections\nstderr:\n{tail(f'{d}/stderr.log')}")
        why = wait_http_ok(port, BODY_PATH, lambda: p.poll() is None, time.monotonic() + 5)
        if why:
            raise StartError(f"meshlab accepts connections but GET {BODY_PATH} through it "
                             f"never returned 200: {why}\nstderr:\n{tail(f'{d}/stderr.log')}")
        inst.first_ok_ms = (time.monotonic() - t0) * 1000
        return inst

    def stop(self, inst):
        """Stop by pid; returns a note when the process misbehaved on SIGTERM, else None."""
        if inst is None:
            return None
        was_running = inst.popen.poll() is None
        t0 = time.monotonic()
        rc, killed = self.procs.stop(inst.main_pid, signal.SIGTERM, timeout=5.0)
        for k in list(self.procs.live):
            ent = self.procs.live.get(k)
            if ent and ent[2] is None and ent[1].startswith(inst.kind):
                self.procs.stop(k, timeout=1.0)
        if inst.drain:
            inst.drain.join(2)
            if not inst.drain.is_alive():
                inst.popen.stdout.close()
        ms = (time.monotonic() - t0) * 1000
        if not was_running:
            return f"had already exited (code {rc}) before it was stopped"
        if killed:
            return "did not exit within 5 s of SIGTERM; killed with SIGKILL"
        # meshlab's contract is exit 0 on SIGTERM; HAProxy dies of the signal by design.
        if inst.kind == "M" and rc != 0:
            return f"exited with code {rc} on SIGTERM ({ms:.0f} ms)"
        return None

    # ---- measuring

    def origin_counters(self, origin):
        try:
            status, body = http_get(origin.port, "/nginx_status")
        except OSError:
            return None
        m = re.search(rb"\n\s*(\d+)\s+(\d+)\s+(\d+)\s*\n", body)
        if status != 200 or not m:
            return None
        return int(m.group(1)), int(m.group(3))  # accepts, requests

    def wrk(self, port, seconds, samplers=()):
        argv = [self.a.wrk, "-t1", f"-c{self.a.connections}", f"-d{seconds}s", "--timeout", "2s",
                f"http://127.0.0.1:{port}{BODY_PATH}"]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out_path = os.path.join(self.work, "wrk.out")
        with open(out_path, "wb") as out:
            p = self.procs.spawn(argv, "wrk", cpu=self.gen_cpu, stdout=out, stderr=out)
        deadline = time.monotonic() + seconds + 20
        hung = False
        # Sample every 0.5 s while wrk runs: bounded by count and by deadline.
        for _ in range(int((seconds + 20) / 0.5) + 2):
            if p.poll() is not None:
                break
            if time.monotonic() > deadline:
                hung = True
                break
            for s in samplers:
                s()
            time.sleep(0.5)
        else:
            hung = p.poll() is None
        if hung:
            self.procs.stop(p.pid, signal.SIGKILL, timeout=2)
        else:
            self.procs.stop(p.pid, timeout=2)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        text = open(out_path, errors="replace").read()
        res = parse_wrk(text)
        # Only wrk is reaped while it runs, so the children's rusage delta is wrk's CPU.
        res["wrk_cpu_s"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        if hung:
            res["error"] = "wrk did not finish in time; killed"
        if p.returncode not in (0, None) and not hung:
            res.setdefault("error", f"wrk exited with code {p.returncode}")
        res["raw"] = text
        return res

    def measure(self, cfg, origin, round_no):
        """One config in one round. Returns a result dict (never raises StartError)."""
        r = {"config": cfg, "round": round_no}
        inst = None
        try:
            if cfg == "D":
                target = origin
            else:
                inst = self.start_proxy(cfg, origin.port)
                target = inst
                r["ready_ms"] = inst.ready_ms
                r["first_ok_ms"] = inst.first_ok_ms
                if inst.accept_ms is not None:
                    r["accept_ms"] = inst.accept_ms
                if inst.admin:
                    r["admin"] = inst.admin
                time.sleep(0.3)
                r["rss_idle_kb"] = inst.rss_kb(self.procs)
                r["rss_pids"] = len(inst.pids(self.procs))
            if self.a.warmup > 0:
                self.wrk(target.port, self.a.warmup)
            samples = []
            if inst:
                def sample():
                    if inst.popen.poll() is None:
                        samples.append(inst.rss_kb(self.procs))
                samplers = [sample]
            else:
                samplers = []
            c0 = self.origin_counters(origin)
            cpu0 = cpu_times()
            t_origin0 = origin.cpu_ticks(self.procs)
            t_proxy0 = inst.cpu_ticks(self.procs) if inst else 0
            w = self.wrk(target.port, self.a.duration, samplers)
            t_proxy1 = inst.cpu_ticks(self.procs) if inst else 0
            t_origin1 = origin.cpu_ticks(self.procs)
            cpu1 = cpu_times()
            c1 = self.origin_counters(origin)
            r.update({k: v for k, v in w.items() if k != "raw"})
            r["wrk_output"] = w["raw"]
            if samples:
                r["rss_load_kb"] = max(samples)
                r["rss_samples"] = len(samples)
            n = w.get("requests") or 0
            if n:
                r["origin_cpu_us_per_req"] = (t_origin1 - t_origin0) / CLK_TCK * 1e6 / n
                if inst:
                    r["proxy_cpu_us_per_req"] = (t_proxy1 - t_proxy0) / CLK_TCK * 1e6 / n
            if self.taskset:
                r["cpu0_busy_pct"] = cpu_busy_pct(cpu0, cpu1, 0)
                r["cpu1_busy_pct"] = cpu_busy_pct(cpu0, cpu1, 1)
                # CPU taken on each core by processes that are not part of the benchmark (other
                # users of a shared machine): busy time minus what origin+proxy (CPU0) and wrk
                # (CPU1) used. A noisy neighbour shows here before it shows in the rps spread.
                sut = (t_origin1 - t_origin0) + (t_proxy1 - t_proxy0)
                gen = w.get("wrk_cpu_s", 0) * CLK_TCK
                for cpu, own in ((0, sut), (1, gen)):
                    total = cpu1[cpu][1] - cpu0[cpu][1]
                    busy = cpu1[cpu][0] - cpu0[cpu][0]
                    if total > 0:
                        r[f"cpu{cpu}_foreign_pct"] = max(0.0, 100.0 * (busy - own) / total)
            if c0 and c1:
                # minus the one stub_status request/connection of the second snapshot
                r["origin_conns_opened"] = c1[0] - c0[0] - 1
                r["origin_requests"] = c1[1] - c0[1] - 1
            if inst and inst.popen.poll() is not None:
                r["crash"] = (f"exited with code {inst.popen.returncode} during the run\n"
                              f"{tail(os.path.join(inst.dir, 'stderr.log'))}")
        except StartError as e:
            r["start_error"] = str(e)
        finally:
            note = self.stop(inst)
            if note and "crash" not in r:
                r["stop_note"] = note
        return r

    # ---- header fairness check

    def header_check(self, cfgs):
        """Send one request through each proxy to a header-echo upstream: do all add the same
        X-Forwarded-For, X-Forwarded-Proto and X-Request-Id, and speak HTTP/1.1 upstream?"""
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        srv.daemon_threads = True
        th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
        th.start()
        out = {}
        try:
            for cfg in cfgs:
                if cfg == "D":
                    continue
                inst = None
                try:
                    inst = self.start_proxy(cfg, srv.server_address[1], tag="-headers")
                    status, body = http_get(inst.port, "/headers")
                    seen = json.loads(body) if status == 200 else {}
                    h = {k.lower(): v for k, v in seen.get("headers", {}).items()}
                    out[cfg] = {
                        "status": status,
                        "version": seen.get("version"),
                        "x-forwarded-for": h.get("x-forwarded-for"),
                        "x-forwarded-proto": h.get("x-forwarded-proto"),
                        "x-request-id": h.get("x-request-id"),
                        "connection": h.get("connection"),
                    }
                except (StartError, OSError, ValueError) as e:
                    out[cfg] = {"error": str(e).splitlines()[0]}
                finally:
                    self.stop(inst)
        finally:
            srv.shutdown()
            srv.server_close()
        return out


class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"version": self.request_version,
                           "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def drain_pipe(fd, first, path):
    """Keep reading a child's stdout after its ready lines, so a full pipe never blocks it."""
    with open(path, "wb") as f:
        f.write(first)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            f.write(chunk)


# --------------------------------------------------------------------------------------------
# wrk output


def to_bytes(num, unit):
    mult = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}
    return float(num) * mult.get(unit, 1)


def parse_wrk(text):
    r = {}
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if m:
        r["rps"] = float(m.group(1))
    else:
        r["error"] = "no 'Requests/sec:' line in wrk's output"
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", text)
    if m:
        r["requests"] = int(m.group(1))
        secs = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}.get(m.group(3), 1)
        r["seconds"] = secs
        if r["requests"]:
            r["bytes_per_response"] = to_bytes(m.group(4), m.group(5)) / r["requests"]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["socket_errors"] = {k: int(v) for k, v in
                              zip(("connect", "read", "write", "timeout"), m.groups())}
    else:
        r["socket_errors"] = {}
    return r


# --------------------------------------------------------------------------------------------
# Report


def run_text(argv, timeout=5):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return (p.stdout + p.stderr).decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def machine_info(a):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    wrkv = run_text(["dpkg-query", "-W", "-f=${Version}", "wrk"])
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": os.uname().release,
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "nginx": run_text([a.nginx, "-v"]).replace("nginx version: ", ""),
        "haproxy": run_text([a.haproxy, "-v"]).splitlines()[0],
        "wrk": f"wrk {wrkv} (Debian package)",
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }
    if "M" in a.cfgs:
        h = hashlib.sha256()
        with open(a.meshlab_run, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        info["meshlab"] = (f"{a.meshlab} (sha256 {h.hexdigest()[:12]}, built "
                           f"{datetime.datetime.fromtimestamp(a.meshlab_mtime):%Y-%m-%d %H:%M}; "
                           "copied at start so a rebuild during the run cannot mix binaries)")
    return info


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_rps(x):
    return f"{x:,.0f}" if x is not None else "—"


def fmt_mb(kb):
    return f"{kb / 1024:.1f}" if kb is not None else "—"


def fmt(x, spec, none="—"):
    return format(x, spec) if x is not None else none


def errors_of(r):
    """Human-readable error summary of one result, or ''."""
    parts = []
    if r.get("start_error"):
        parts.append("did not start")
    if r.get("crash"):
        parts.append("proxy exited during load")
    if r.get("error"):
        parts.append(r["error"])
    if r.get("non2xx"):
        parts.append(f"{r['non2xx']} non-2xx/3xx")
    se = r.get("socket_errors") or {}
    bad = {k: v for k, v in se.items() if v}
    if bad:
        parts.append("socket errors " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    return "; ".join(parts)


def report(a, info, results, headers, cfgs, placement):
    by = {c: [r for r in results if r["config"] == c] for c in cfgs}
    rps = {c: [r["rps"] for r in by[c] if "rps" in r and not r.get("start_error")] for c in cfgs}
    medians = {c: med(rps[c]) for c in cfgs}
    direct = medians.get("D")
    L = []
    L.append(f"### Throughput, 1 KB GET, {a.connections} connections, wrk -t1, "
             f"{a.duration} s measured after {a.warmup} s warm-up, {a.rounds} interleaved rounds")
    L.append("")
    L.append("| config | median rps | min–max rps | ratio to direct | "
             "RSS idle / under load (MB) | errors |")
    L.append("|---|---:|---:|---:|---:|---|")
    flagged = {}
    for c in cfgs:
        xs = rps[c]
        errs = [(r["round"], errors_of(r)) for r in by[c] if errors_of(r)]
        if errs:
            flagged[c] = errs
        label = LABELS[c] + (" ⚠" if errs else "")
        mm = f"{fmt_rps(min(xs))}–{fmt_rps(max(xs))}" if xs else "—"
        ratio = (f"{medians[c] / direct:.2f}×" if direct and medians[c] is not None else "—")
        if c == "D":
            ratio = "1.00×" if direct else "—"
            rss = "—"
        else:
            idle = med([r.get("rss_idle_kb") for r in by[c]])
            loads = [r.get("rss_load_kb") for r in by[c] if r.get("rss_load_kb")]
            rss = f"{fmt_mb(idle)} / {fmt_mb(max(loads) if loads else None)}"
        e = "none" if not errs else \
            f"round{'s' if len(errs) > 1 else ''} {', '.join(str(n) for n, _ in errs)}: " + \
            " | ".join(sorted(set(t for _, t in errs)))
        L.append(f"| {label} | {fmt_rps(medians[c])} | {mm} | {ratio} | {rss} | {e} |")
    L.append("")
    L.append("RSS is VmRSS from /proc/PID/status: idle = median over rounds, sampled 0.3 s after the "
             "proxy answered its first request and before any load; under load = maximum of "
             "samples every 0.5 s during all measured runs. nginx = master + 1 worker summed; "
             "HAProxy = its one process (nbthread 1); meshlab = its one process.")
    L.append("")

    M = medians.get("M")
    lines = []
    targets = []
    if "M" in cfgs:
        for peer, name in (("N", "nginx"), ("H", "HAProxy")):
            if peer in cfgs and M and medians.get(peer):
                ratio = M / medians[peer]
                ok = ratio >= 1.0
                lines.append(f"- **meshlab / {name}** (median rps): **{ratio:.2f}×** "
                             f"(target ≥ 1.00: {'met' if ok else 'MISSED'})")
                targets.append(ok)
        readys = [r.get("ready_ms") for r in by["M"] if r.get("ready_ms") is not None]
        accepts = [r.get("accept_ms") for r in by["M"] if r.get("accept_ms") is not None]
        firsts = [r.get("first_ok_ms") for r in by["M"] if r.get("first_ok_ms") is not None]
        if readys:
            rm = med(readys)
            lines.append(f"- **meshlab ready** (process start → `listening on` line): median "
                         f"**{rm:.1f} ms** over {len(readys)} starts (min {min(readys):.1f}, "
                         f"max {max(readys):.1f}); accepts a TCP connection at median "
                         f"{fmt(med(accepts), '.1f')} ms; first 200 through it at median "
                         f"{fmt(med(firsts), '.1f')} ms (target ≤ 50 ms: "
                         f"{'met' if rm <= 50 else 'MISSED'})")
            targets.append(rm <= 50)
        idle = med([r.get("rss_idle_kb") for r in by["M"]])
        loads = [r.get("rss_load_kb") for r in by["M"] if r.get("rss_load_kb")]
        if idle:
            ok = idle <= 8 * 1024
            lines.append(f"- **meshlab RSS idle** {fmt_mb(idle)} MB (target ≤ 8 MB: "
                         f"{'met' if ok else 'MISSED'})")
            targets.append(ok)
        if loads:
            ok = max(loads) <= 12 * 1024
            lines.append(f"- **meshlab RSS under load** {fmt_mb(max(loads))} MB (target ≤ 12 MB: "
                         f"{'met' if ok else 'MISSED'})")
            targets.append(ok)
        if not M:
            lines.append("- **meshlab produced no throughput result** (see errors below)")
            targets.append(False)
        admins = sorted(set(r.get("admin") for r in by["M"] if r.get("admin")))
        if admins and any(not x.startswith("admin on") for x in admins):
            lines.append(f"- meshlab second stdout line: {'; '.join(admins)}")
    if lines:
        L.extend(lines)
        L.append("")

    # per-round values, to show the spread and the interleaving
    L.append("#### Per round (requests/s, in run order)")
    L.append("")
    L.append("| round | " + " | ".join(LABELS[c] for c in cfgs) + " |")
    L.append("|---|" + "---:|" * len(cfgs))
    for n in range(1, a.rounds + 1):
        cells = []
        for c in cfgs:
            rr = [r for r in by[c] if r["round"] == n]
            if not rr:
                cells.append("—")
            elif rr[0].get("start_error"):
                cells.append("start failed")
            else:
                cell = fmt_rps(rr[0].get("rps")) + (" ⚠" if errors_of(rr[0]) else "")
                f0, f1 = rr[0].get("cpu0_foreign_pct"), rr[0].get("cpu1_foreign_pct")
                if (f0 or 0) > NOISY_PCT or (f1 or 0) > NOISY_PCT:
                    cell += f" (others {f0:.0f} % / {f1:.0f} %)"
                cells.append(cell)
        L.append(f"| {n} | " + " | ".join(cells) + " |")
    L.append("")
    f0 = [r.get("cpu0_foreign_pct") for r in results if r.get("cpu0_foreign_pct") is not None]
    f1 = [r.get("cpu1_foreign_pct") for r in results if r.get("cpu1_foreign_pct") is not None]
    if f0 and f1:
        noisy = [r for r in results if max(r.get("cpu0_foreign_pct") or 0,
                                           r.get("cpu1_foreign_pct") or 0) > NOISY_PCT]
        L.append(f"Other processes on the machine used up to {max(f0):.0f} % of CPU0 and "
                 f"{max(f1):.0f} % of CPU1 during the measured runs (median {med(f0):.1f} % / "
                 f"{med(f1):.1f} %); " +
                 (f"{len(noisy)} of {len(results)} runs had more than {NOISY_PCT} % on a core "
                  "(shown as \"others CPU0 % / CPU1 %\"): treat the spread with care."
                  if noisy else "no run was disturbed by more than "
                  f"{NOISY_PCT} %."))
        L.append("")

    L.append("#### Details (medians over rounds)")
    L.append("")
    L.append("| config | proxy CPU µs/req | origin CPU µs/req | CPU0 / CPU1 busy % | "
             "CPU0 / CPU1 used by other processes % | "
             "origin conns opened while measuring | origin req / wrk req | bytes per response "
             "(wrk) | start → first 200 (ms) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in cfgs:
        rs = [r for r in by[c] if not r.get("start_error")]
        ratio_req = med([r["origin_requests"] / r["requests"] for r in rs
                         if r.get("requests") and r.get("origin_requests") is not None])
        busy = foreign = "—"
        if placement:
            busy = (f"{fmt(med([r.get('cpu0_busy_pct') for r in rs]), '.0f')} / "
                    f"{fmt(med([r.get('cpu1_busy_pct') for r in rs]), '.0f')}")
            foreign = (f"{fmt(med([r.get('cpu0_foreign_pct') for r in rs]), '.1f')} / "
                       f"{fmt(med([r.get('cpu1_foreign_pct') for r in rs]), '.1f')}")
        L.append(f"| {LABELS[c]} | {fmt(med([r.get('proxy_cpu_us_per_req') for r in rs]), '.2f')}"
                 f" | {fmt(med([r.get('origin_cpu_us_per_req') for r in rs]), '.2f')}"
                 f" | {busy} | {foreign}"
                 f" | {fmt(med([r.get('origin_conns_opened') for r in rs]), '.0f')}"
                 f" | {fmt(ratio_req, '.3f')}"
                 f" | {fmt(med([r.get('bytes_per_response') for r in rs]), '.0f')}"
                 f" | {fmt(med([r.get('first_ok_ms') for r in rs]), '.1f')} |")
    L.append("")
    L.append("CPU µs/req = (utime+stime from /proc/PID/stat over the measured run) / wrk's "
             "request count. CPU busy % from /proc/stat over the measured run; \"used by other "
             "processes\" = busy minus origin+proxy (CPU0) or wrk (CPU1), clamped at 0: the "
             "shared machine's noise, approximate (±10 points: /proc/stat is tick-sampled). "
             "\"origin conns opened\" from the origin's stub_status: a pooling proxy opens "
             "~0 new upstream connections while measuring; D shows wrk's own connections.")
    L.append("")

    if headers:
        L.append("#### Header work (one request through each proxy to a header-echo upstream)")
        L.append("")
        L.append("| config | upstream HTTP version | X-Forwarded-For | X-Forwarded-Proto | "
                 "X-Request-Id | Connection |")
        L.append("|---|---|---|---|---|---|")
        for c in cfgs:
            h = headers.get(c)
            if not h:
                continue
            if "error" in h:
                L.append(f"| {LABELS[c]} | check failed: {h['error']} | | | | |")
                continue
            L.append(f"| {LABELS[c]} | {h.get('version') or '—'} | "
                     f"{h.get('x-forwarded-for') or 'MISSING'} | "
                     f"{h.get('x-forwarded-proto') or 'MISSING'} | "
                     f"{'`' + h['x-request-id'] + '`' if h.get('x-request-id') else 'MISSING'} | "
                     f"{h.get('connection') or '—'} |")
        L.append("")

    if flagged:
        L.append("#### Errors")
        L.append("")
        for c, errs in flagged.items():
            for n, t in errs:
                L.append(f"- {LABELS[c]}, round {n}: {t}")
                r = [x for x in by[c] if x["round"] == n][0]
                for key in ("start_error", "crash"):
                    if r.get(key):
                        L.append("  ```")
                        L.extend("  " + s for s in r[key].splitlines()[:20])
                        L.append("  ```")
        L.append("")
    notes = [(r["config"], r["round"], r["stop_note"]) for r in results if r.get("stop_note")]
    if notes:
        L.append("#### Shutdown")
        L.append("")
        for c, n, t in notes:
            L.append(f"- {LABELS[c]}, round {n}: {t}")
        L.append("")

    L.append("#### Machine and peers")
    L.append("")
    L.append(f"- date: {info['date']}; kernel {info['kernel']}; CPU {info['cpu']}; "
             f"nproc {info['nproc']}; load average at start {' '.join(info['loadavg_start'])}, "
             f"at end {' '.join(info.get('loadavg_end', ['?']))}")
    L.append(f"- placement: {placement or 'not pinned (taskset unavailable, --no-pin, or < 2 CPUs)'}")
    L.append(f"- {info['nginx']}; {info['haproxy']}; {info['wrk']}")
    if info.get("meshlab"):
        L.append(f"- meshlab: {info['meshlab']}")
    L.append("")
    return "\n".join(L), targets


# --------------------------------------------------------------------------------------------


def parse_args(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Throughput of one reverse-proxy hop: meshlab vs nginx vs HAProxy vs direct, "
                    "interleaved in rounds on 127.0.0.1.")
    sec = lambda s: int(str(s).rstrip("s"))  # noqa: E731
    p.add_argument("--duration", type=sec, default=20, help="seconds measured per run (20)")
    p.add_argument("--warmup", type=sec, default=3, help="seconds of warm-up per run (3)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    p.add_argument("--meshlab", default=os.path.join(root, "build/release/meshlab"),
                   help="meshlab binary (build/release/meshlab)")
    p.add_argument("--configs", default="D,N,H,M",
                   help="comma-separated subset of D,N,H,M, run in that order (all)")
    p.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    p.add_argument("--json", metavar="FILE", help="write every per-round result to FILE")
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    p.add_argument("--no-header-check", action="store_true",
                   help="skip the one-request header check through each proxy")
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    cfgs = [c.strip().upper() for c in a.configs.split(",") if c.strip()]
    bad = [c for c in cfgs if c not in CONFIGS]
    if bad or not cfgs or len(set(cfgs)) != len(cfgs):
        p.error(f"--configs takes a comma-separated subset of D,N,H,M (got {a.configs!r})")
    a.cfgs = cfgs
    if not 1 <= a.duration <= 3600 or not 0 <= a.warmup <= 600:
        p.error("--duration must be 1..3600 s and --warmup 0..600 s")
    if not 1 <= a.rounds <= 100:
        p.error("--rounds must be 1..100")
    if not 1 <= a.connections <= 10000:
        p.error("--connections must be 1..10000")
    for tool in ("nginx", "haproxy", "wrk"):
        path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin")
        setattr(a, tool, path)
    need = {"nginx": True, "wrk": True, "haproxy": "H" in cfgs}
    missing = [t for t, n in need.items() if n and not getattr(a, t)]
    if missing:
        p.error(f"{', '.join(missing)} not found: run bench/setup first")
    if not a.haproxy:
        a.haproxy = "haproxy"
    if "M" in cfgs:
        a.meshlab = os.path.abspath(a.meshlab)
        if not os.access(a.meshlab, os.X_OK):
            p.error(f"meshlab binary {a.meshlab} not found or not executable: build it "
                    "(cmake --preset release && cmake --build --preset release), pass --meshlab "
                    "PATH, or leave meshlab out with --configs D,N,H")
    return a


def main(argv):
    a = parse_args(argv)
    own_work = a.workdir is None
    work = a.workdir or tempfile.mkdtemp(prefix="meshlab-bench.")

    def on_signal(signum, _frame):
        if bench.procs.in_spawn:
            bench.procs.pending_signal = signum
            return
        raise Interrupted(signum)

    bench = Bench(a, work)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    rc = 0
    try:
        if "M" in a.cfgs:
            # Run a private copy: other people rebuild build/release while a run takes minutes.
            os.makedirs(os.path.join(work, "bin"))
            a.meshlab_run = os.path.join(work, "bin", "meshlab")
            a.meshlab_mtime = os.stat(a.meshlab).st_mtime
            shutil.copy2(a.meshlab, a.meshlab_run)
        info = machine_info(a)
        placement = None
        if bench.taskset:
            placement = "wrk (-t1) on CPU1; origin and the proxy under test on CPU0 (taskset)"
        total = len(a.cfgs) * a.rounds * (a.duration + a.warmup + 1)
        log(f"bench: configs {','.join(a.cfgs)}, {a.rounds} rounds, {a.duration} s + "
            f"{a.warmup} s warm-up each, {a.connections} connections: about {total // 60} min "
            f"{total % 60} s")
        origin = bench.start_origin()
        log(f"bench: origin nginx on 127.0.0.1:{origin.port} (pid {origin.main_pid})")
        headers = {}
        if not a.no_header_check:
            headers = bench.header_check(a.cfgs)
        results = []
        for n in range(1, a.rounds + 1):
            for c in a.cfgs:
                r = bench.measure(c, origin, n)
                results.append(r)
                e = errors_of(r)
                extra = ""
                if r.get("ready_ms") is not None and c == "M":
                    extra = f", ready {r['ready_ms']:.1f} ms"
                log(f"bench: round {n} {LABELS[c]}: {fmt_rps(r.get('rps'))} rps{extra}"
                    + (f"  [{e}]" if e else ""))
                if r.get("start_error"):
                    log("  " + r["start_error"].replace("\n", "\n  "))
                if origin.popen.poll() is not None:
                    raise StartError(f"the origin exited (code {origin.popen.returncode})\n"
                                     f"{tail(os.path.join(origin.dir, 'error.log'))}")
                time.sleep(0.5)
        info["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        text, targets = report(a, info, results, headers, a.cfgs, placement)
        print()
        print(text)
        if a.markdown:
            with open(a.markdown, "w") as f:
                f.write(text + "\n")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": {k: v for k, v in vars(a).items() if k != "workdir"},
                           "machine": info, "headers": headers, "results": results}, f, indent=1)
    except Interrupted as e:
        log(f"bench: interrupted by signal {e.args[0]}; stopping everything it started")
        rc = 128 + e.args[0]
    except StartError as e:
        log(f"bench: {e}")
        rc = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        bench.procs.stop_all()
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    return rc


def log(msg):
    print(msg, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
