"""Binding a running Tryton peer as a deployment's ERP."""

from __future__ import annotations

from gateway.peers.tryton import TrytonPeer
from gateway.settings import ConnectorInstanceSettings, PortBindings, Settings

#: The connector name the demo and ``portico peers tryton`` use for Tryton.
ERP_NAME = "erp"


def tryton_connector(peer: TrytonPeer, **options: object) -> ConnectorInstanceSettings:
    return ConnectorInstanceSettings(
        kind="tryton",
        options={
            "base_url": peer.url,
            "database": peer.database,
            "username": peer.admin_login,
            "password": peer.admin_password,
            **options,
        },
    )


def with_tryton(settings: Settings, peer: TrytonPeer, **options: object) -> Settings:
    """``settings`` with ``peer`` as the ERP, and through it CMS and CRM."""
    return settings.model_copy(
        update={
            "connectors": {ERP_NAME: tryton_connector(peer, **options)},
            "ports": PortBindings(erp=ERP_NAME),
        }
    )
