"""Typed settings read from a TOML settings file and environment variables.

Environment variables win over the file, so a container or a test can change one value without
rewriting the file. Every limit the server enforces lives here.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

SETTINGS_FILE_NAME = "fedisupport.toml"
DEFAULT_DATA_DIR = "data"


class ConfigError(Exception):
    """A setting is missing or wrong; the message says what to fix, in one line."""


_DOMAIN_RE = re.compile(r"^(?=.{1,253}(:\d{1,5})?$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$")


@dataclass(frozen=True)
class Settings:
    domain: str
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Plain http and loopback/private addresses for outbound requests: tests and local
    # development only. Off unless set explicitly.
    allow_private_addresses: bool = False
    # Serve and build URLs over http instead of https (local development only).
    insecure_http: bool = False
    authorized_fetch: bool = False
    run_worker_in_serve: bool = True
    secret_key: str = ""
    log_level: str = "info"
    # Limits
    max_inbox_bytes: int = 1_000_000
    max_fetch_bytes: int = 1_000_000
    page_size: int = 40
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        return "http" if self.insecure_http else "https"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def url(self, path: str) -> str:
        """Absolute URL of a path on this instance."""
        return self.base_url + path


# name in file -> (environment variable, parser)
def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _parse_int(name: str, value: Any, minimum: int = 0, maximum: int = 1 << 31) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if not minimum <= number <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {number}")
    return number


def normalize_database_url(url: str, data_dir: Path) -> str:
    """Map the usual spellings of database URLs to the async drivers we ship."""
    url = url.strip()
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+asyncpg://") or url.startswith("sqlite+aiosqlite://"):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    if url.startswith("postgresql+"):
        raise ConfigError("DATABASE_URL must use the asyncpg driver: postgresql://user:pass@host/db")
    raise ConfigError(
        f"DATABASE_URL {url!r} is not supported: use postgresql://user:pass@host/db "
        f"or sqlite:///{data_dir / 'fedisupport.db'}"
    )


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'fedisupport.db').resolve()}"


def settings_path(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    explicit = environ.get("FEDISUPPORT_SETTINGS")
    return Path(explicit) if explicit else data_dir / SETTINGS_FILE_NAME


def data_dir_from_env(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("FEDISUPPORT_DATA_DIR", DEFAULT_DATA_DIR))


def read_settings_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc.strerror}") from None
    section = data.get("fedisupport", data)
    if not isinstance(section, dict):
        raise ConfigError(f"settings file {path}: [fedisupport] must be a table")
    return section


_ENV = {
    "domain": "FEDISUPPORT_DOMAIN",
    "database_url": "DATABASE_URL",
    "host": "FEDISUPPORT_HOST",
    "port": "FEDISUPPORT_PORT",
    "workers": "FEDISUPPORT_WORKERS",
    "allow_private_addresses": "FEDISUPPORT_ALLOW_PRIVATE_ADDRESSES",
    "insecure_http": "FEDISUPPORT_INSECURE_HTTP",
    "authorized_fetch": "FEDISUPPORT_AUTHORIZED_FETCH",
    "run_worker_in_serve": "FEDISUPPORT_RUN_WORKER_IN_SERVE",
    "secret_key": "FEDISUPPORT_SECRET_KEY",
    "log_level": "FEDISUPPORT_LOG_LEVEL",
    "max_inbox_bytes": "FEDISUPPORT_MAX_INBOX_BYTES",
    "max_fetch_bytes": "FEDISUPPORT_MAX_FETCH_BYTES",
    "page_size": "FEDISUPPORT_PAGE_SIZE",
}


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    require_file: bool = False,
) -> Settings:
    """Build Settings from the settings file, then the environment, then explicit overrides."""
    environ = os.environ if environ is None else environ
    data_dir = data_dir_from_env(environ)
    path = settings_path(data_dir, environ)
    if require_file and not path.exists():
        raise ConfigError(f"no settings file at {path}: run `fedisupport init --domain your.domain` first")
    raw: dict[str, Any] = dict(read_settings_file(path))
    unknown = set(raw) - set(_ENV) - {"data_dir"}
    if unknown:
        raise ConfigError(f"settings file {path}: unknown setting(s) {', '.join(sorted(unknown))}")
    for name, var in _ENV.items():
        if var in environ and environ[var] != "":
            raw[name] = environ[var]
    raw.update(overrides or {})
    if "data_dir" in raw:
        data_dir = Path(raw.pop("data_dir"))
    return build_settings(raw, data_dir)


def build_settings(raw: Mapping[str, Any], data_dir: Path) -> Settings:
    domain = str(raw.get("domain") or "").strip().lower()
    if not domain:
        raise ConfigError("no domain set: set FEDISUPPORT_DOMAIN or run `fedisupport init --domain your.domain`")
    if not _DOMAIN_RE.match(domain):
        raise ConfigError(f"domain {domain!r} is not a host name (write it like support.example.org, without https://)")
    database_url = normalize_database_url(str(raw.get("database_url") or default_database_url(data_dir)), data_dir)
    values = dict(
        domain=domain,
        data_dir=data_dir,
        database_url=database_url,
        host=str(raw.get("host", "127.0.0.1")),
        port=_parse_int("port", raw.get("port", 8000), 1, 65535),
        workers=_parse_int("workers", raw.get("workers", 1), 1, 64),
        allow_private_addresses=_parse_bool("allow_private_addresses", raw.get("allow_private_addresses", False)),
        insecure_http=_parse_bool("insecure_http", raw.get("insecure_http", False)),
        authorized_fetch=_parse_bool("authorized_fetch", raw.get("authorized_fetch", False)),
        run_worker_in_serve=_parse_bool("run_worker_in_serve", raw.get("run_worker_in_serve", True)),
        secret_key=str(raw.get("secret_key", "")),
        log_level=str(raw.get("log_level", "info")).lower(),
        max_inbox_bytes=_parse_int("max_inbox_bytes", raw.get("max_inbox_bytes", 1_000_000), 1024),
        max_fetch_bytes=_parse_int("max_fetch_bytes", raw.get("max_fetch_bytes", 1_000_000), 1024),
        page_size=_parse_int("page_size", raw.get("page_size", 40), 1, 500),
    )
    if values["log_level"] not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"log_level must be debug, info, warning or error, not {values['log_level']!r}")
    return Settings(**values)


def write_settings_file(path: Path, values: Mapping[str, Any]) -> None:
    """Write a settings file; only simple scalar values are supported, which is all we need."""
    lines = ["# fedisupport settings. Environment variables override these values.", "[fedisupport]"]
    for key, value in values.items():
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} = {rendered}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)  # it holds the secret key
    tmp.replace(path)


def with_changes(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
