"""Shared pieces of the benchmarks: the machine, server processes, PostgreSQL, RSS sampling, stats.

Everything runs on loopback. A benchmark starts a fedisupport server with the real CLI
(`fedisupport init`, `fedisupport serve`, `fedisupport worker`) in a temporary data directory,
and stops it (and removes the directory) when it ends.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
FEDISUPPORT = str(VENV_BIN / "fedisupport")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "54339"))
PG_DIR = Path(os.environ.get("BENCH_PG_DIR", "/tmp/fedisupport-bench-pg"))
COMMUNITY = "hearyou"
ADMIN = "admin"


# --------------------------------------------------------------------------- the machine

def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}/{fifteen:.2f}"


def machine_line() -> str:
    mem = psutil.virtual_memory().total / 2**30
    return (f"{os.cpu_count()} cores, {mem:.1f} GiB, Python {sys.version.split()[0]}, {load()}")


def revision() -> str:
    """The commit the server code is at, and whether fedisupport/ has uncommitted changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "fedisupport"], cwd=ROOT).returncode != 0
        return rev + (" + uncommitted changes in fedisupport/" if dirty else "")
    except OSError:
        return "?"


def header(name: str, **params: Any) -> None:
    print(f"== {name} ==  {time.strftime('%Y-%m-%d %H:%M:%S')}  {machine_line()}  fedisupport {revision()}", flush=True)
    if params:
        print("   " + "  ".join(f"{k}={v}" for k, v in params.items()), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


# --------------------------------------------------------------------------- PostgreSQL

def start_postgres() -> str:
    """A PostgreSQL of our own on 127.0.0.1:PG_PORT with durable settings (fsync and synchronous
    commit on, unlike the test one in scripts/start-postgres.sh); returns the server URL."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    binary = bins[-1]
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    status = subprocess.run(as_pg + [str(binary / "pg_ctl"), "-D", str(PG_DIR), "status"], capture_output=True)
    if status.returncode != 0:
        shutil.rmtree(PG_DIR, ignore_errors=True)
        PG_DIR.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(PG_DIR, "postgres", "postgres")
        subprocess.run(as_pg + [str(binary / "initdb"), "-D", str(PG_DIR), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)
        opts = (f"-h 127.0.0.1 -p {PG_PORT} -k {PG_DIR} -c max_connections=300 -c shared_buffers=512MB "
                "-c synchronous_commit=on -c fsync=on")
        subprocess.run(as_pg + [str(binary / "pg_ctl"), "-D", str(PG_DIR), "-l", str(PG_DIR / "log"), "-w", "start",
                                "-o", opts], check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{PG_PORT}"


async def _pg_admin(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database(server_url: str) -> tuple[str, str]:
    name = "fedibench_" + secrets.token_hex(4)
    asyncio.run(_pg_admin(server_url, f"CREATE DATABASE {name}"))
    return name, f"{server_url}/{name}"


def drop_pg_database(server_url: str, name: str) -> None:
    with contextlib.suppress(Exception):
        asyncio.run(_pg_admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# --------------------------------------------------------------------------- RSS

class RSSSampler:
    """Peak resident memory of a set of process trees, summed over all their processes."""

    def __init__(self, interval: float = 0.25) -> None:
        self.roots: list[int] = []
        self.interval = interval
        self.peak_total = 0
        self.peak_each: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _procs(self) -> list[psutil.Process]:
        out = []
        for pid in list(self.roots):
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                out.append(root)
                out.extend(root.children(recursive=True))
        return out

    def sample(self) -> None:
        total = 0
        for proc in self._procs():
            with contextlib.suppress(psutil.Error):
                rss = proc.memory_info().rss
                total += rss
                label = f"{proc.pid}:{' '.join(proc.cmdline()[1:4])[:60]}"
                self.peak_each[label] = max(self.peak_each.get(label, 0), rss)
        self.peak_total = max(self.peak_total, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def report(self) -> str:
        each = ", ".join(f"{v / 2**20:.0f} MiB ({k})" for k, v in sorted(self.peak_each.items()))
        return f"peak RSS of all server processes: {self.peak_total / 2**20:.0f} MiB  [{each}]"


# --------------------------------------------------------------------------- the server

@dataclass
class Server:
    """A fedisupport instance run with the real CLI in a temporary data directory.

    db: "sqlite" (one `serve` process with its in-process worker) or "postgres" (`serve
    --workers N --no-worker` plus `fedisupport worker` processes, by default).
    """

    db: str = "sqlite"
    serve_processes: int = 1
    in_serve_worker: bool = True
    extra_workers: int = 0
    pg_server: str | None = None
    keep: bool = False
    log_level: str = "warning"
    port: int = field(default_factory=free_port)
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fedibench-")))
    procs: list[subprocess.Popen] = field(default_factory=list)
    pg_name: str | None = None
    database_url: str | None = None
    rss: RSSSampler = field(default_factory=RSSSampler)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "FEDISUPPORT_DATA_DIR": str(self.data_dir),
            "FEDISUPPORT_DOMAIN": self.domain,
            "FEDISUPPORT_PORT": str(self.port),
            "FEDISUPPORT_HOST": "127.0.0.1",
            "FEDISUPPORT_ALLOW_PRIVATE_ADDRESSES": "true",
            "FEDISUPPORT_INSECURE_HTTP": "true",
            "FEDISUPPORT_LOG_LEVEL": self.log_level,
        })
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str) -> str:
        result = subprocess.run([FEDISUPPORT, *args], env=self.env(), capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"fedisupport {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def settings(self):
        from fedisupport.settings import load_settings

        old = dict(os.environ)
        try:
            os.environ.update(self.env())
            return load_settings()
        finally:
            os.environ.clear()
            os.environ.update(old)

    def init(self) -> None:
        """`fedisupport init`, an admin and the community `support`."""
        if self.db == "postgres":
            self.pg_server = self.pg_server or start_postgres()
            self.pg_name, self.database_url = create_pg_database(self.pg_server)
        args = ["init", "--domain", self.domain, "--insecure-http", "--site-name", "bench",
                "--admin-username", ADMIN, "--admin-password", "bench-password-123"]
        if self.database_url:
            args += ["--database-url", self.database_url]
        self.cli(*args)
        self.cli("admin", "create-community", COMMUNITY, "--title", "Support", "--owner", ADMIN)

    def start(self, timeout: float = 60) -> None:
        logf = open(self.data_dir / "server.log", "ab")
        serve = [FEDISUPPORT, "serve", "--port", str(self.port), "--host", "127.0.0.1"]
        if self.serve_processes > 1:
            serve += ["--workers", str(self.serve_processes)]
        if not self.in_serve_worker:
            serve += ["--no-worker"]
        self.procs.append(subprocess.Popen(serve, env=self.env(), stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                                           start_new_session=True))
        for _ in range(self.extra_workers):
            self.procs.append(subprocess.Popen([FEDISUPPORT, "worker"], env=self.env(), stdout=logf, stderr=logf,
                                               stdin=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                raise RuntimeError("server exited at start:\n" + self.log_tail())
            try:
                with urllib.request.urlopen(self.base_url + "/.well-known/nodeinfo", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start:\n" + self.log_tail())
        self.rss.roots = [p.pid for p in self.procs]
        self.rss.start()

    def log_tail(self, n: int = 40) -> str:
        path = self.data_dir / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""

    def errors_in_log(self) -> int:
        path = self.data_dir / "server.log"
        if not path.exists():
            return 0
        text = path.read_text(errors="replace")
        return text.count(" ERROR ") + text.count("Traceback")

    def pids(self) -> list[int]:
        out = []
        for p in self.procs:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(p.pid)
                out.append(root.pid)
                out.extend(c.pid for c in root.children(recursive=True))
        return out

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by every server process."""
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
        return total

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.rss.sample()
            self.rss.stop()
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        self.procs.clear()
        if self.errors_in_log():
            saved = BENCH / "results" / f"server-{time.strftime('%H%M%S')}-{self.db}.log"
            saved.parent.mkdir(exist_ok=True)
            shutil.copy(self.data_dir / "server.log", saved)
            print(f"   server log with errors saved to {saved}")
        if self.pg_name and not self.keep:
            drop_pg_database(self.pg_server, self.pg_name)
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        else:
            print(f"   (kept {self.data_dir})")


# --------------------------------------------------------------------------- the database, read from outside

class Probe:
    """Counts read straight from the server's database (sqlite3 read-only, or asyncpg)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._sqlite = None
        self._pg = None

    async def open(self) -> None:
        if self.server.db == "postgres":
            import asyncpg

            self._pg = await asyncpg.connect(self.server.database_url)
        else:
            import sqlite3

            path = self.server.data_dir / "fedisupport.db"
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()
        if self._sqlite is not None:
            self._sqlite.close()

    async def rows(self, sql: str) -> list[tuple]:
        if self._pg is not None:
            return [tuple(r) for r in await self._pg.fetch(sql)]
        return await asyncio.to_thread(lambda: self._sqlite.execute(sql).fetchall())

    async def scalar(self, sql: str) -> Any:
        rows = await self.rows(sql)
        return rows[0][0] if rows else None

    async def inbox_states(self) -> dict[str, int]:
        return {state: n for state, n in await self.rows("SELECT state, count(*) FROM inbox_items GROUP BY state")}


def dump_json(path: Path | None, data: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str))
