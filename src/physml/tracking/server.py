"""The embedded tracking server: a real `mlflow server` process that physml starts and stops.

SQLite backend store and a local artifact store (served through the server's artifact proxy) in a
project-local directory (`./.physml` or $PHYSML_HOME), bound to 127.0.0.1. Clients talk HTTP to it
exactly as they would to a team server.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from physml.console import physml_command
from physml.errors import TrackingServerError

DEFAULT_PORT = 5000


@dataclass
class ServerInfo:
    pid: int
    host: str
    port: int
    home: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def home_dir(home: str | Path | None = None) -> Path:
    return Path(home or os.environ.get("PHYSML_HOME") or Path.cwd() / ".physml").resolve()


def is_healthy(url: str, path: str = "/health", timeout: float = 2.0) -> bool:
    try:
        return requests.get(f"{url}{path}", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state(home: Path, name: str = "server") -> ServerInfo | None:
    path = home / f"{name}.json"
    if not path.exists():
        return None
    try:
        return ServerInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def status(home: str | Path | None = None, name: str = "server", health_path: str = "/health") -> ServerInfo | None:
    """The running server `name` of this home, or None (a stale state file is removed)."""
    home = home_dir(home)
    info = _read_state(home, name)
    if info is None:
        return None
    if _pid_alive(info.pid) and is_healthy(info.url, health_path):
        return info
    if not _pid_alive(info.pid):
        (home / f"{name}.json").unlink(missing_ok=True)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS picks it), for a server started right after."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def launch(
    command: list[str],
    *,
    home: Path,
    host: str,
    port: int,
    name: str = "server",
    env: dict[str, str] | None = None,
    health_path: str = "/health",
    timeout: float = 120,
) -> ServerInfo:
    """Start a server process in its own session, log to `<home>/<name>.log`, wait until
    `health_path` answers 200 and record it in `<home>/<name>.json` (what status/stop read)."""
    if port_in_use(host, port):
        raise TrackingServerError(
            f"port {port} on {host} is already taken by another process; choose another with --port"
        )
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    info = ServerInfo(pid=process.pid, host=host, port=port, home=str(home))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise TrackingServerError(
                f"{command[0]} {name} exited with code {process.returncode}; log {log_path}:\n{tail}"
            )
        if is_healthy(info.url, health_path):
            (home / f"{name}.json").write_text(json.dumps(asdict(info)))
            return info
        time.sleep(0.5)
    _terminate(process.pid)
    raise TrackingServerError(f"{name} did not answer on {info.url} within {timeout:.0f} s; see {log_path}")


def start(
    home: str | Path | None = None,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    timeout: float = 120,
    exact: bool = False,
) -> ServerInfo:
    """Start the embedded `mlflow server` (SQLite + local artifacts) and wait until /health answers.
    One server per home: a lock on the home makes a second starter wait for the first and use its
    server. `exact`: a running server on another host or port is an error, not the answer."""
    home = home_dir(home)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "server.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when this process ends, however it ends
        running = status(home)
        if running and exact and (running.host, running.port) != (host, port):
            raise TrackingServerError(
                f"this home's server already runs at {running.url} (pid {running.pid}, {home}), not on {host}:{port}: "
                f"use it, or stop it first (`{physml_command()} server stop`)"
            )
        if running:
            return running
        (home / "mlartifacts").mkdir(parents=True, exist_ok=True)
        command = mlflow_server_command(
            f"sqlite:///{home / 'mlflow.db'}", str(home / "mlartifacts"), host, port, *remote_options(host, port)
        )
        return launch(command, home=home, host=host, port=port, env=server_env(), timeout=timeout)


LOOPBACK = ("127.0.0.1", "localhost", "::1")
ALLOWED_HOSTS_VARIABLE = "PHYSML_ALLOWED_HOSTS"


def served_names(host: str) -> list[str]:
    """The names a client may put in its Host header for a server bound to `host`: that address, this
    machine's host name (short and full) and addresses, loopback (physml's own requests here), and the
    names PHYSML_ALLOWED_HOSTS adds (comma-separated: a DNS alias, a proxy's name). Never `*`."""
    extra = [name.strip() for name in os.environ.get(ALLOWED_HOSTS_VARIABLE, "").split(",") if name.strip()]
    if any(set(name) <= {"*", "."} for name in extra):
        raise TrackingServerError(
            f"{ALLOWED_HOSTS_VARIABLE} must name hosts, not {os.environ[ALLOWED_HOSTS_VARIABLE]!r}"
        )
    names = {host, socket.gethostname(), socket.getfqdn(), *LOOPBACK, *extra}
    try:
        names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    return sorted(f"[{name}]" if ":" in name else name for name in names - {"0.0.0.0", "::", ""})


def remote_options(host: str, port: int) -> list[str]:
    """For a server other machines reach: MLflow's Host-header check (against DNS rebinding) and its
    CORS origins set to this machine's names (`served_names`), with and without the port. MLflow's
    default (loopback and private addresses) refuses a public address or a host name with 403, even
    physml's own requests. A loopback server keeps MLflow's default."""
    if host in LOOPBACK or host.startswith("127."):
        return []
    names = served_names(host)
    hosts = [*names, *(f"{name}:{port}" for name in names)]
    origins = [f"http://{name}:{port}" for name in names] + [f"https://{name}:{port}" for name in names]
    return ["--allowed-hosts", ",".join(hosts), "--cors-allowed-origins", ",".join(origins)]


def mlflow_server_command(backend_store: str, artifacts: str, host: str, port: int, *options: str) -> list[str]:
    """`mlflow server` with a backend store, proxied artifacts, one worker, and any other options."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        *options,
        "--backend-store-uri",
        backend_store,
        "--artifacts-destination",
        artifacts,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def server_env() -> dict[str, str]:
    """MLflow 3's server also starts a job runner with about ten worker processes for its GenAI
    features (LLM judges, trace roll-ups), which physml does not use: about 2 GB of memory and
    steady polling. Off unless the environment asks for it."""
    return {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": os.environ.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")}


def _terminate(pid: int, timeout: float = 20) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)  # our child when started in this process
            if reaped:
                return
        except ChildProcessError:
            pass
        if not _pid_alive(pid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop(home: str | Path | None = None, name: str = "server") -> ServerInfo | None:
    """Stop the server `name` of this home; returns what was stopped, or None."""
    home = home_dir(home)
    info = _read_state(home, name)
    if info is None:
        return None
    state = home / f"{name}.json"
    if _pid_alive(info.pid):
        command = command_line(info.pid)
        if not is_server_process(command, info.port):
            state.unlink(missing_ok=True)
            raise TrackingServerError(
                f"{state} names pid {info.pid}, but that process is not the {name} on port {info.port} "
                f"(it runs: {command[:200] or 'unknown'}); left it alone and removed the stale state file"
            )
        _terminate(info.pid)
    state.unlink(missing_ok=True)
    return info


def command_line(pid: int) -> str:
    """The command line of process `pid` ('' when it cannot be read)."""
    proc = Path(f"/proc/{pid}/cmdline")
    try:
        if proc.exists():
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        result = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=10)
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def is_server_process(command: str, port: int) -> bool:
    """Whether a command line is one physml starts: an MLflow or moto server on `port`. A PID from a
    stale state file may since belong to anything; stopping kills its whole process group."""
    words = command.split()
    serves = ("mlflow" in command and "server" in words) or "moto.server" in words
    on_port = any(flag in ("--port", "-p") and value == str(port) for flag, value in itertools.pairwise(words))
    return serves and on_port


URI_SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks", "databricks-uc", "uc")


def checked_uri(uri: str, origin: str) -> str:
    """A tracking URI MLflow can use, or a one-line error naming where it came from."""
    if "://" not in uri and ":" not in uri.split("/")[0]:
        return uri  # a local path: MLflow's file store
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in URI_SCHEMES:
        raise TrackingServerError(
            f"{origin}={uri!r}: unknown scheme {scheme!r}; use http(s)://HOST:PORT (a tracking server), "
            "sqlite:///PATH.db, postgresql://... or a local folder"
        )
    return uri


def credentials_to_environment(uri: str) -> str:
    """An http(s) URI's user and password moved into MLflow's own variables (MLFLOW_TRACKING_USERNAME
    and _PASSWORD, unless set) and the URI returned without them: MLflow writes the tracking URI into
    its "View run ... at:" lines, so a password left in it would be printed."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or parts.password is None:
        return uri
    os.environ.setdefault("MLFLOW_TRACKING_USERNAME", unquote(parts.username or ""))
    os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", unquote(parts.password))
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def resolve_tracking_uri(explicit: str | None = None, autostart: bool = True, port: int = DEFAULT_PORT) -> str:
    """--tracking-uri > $MLFLOW_TRACKING_URI > the running embedded server > start the embedded server.
    Credentials in the URI go to MLflow's variables (credentials_to_environment)."""
    if explicit:
        return credentials_to_environment(checked_uri(explicit, "--tracking-uri"))
    if env := os.environ.get("MLFLOW_TRACKING_URI"):
        return credentials_to_environment(checked_uri(env, "MLFLOW_TRACKING_URI"))
    running = status()
    if running:
        return running.url
    if not autostart:
        raise TrackingServerError(
            f"no tracking server: pass --tracking-uri, set MLFLOW_TRACKING_URI or run `{physml_command()} server start`"
        )
    info = start(port=port)
    print(
        f"started the embedded MLflow server at {info.url} (stop it with `{physml_command()} server stop`)",
        file=sys.stderr,
    )
    return info.url
