"""``portico worker`` as an operator runs it: a process that sequences events
as they commit and stops cleanly on SIGTERM."""

import asyncio
import signal
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db.tables import OutboxRow
from tests.support.processes import PORTICO, portico_env, run_portico


async def test_the_worker_sequences_new_events_and_stops_on_sigterm(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    env = portico_env(PORTICO_DATABASE__URL=database_url)
    worker = await asyncio.create_subprocess_exec(
        PORTICO,
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        created = await asyncio.to_thread(
            run_portico,
            "accounts", "create", "--name", "Evented", "--timezone", "UTC",
            "--currency", "EUR", env=env,
        )  # fmt: skip
        position = None
        deadline = time.monotonic() + 30
        while position is None and time.monotonic() < deadline:
            async with sessions() as session:
                position = await session.scalar(
                    select(OutboxRow.position).where(
                        OutboxRow.subject == created.stdout.strip()
                    )
                )
            await asyncio.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            _, stderr_bytes = await asyncio.wait_for(worker.communicate(), 20)
        except TimeoutError:
            worker.kill()
            _, stderr_bytes = await worker.communicate()
        stderr = stderr_bytes.decode()
        exit_code = worker.returncode

    assert created.returncode == 0, created.stderr
    assert position is not None, "the worker did not sequence the account's event"
    assert exit_code == 0, stderr[-2000:]
    assert "worker.stopped" in stderr
