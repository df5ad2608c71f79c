"""The embedded PostgreSQL default: started on demand, reused, stopped on exit."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.support.processes import (
    PORTICO,
    free_port,
    portico_env,
    run_portico,
    stop,
    wait_until_healthy,
)

START_AND_WRITE = """
import asyncio, sys
from pathlib import Path
import asyncpg
from gateway.db.embedded import start_embedded_postgres

embedded = start_embedded_postgres(Path(sys.argv[1]))

async def main():
    connection = await asyncpg.connect(embedded.url)
    await connection.execute(sys.argv[2])
    print(embedded.pid, await connection.fetchval("SELECT count(*) FROM marks"))
    await connection.close()

asyncio.run(main())
"""


def run_embedded(state_dir: Path, statement: str) -> tuple[int, int]:
    result = subprocess.run(
        [sys.executable, "-c", START_AND_WRITE, str(state_dir), statement],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pid, count = result.stdout.splitlines()[-1].split()
    return int(pid), int(count)


def gone_within(pid: int, seconds: float = 10) -> bool:
    # pg_ctl returns once the server stopped accepting work; the process
    # itself may take a moment more to leave the process table.
    deadline = time.monotonic() + seconds
    while psutil.pid_exists(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_data_survives_a_restart_and_the_server_stops_with_its_process(
    tmp_path: Path,
) -> None:
    first_pid, _ = run_embedded(
        tmp_path, "CREATE TABLE marks (n int); INSERT INTO marks VALUES (1)"
    )
    stopped_after_first = gone_within(first_pid)

    second_pid, count = run_embedded(tmp_path, "INSERT INTO marks VALUES (2)")

    assert stopped_after_first
    assert count == 2
    assert gone_within(second_pid)


def test_demo_replays_tpch_orders_on_the_embedded_defaults(tmp_path: Path) -> None:
    env = portico_env(PORTICO_DATABASE__STATE_DIR=str(tmp_path))

    result = run_portico(
        "demo", "--exit", "--port", "0", "--orders", "6", env=env, timeout=280
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Portico passed the demo" in result.stdout
    assert "Errors:    0" in result.stdout
    assert "Orders:    6 placed, 6 accepted" in result.stdout
    key = next(
        line.split()[-1] for line in result.stdout.splitlines() if "API key:" in line
    )
    assert key.startswith("pk_")
    assert (tmp_path / "postgres" / "PG_VERSION").exists()


def test_serve_stopped_with_sigterm_stops_its_embedded_postgres(tmp_path: Path) -> None:
    env = portico_env(PORTICO_DATABASE__STATE_DIR=str(tmp_path))
    port = free_port()
    process = subprocess.Popen(
        [PORTICO, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)  # type: ignore[arg-type]
        postmaster = int(
            (tmp_path / "postgres" / "postmaster.pid").read_text().split()[0]
        )

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        stop(process)  # type: ignore[arg-type]

    assert gone_within(postmaster), "the embedded PostgreSQL outlived serve"
