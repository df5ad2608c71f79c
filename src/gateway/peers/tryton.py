"""A real Tryton 8.2 ERP server, seeded from TPC-H, for tests and the demo.

:class:`TrytonPeer` gives each user a running ``trytond`` on 127.0.0.1 with a
SQLite database that already holds a company, a chart of accounts, fiscal
years and the TPC-H customers and parts (see :mod:`gateway.peers.tryton_seed`).

Initialising the database (``trytond-admin``, about 40 s) and seeding it
(about a minute) happen once per cache key, (trytond version, TPC-H scale,
seed format, calendar year), and the result is kept as a snapshot in the
cache directory. Every start then copies the snapshot into a fresh working
directory and starts ``trytond`` on it, which takes a few seconds, so each
peer starts from the same state and nothing a test does leaks into the next
run. Several processes may race to build the same snapshot: a lock file makes
one build it while the others wait, and the snapshot is published by an
atomic rename, so a crashed build never leaves a half-made snapshot behind.

The server is configured by environment variables alone, runs with a
generated admin password, and is always stopped by its process id.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import fcntl
import importlib.metadata
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Final, TypeVar

import httpx

from connectors.tryton.rpc import TrytonError, TrytonLoginError, TrytonRpc
from gateway.peers.lifecycle import PeerLifecycle
from gateway.peers.ports import (
    LOOPBACK,
    free_port,
    log_tail,
    stop_process,
    wait_for_port,
)
from gateway.peers.tpch import DEFAULT_SCALE, TpchData, load_tpch, scale_label
from gateway.peers.tryton_seed import SEED_FORMAT_VERSION, SeedManifest, seed_tryton

__all__ = ["TRYTON_MODULES", "TrytonPeer", "tryton_version"]

logger = logging.getLogger(__name__)

TRYTON_MODULES: Final = (
    "sale",
    "sale_complaint",
    "account_invoice",
    "stock",
    "sale_opportunity",
    "account_product",
    "sale_price_list",
)
"""Modules activated in the database (with their dependencies)."""

_SNAPSHOT_DB: Final = "database.sqlite"
_MANIFEST: Final = "manifest.json"
_CREDENTIAL_FILE: Final = "admin-password"
_ADMIN_TIMEOUT: Final = 900.0
_SEED_CALL_TIMEOUT: Final = 300.0
_START_ATTEMPTS: Final = 3

_T = TypeVar("_T")


def tryton_version() -> str:
    """Return the installed ``trytond`` version (``8.2.1``)."""
    return importlib.metadata.version("trytond")


class TrytonPeer(PeerLifecycle):
    """A seeded Tryton server on 127.0.0.1, started from a cached snapshot.

    Use it as a context manager, sync (``with``) or async (``async with``,
    which runs the blocking work in a thread); either way the server process
    is stopped on exit, whatever happened. :meth:`start` and :meth:`stop` can
    also be called directly.

    Args:
        cache_dir: where snapshots and TPC-H data are kept between runs
            (for example ``~/.cache/portico/peers``). Created if missing.
        scale: the TPC-H scale factor to seed with.
        database: the Tryton database name the server serves.
        admin_login: the admin user's login (created by ``trytond-admin``).
        admin_email: the admin user's e-mail, required by ``trytond-admin``.
        startup_timeout: seconds to wait for a started server to accept a
            login before giving up.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        scale: float = DEFAULT_SCALE,
        database: str = "portico",
        admin_login: str = "admin",
        admin_email: str = "admin@example.com",
        startup_timeout: float = 60.0,
    ) -> None:
        if not database or "/" in database or database.startswith("."):
            raise ValueError(f"unusable Tryton database name: {database!r}")
        self._cache_dir = cache_dir.expanduser()
        self._scale = scale
        self._database = database
        self._admin_login = admin_login
        self._admin_email = admin_email
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._work_dir: Path | None = None
        self._manifest: SeedManifest | None = None
        self._admin_password: str | None = None
        self._snapshot_dir: Path | None = None

    def __repr__(self) -> str:
        return (
            f"TrytonPeer(database={self._database!r}, scale={self._scale}, "
            f"url={self.url if self._port else None!r}, pid={self.pid})"
        )

    # -- what a running peer exposes ------------------------------------

    @property
    def url(self) -> str:
        """The server root, ``http://127.0.0.1:PORT`` (only while running)."""
        if self._port is None:
            raise RuntimeError("the Tryton peer is not running")
        return f"http://{LOOPBACK}:{self._port}"

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only while running)."""
        if self._port is None:
            raise RuntimeError("the Tryton peer is not running")
        return self._port

    @property
    def database(self) -> str:
        """The Tryton database name."""
        return self._database

    @property
    def admin_login(self) -> str:
        """The admin user's login."""
        return self._admin_login

    @property
    def admin_password(self) -> str:
        """The admin user's password (generated when the snapshot was made)."""
        if self._admin_password is None:
            raise RuntimeError("the Tryton peer has not been started")
        return self._admin_password

    @property
    def pid(self) -> int | None:
        """The server's process id, or None when it is not running."""
        return self._process.pid if self._process is not None else None

    @property
    def manifest(self) -> SeedManifest:
        """What the seed created, with Tryton ids keyed by TPC-H keys."""
        if self._manifest is None:
            raise RuntimeError("the Tryton peer has not been started")
        return self._manifest

    @property
    def scale(self) -> float:
        """The TPC-H scale factor of the seed."""
        return self._scale

    @property
    def cache_dir(self) -> Path:
        """The cache directory holding snapshots and TPC-H data."""
        return self._cache_dir

    @property
    def snapshot_dir(self) -> Path:
        """The directory of this peer's snapshot (which may not exist yet).

        Keyed by trytond version, scale, seed format and the current year
        (the seed's fiscal years start with the year before it), or, once
        started, the snapshot the server was started from.
        """
        if self._snapshot_dir is not None:
            return self._snapshot_dir
        key = (
            f"tryton-{tryton_version()}-sf{scale_label(self._scale)}"
            f"-seed{SEED_FORMAT_VERSION}-{dt.date.today().year}"
        )
        return self._cache_dir / key

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        """Restore a fresh copy of the snapshot and start the server on it.

        Builds the snapshot first if the cache does not have it. Returns once
        the admin user can log in. Starting a running peer is an error.

        Raises:
            RuntimeError: initialisation, seeding or startup failed; the
                message ends with the tail of the relevant log.
        """
        if self._process is not None:
            raise RuntimeError("the Tryton peer is already running")
        self._snapshot_dir = None
        snapshot = self.ensure_snapshot()
        self._snapshot_dir = snapshot
        self._manifest = SeedManifest.read(snapshot / _MANIFEST)
        self._admin_password = (snapshot / _CREDENTIAL_FILE).read_text().strip()
        started = time.monotonic()
        work_dir = Path(tempfile.mkdtemp(prefix="portico-tryton-"))
        self._work_dir = work_dir
        try:
            db_dir = work_dir / "db"
            db_dir.mkdir()
            shutil.copyfile(
                snapshot / _SNAPSHOT_DB, db_dir / f"{self._database}.sqlite"
            )
            process, self._port = self._launch(
                db_dir, work_dir / "trytond.log", self._admin_password
            )
            self._process = process
        except BaseException:
            self.stop()
            raise
        logger.info(
            "Tryton peer ready at %s (pid %d, database %s) in %.1f s",
            self.url,
            process.pid,
            self._database,
            time.monotonic() - started,
        )

    def stop(self) -> None:
        """Stop the server by its pid and delete its working directory.

        Safe to call more than once and on a peer that never started.
        """
        process, self._process, self._port = self._process, None, None
        if process is not None:
            stop_process(process)
            logger.info("Tryton peer (pid %d) stopped", process.pid)
        work_dir, self._work_dir = self._work_dir, None
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)

    def reset(self) -> None:
        """Throw the database away and start again from the snapshot."""
        self.stop()
        self.start()

    # -- snapshot ---------------------------------------------------------

    def ensure_snapshot(self) -> Path:
        """Return the snapshot directory, building the snapshot if missing.

        Safe against concurrent callers in other processes: one builds while
        the others wait on the lock, then they reuse its result.
        """
        snapshot = self.snapshot_dir
        if _is_complete(snapshot):
            return snapshot
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self._cache_dir / f"{snapshot.name}.lock"):
            if _is_complete(snapshot):
                return snapshot
            if snapshot.exists():
                # Builds publish complete directories only, so this one was
                # damaged by hand: rebuild it.
                shutil.rmtree(snapshot)
            # Builders hold the lock, so any build directory left for this
            # key belongs to a process that died mid-build.
            for stale in self._cache_dir.glob(f".build-{snapshot.name}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            self._build_snapshot(snapshot)
        return snapshot

    def _build_snapshot(self, snapshot: Path) -> None:
        build = Path(
            tempfile.mkdtemp(prefix=f".build-{snapshot.name}-", dir=self._cache_dir)
        )
        try:
            started = time.monotonic()
            data = load_tpch(self._cache_dir, self._scale, include_orders=False)
            password = secrets.token_urlsafe(24)
            db_dir = build / "db"
            db_dir.mkdir()
            # trytond-admin needs the SQLite file to exist already.
            (db_dir / f"{self._database}.sqlite").touch()
            self._initialise(db_dir, build, password)
            initialised = time.monotonic()
            logger.info("Tryton database initialised in %.1f s", initialised - started)

            process, port = self._launch(db_dir, build / "trytond.log", password)
            try:
                manifest = _run_blocking(
                    lambda: self._seed(f"http://{LOOPBACK}:{port}", password, data)
                )
            finally:
                stop_process(process)
            logger.info(
                "Tryton database seeded in %.1f s", time.monotonic() - initialised
            )

            _copy_sqlite(db_dir / f"{self._database}.sqlite", build / _SNAPSHOT_DB)
            manifest.write(build / _MANIFEST)
            password_file = build / _CREDENTIAL_FILE
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
            shutil.rmtree(db_dir)
            build.rename(snapshot)
            logger.info(
                "Tryton snapshot %s built in %.1f s",
                snapshot,
                time.monotonic() - started,
            )
        finally:
            if build.exists():
                shutil.rmtree(build, ignore_errors=True)

    def _initialise(self, db_dir: Path, build: Path, password: str) -> None:
        passfile = build / "passfile"
        passfile.write_text(password + "\n")
        passfile.chmod(0o600)
        log_path = build / "trytond-admin.log"
        command = [
            str(_tryton_executable("trytond-admin")),
            "-d",
            self._database,
            "--email",
            self._admin_email,
            "-u",
            *TRYTON_MODULES,
            "--activate-dependencies",
        ]
        env = _tryton_env(db_dir)
        env["TRYTONPASSFILE"] = str(passfile)
        logger.info("Initialising Tryton database %s", self._database)
        try:
            with log_path.open("wb") as log:
                completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    timeout=_ADMIN_TIMEOUT,
                    check=False,
                )
        finally:
            passfile.unlink(missing_ok=True)
        if completed.returncode != 0:
            raise RuntimeError(
                f"trytond-admin failed with exit code {completed.returncode}:\n"
                + log_tail(log_path)
            )

    async def _seed(self, url: str, password: str, data: TpchData) -> SeedManifest:
        async with httpx.AsyncClient(base_url=url, timeout=_SEED_CALL_TIMEOUT) as http:
            rpc = TrytonRpc(http, self._database, self._admin_login, password)
            await rpc.login()
            return await seed_tryton(rpc, data, tryton_version=tryton_version())

    # -- server process -------------------------------------------------

    def _launch(
        self, db_dir: Path, log_path: Path, password: str
    ) -> tuple[subprocess.Popen[bytes], int]:
        """Start ``trytond`` on a free port and wait until a login works."""
        last_error: Exception | None = None
        for _ in range(_START_ATTEMPTS):
            port = free_port()
            env = _tryton_env(db_dir)
            env["TRYTOND_WEB__LISTEN"] = f"{LOOPBACK}:{port}"
            command = [str(_tryton_executable("trytond")), "-d", self._database]
            with log_path.open("ab") as log:
                process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    # Its own session, so a Ctrl-C meant for the test runner
                    # does not kill it before stop() runs.
                    start_new_session=True,
                )
            try:
                self._wait_ready(process, port, password)
            except (RuntimeError, TimeoutError) as exc:
                stop_process(process)
                last_error = exc
                if "Address already in use" in log_tail(log_path):
                    logger.info("Port %d was taken; trying another", port)
                    continue
                break
            except BaseException:
                stop_process(process)
                raise
            return process, port
        raise RuntimeError(
            f"trytond did not start: {last_error}\n" + log_tail(log_path)
        )

    def _wait_ready(
        self, process: subprocess.Popen[bytes], port: int, password: str
    ) -> None:
        deadline = time.monotonic() + self._startup_timeout
        wait_for_port(LOOPBACK, port, self._startup_timeout, process=process)
        url = f"http://{LOOPBACK}:{port}"
        while True:
            try:
                _run_blocking(lambda: self._try_login(url, password))
                return
            except TrytonLoginError as exc:
                raise RuntimeError("trytond refused the admin login") from exc
            except TrytonError as exc:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"trytond exited with code {process.returncode}"
                    ) from exc
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"trytond did not accept a login within "
                        f"{self._startup_timeout:.0f} s: {exc}"
                    ) from exc
                time.sleep(0.2)

    async def _try_login(self, url: str, password: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:
            rpc = TrytonRpc(http, self._database, self._admin_login, password)
            await rpc.login()
            await rpc.logout()


def _run_blocking(factory: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion from synchronous code.

    Always in a worker thread with its own event loop: ``asyncio.run`` refuses
    to nest in a thread whose loop is running, and in the main thread it
    would also replace the current event loop that a test runner may rely on.
    """

    async def main() -> _T:
        return await factory()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _tryton_env(db_dir: Path) -> dict[str, str]:
    # Drop any Tryton settings of the caller so that only ours apply.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TRYTOND_") and key != "TRYTONPASSFILE"
    }
    env["TRYTOND_DATABASE__URI"] = "sqlite://"
    env["TRYTOND_DATABASE__PATH"] = str(db_dir)
    return env


def _tryton_executable(name: str) -> Path:
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found: install the project's 'peers' extra"
        )
    return Path(found)


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database, including what its WAL file still holds.

    Tryton runs SQLite in WAL mode, so the main file alone may miss committed
    transactions; the backup API reads through the WAL.
    """
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _is_complete(snapshot: Path) -> bool:
    return all(
        (snapshot / name).is_file()
        for name in (_SNAPSHOT_DB, _MANIFEST, _CREDENTIAL_FILE)
    )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
