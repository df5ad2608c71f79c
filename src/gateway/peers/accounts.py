"""Portico accounts for the TPC-H customers seeded into Tryton.

Each TPC-H customer becomes a Portico account (a dealer) in its nation's time
zone, linked by an external reference to its Tryton party: the same customer,
recorded in two systems, mapped both ways.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts.model import Account, AccountStatus
from gateway.accounts.schemas import account_read
from gateway.db.engine import transaction
from gateway.db.tables import AccountRow, ExternalRefRow
from gateway.events.outbox import record_event
from gateway.peers.tpch import TpchData
from gateway.peers.tryton_seed import SeedManifest
from gateway.references import EntityKind

#: A representative IANA zone for each of TPC-H's 25 nations.
NATION_TIME_ZONES: Final = {
    "ALGERIA": "Africa/Algiers",
    "ARGENTINA": "America/Argentina/Buenos_Aires",
    "BRAZIL": "America/Sao_Paulo",
    "CANADA": "America/Toronto",
    "CHINA": "Asia/Shanghai",
    "EGYPT": "Africa/Cairo",
    "ETHIOPIA": "Africa/Addis_Ababa",
    "FRANCE": "Europe/Paris",
    "GERMANY": "Europe/Berlin",
    "INDIA": "Asia/Kolkata",
    "INDONESIA": "Asia/Jakarta",
    "IRAN": "Asia/Tehran",
    "IRAQ": "Asia/Baghdad",
    "JAPAN": "Asia/Tokyo",
    "JORDAN": "Asia/Amman",
    "KENYA": "Africa/Nairobi",
    "MOROCCO": "Africa/Casablanca",
    "MOZAMBIQUE": "Africa/Maputo",
    "PERU": "America/Lima",
    "ROMANIA": "Europe/Bucharest",
    "RUSSIA": "Europe/Moscow",
    "SAUDI ARABIA": "Asia/Riyadh",
    "UNITED KINGDOM": "Europe/London",
    "UNITED STATES": "America/New_York",
    "VIETNAM": "Asia/Ho_Chi_Minh",
}


async def link_tpch_accounts(
    sessions: async_sessionmaker[AsyncSession],
    tpch: TpchData,
    manifest: SeedManifest,
    system: str,
) -> dict[int, uuid.UUID]:
    """Open (or find) one account per seeded customer; return custkey -> id.

    Idempotent: customers already linked to ``system`` keep their account.
    """
    nations = tpch.nation_names()
    async with transaction(sessions) as session:
        rows = await session.execute(
            select(ExternalRefRow.external_id, ExternalRefRow.entity_id).where(
                ExternalRefRow.entity_kind == EntityKind.ACCOUNT.value,
                ExternalRefRow.system == system,
            )
        )
        linked: dict[str, uuid.UUID] = dict(rows.all())
        accounts: dict[int, uuid.UUID] = {}
        for customer in tpch.customers:
            seeded = manifest.customers.get(customer.custkey)
            if seeded is None:
                continue
            party = str(seeded.party_id)
            if party in linked:
                accounts[customer.custkey] = linked[party]
                continue
            account_id = uuid.uuid4()
            account = Account(
                id=account_id,
                name=customer.name,
                timezone=NATION_TIME_ZONES.get(
                    nations.get(customer.nationkey, ""), "UTC"
                ),
                currency="USD",
                status=AccountStatus.ACTIVE,
                created_at=datetime.now(UTC),
            )
            session.add(
                AccountRow(
                    id=account.id,
                    name=account.name,
                    timezone=account.timezone,
                    currency=account.currency,
                    status=account.status.value,
                )
            )
            await record_event(
                session,
                event_type="account.created",
                account_id=account.id,
                subject=str(account.id),
                data=account_read(account).model_dump(mode="json"),
            )
            session.add(
                ExternalRefRow(
                    id=uuid.uuid4(),
                    entity_kind=EntityKind.ACCOUNT.value,
                    entity_id=account_id,
                    system=system,
                    external_id=party,
                )
            )
            accounts[customer.custkey] = account_id
    return accounts
