"""The team tracking server: `mlflow server` with a PostgreSQL backend store, an S3-compatible
artifact store served through the server's artifact proxy, and MLflow's basic-auth app.

Every setting comes from the environment (see `TeamSettings.from_env`); nothing is hard-coded.
`serve` starts the server against existing services (AWS RDS + S3, MinIO, ...). `local_stack_up`
(`physml team up`) brings up a whole stack on this machine for a demo or the tests: a database on
the local PostgreSQL, a real S3-compatible server process (moto's server mode) and the server,
with the admin's credentials written to a netrc file that MLflow's HTTP client reads ($NETRC).
"""

from __future__ import annotations

import importlib.util
import netrc
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from physml.errors import TrackingServerError
from physml.tracking import server

DEFAULT_PORT = 5050
DEFAULT_S3_PORT = 5051
SERVER_NAME = "team-server"
S3_NAME = "s3"
LOCAL_DB_URL = "postgresql://postgres@127.0.0.1:5432/physml_team"
LOCAL_BUCKET = "physml-artifacts"


@dataclass
class TeamSettings:
    db_url: str
    artifacts: str
    admin_password: str
    admin_user: str = "admin"
    s3_endpoint: str | None = None
    auth_db_url: str | None = None
    default_permission: str = "READ"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TeamSettings:
        """PHYSML_TEAM_DB_URL, PHYSML_TEAM_ARTIFACTS (s3://bucket/prefix), PHYSML_TEAM_ADMIN_PASSWORD
        are required; PHYSML_TEAM_ADMIN_USER, PHYSML_TEAM_AUTH_DB_URL, PHYSML_TEAM_DEFAULT_PERMISSION
        and MLFLOW_S3_ENDPOINT_URL (MinIO or another S3-compatible store) are optional. The S3
        credentials are boto3's usual ones (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a role)."""
        env = os.environ if env is None else env
        missing = [
            k for k in ("PHYSML_TEAM_DB_URL", "PHYSML_TEAM_ARTIFACTS", "PHYSML_TEAM_ADMIN_PASSWORD") if not env.get(k)
        ]
        if missing:
            raise TrackingServerError(
                f"the team server needs {', '.join(missing)} in the environment (see infra/README.md)"
            )
        return cls(
            db_url=env["PHYSML_TEAM_DB_URL"],
            artifacts=env["PHYSML_TEAM_ARTIFACTS"],
            admin_password=env["PHYSML_TEAM_ADMIN_PASSWORD"],
            admin_user=env.get("PHYSML_TEAM_ADMIN_USER") or "admin",
            s3_endpoint=env.get("MLFLOW_S3_ENDPOINT_URL") or None,
            auth_db_url=env.get("PHYSML_TEAM_AUTH_DB_URL") or None,
            default_permission=env.get("PHYSML_TEAM_DEFAULT_PERMISSION") or "READ",
        )


def masked(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def check_database(url: str, timeout: int = 5) -> None:
    """Connect once; an unreachable or misconfigured database is a one-line error naming the URL."""
    import sqlalchemy

    if not url.startswith(("postgresql://", "postgresql+psycopg://")):
        raise TrackingServerError(f"PHYSML_TEAM_DB_URL must be a postgresql:// URL, got {masked(url)}")
    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": timeout})
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise TrackingServerError(f"PostgreSQL at {masked(url)} is unreachable: {reason}") from None
    finally:
        engine.dispose()


def _s3_client(endpoint: str | None):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint)


def check_bucket(artifacts: str, endpoint: str | None) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    parts = urlsplit(artifacts)
    if parts.scheme != "s3" or not parts.netloc:
        raise TrackingServerError(f"PHYSML_TEAM_ARTIFACTS must look like s3://bucket[/prefix], got {artifacts!r}")
    where = f" at {endpoint}" if endpoint else ""
    try:
        _s3_client(endpoint).head_bucket(Bucket=parts.netloc)
    except (BotoCoreError, ClientError) as exc:
        raise TrackingServerError(f"S3 bucket {parts.netloc!r}{where} is not usable: {exc}") from None


def _auth_config(home: Path, settings: TeamSettings) -> Path:
    """The basic-auth app's ini file; the admin password goes through the environment, not this file."""
    if settings.auth_db_url is None:  # password hashes: readable by the owner only (SQLite opens an empty file)
        (home / "basic_auth.db").touch(mode=0o600, exist_ok=True)
        (home / "basic_auth.db").chmod(0o600)
    auth_db = settings.auth_db_url or f"sqlite:///{home / 'basic_auth.db'}"
    path = home / "basic_auth.ini"
    path.write_text(
        "[mlflow]\n"
        f"default_permission = {settings.default_permission}\n"
        f"database_uri = {auth_db}\n"
        f"admin_username = {settings.admin_user}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # a user's successful password check is kept 30 s (MLflow's default 0 re-hashes PBKDF2 on every
        # request: logging a model is one request per file); a changed password takes effect within 30 s
        "auth_cache_ttl_seconds = 30\n"
    )
    return path


def _secret_key(home: Path) -> str:
    """MLFLOW_FLASK_SERVER_SECRET_KEY from the environment, else one kept (0600) in the stack's home."""
    if key := os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY"):
        return key
    path = home / "flask_secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def server_command(settings: TeamSettings, home: Path, port: int, host: str) -> tuple[list[str], dict[str, str]]:
    """The `mlflow server --app-name basic-auth` command line and the environment it needs."""
    env = {
        **server.server_env(),
        "MLFLOW_AUTH_CONFIG_PATH": str(_auth_config(home, settings)),
        "MLFLOW_AUTH_ADMIN_PASSWORD": settings.admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": _secret_key(home),
    }
    if settings.s3_endpoint:
        env["MLFLOW_S3_ENDPOINT_URL"] = settings.s3_endpoint
    options = ("--app-name", "basic-auth", *server.remote_options(host, port))
    command = server.mlflow_server_command(settings.db_url, settings.artifacts, host, port, *options)
    return command, env


def serve(
    settings: TeamSettings,
    home: str | Path | None = None,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    foreground: bool = False,
    timeout: float = 180,
) -> server.ServerInfo:
    """Check the database and the bucket, then start the server in the background (or, with
    `foreground`, replace this process by it, as a container's entry point does)."""
    home = server.home_dir(home)
    home.mkdir(parents=True, exist_ok=True)
    running = server.status(home, SERVER_NAME)
    if running:
        return running
    check_database(settings.db_url)
    check_bucket(settings.artifacts, settings.s3_endpoint)
    command, env = server_command(settings, home, port, host)
    if foreground:
        os.execve(command[0], command, {**os.environ, **env})
    return server.launch(command, home=home, host=host, port=port, name=SERVER_NAME, env=env, timeout=timeout)


# --- the local stack: PostgreSQL database + moto S3 server + the team server, on this machine ---


def stack_home(home: str | Path | None = None) -> Path:
    return Path(home).resolve() if home else server.home_dir() / "team"


def ensure_database(url: str) -> None:
    """Create the database named in `url` on its server if it does not exist yet."""
    import psycopg
    from psycopg import sql

    server_url = url.rsplit("/", 1)[0] + "/postgres"
    check_database(server_url)
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _admin_password(netrc_path: Path, host: str, user: str) -> str:
    """The admin password: $PHYSML_TEAM_ADMIN_PASSWORD, else the one this stack already uses
    (kept in its netrc file), else a new random one."""
    if password := os.environ.get("PHYSML_TEAM_ADMIN_PASSWORD"):
        return password
    if netrc_path.exists():
        entry = netrc.netrc(netrc_path).authenticators(host)
        if entry and entry[0] == user:
            return entry[2]
    return secrets.token_urlsafe(18)


def _write_netrc(path: Path, host: str, user: str, password: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(f"machine {host}\nlogin {user}\npassword {password}\n")


def local_stack_up(
    home: str | Path | None = None, port: int = DEFAULT_PORT, s3_port: int = DEFAULT_S3_PORT, host: str = "127.0.0.1"
) -> tuple[server.ServerInfo, Path]:
    """Bring up PostgreSQL database + moto S3 + team server; returns the server and its netrc file."""
    home = stack_home(home)
    home.mkdir(parents=True, exist_ok=True)
    db_url = os.environ.get("PHYSML_TEAM_DB_URL") or LOCAL_DB_URL
    ensure_database(db_url)
    # moto accepts any credentials; the stack generates its own unless the environment has them.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "physml-local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", secrets.token_hex(16))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL")
    artifacts = os.environ.get("PHYSML_TEAM_ARTIFACTS") or f"s3://{LOCAL_BUCKET}/mlflow"
    if not endpoint:
        if importlib.util.find_spec("moto") is None:
            raise TrackingServerError(
                "the local stack's S3 server is moto's: pip install 'moto[server]' (it comes with "
                "physml[team]), or point PHYSML_TEAM_ARTIFACTS and MLFLOW_S3_ENDPOINT_URL at a bucket"
            )
        s3 = server.status(home, S3_NAME, health_path="/moto-api/") or server.launch(
            [sys.executable, "-m", "moto.server", "-H", host, "-p", str(s3_port)],
            home=home,
            host=host,
            port=s3_port,
            name=S3_NAME,
            health_path="/moto-api/",
            timeout=60,
        )
        endpoint = s3.url
        bucket = urlsplit(artifacts).netloc
        client = _s3_client(endpoint)
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
    netrc_path = home / "netrc"
    user = os.environ.get("PHYSML_TEAM_ADMIN_USER") or "admin"
    password = _admin_password(netrc_path, host, user)
    _write_netrc(netrc_path, host, user, password)
    settings = TeamSettings(
        db_url=db_url,
        artifacts=artifacts,
        admin_password=password,
        admin_user=user,
        s3_endpoint=endpoint,
        auth_db_url=os.environ.get("PHYSML_TEAM_AUTH_DB_URL") or None,
    )
    info = serve(settings, home=home, port=port, host=host)
    return info, netrc_path


def local_stack_down(home: str | Path | None = None) -> list[server.ServerInfo]:
    home = stack_home(home)
    return [info for name in (SERVER_NAME, S3_NAME) if (info := server.stop(home, name))]


def local_stack_status(home: str | Path | None = None) -> dict[str, server.ServerInfo | None]:
    home = stack_home(home)
    return {
        SERVER_NAME: server.status(home, SERVER_NAME),
        S3_NAME: server.status(home, S3_NAME, health_path="/moto-api/"),
    }
