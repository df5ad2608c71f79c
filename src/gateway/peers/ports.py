"""Small process and port helpers for the peer systems started by tests and demo.

Every peer binds to the loopback interface on a port chosen here and is
stopped by its process id, never by name.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from pathlib import Path
from typing import Final

__all__ = ["LOOPBACK", "free_port", "log_tail", "stop_process", "wait_for_port"]

logger = logging.getLogger(__name__)

LOOPBACK: Final = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that was free a moment ago.

    The kernel picks it; another process may still take it before the caller
    binds it, so callers should retry on "address in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    *,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Block until something accepts TCP connections on ``host:port``.

    Raises:
        TimeoutError: nothing accepted within ``timeout`` seconds.
        RuntimeError: ``process`` exited before the port opened.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process {process.pid} exited with code {process.returncode} "
                f"before listening on {host}:{port}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop ``process`` by its pid: SIGTERM, wait, then SIGKILL if still alive.

    Returns once the process has exited and been reaped. Does nothing for a
    process that already exited.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        logger.warning(
            "Process %d ignored SIGTERM for %.0f s; killing it", process.pid, timeout
        )
        process.kill()
        process.wait()


def log_tail(path: Path, limit: int = 4000) -> str:
    """Return the last ``limit`` characters of a log file (empty if absent)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:]
