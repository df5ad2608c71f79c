"""The back-office connectors this deployment uses, built from settings.

One instance per configured connector, shared by every request of the
process; each keeps its own connection pool, deadline, concurrency bound and
circuit breaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.runtime import Connector, load_connector
from domain.ports import CmsPort, CrmPort, ErpPort
from gateway.logs import get_logger
from gateway.settings import Settings

log = get_logger(__name__)


class BackendWiringError(Exception):
    """The configured connectors do not fit the ports they are bound to."""


@dataclass
class Backends:
    """The connectors serving each port; None where no connector is bound."""

    erp: ErpPort | None = None
    erp_name: str = ""
    cms: CmsPort | None = None
    cms_name: str = ""
    crm: CrmPort | None = None
    crm_name: str = ""
    connectors: dict[str, Connector] = field(default_factory=dict)

    async def aclose(self) -> None:
        for connector in self.connectors.values():
            await connector.aclose()


def build_backends(settings: Settings) -> Backends:
    connectors = {
        name: load_connector(name, instance.kind, instance.options)
        for name, instance in settings.connectors.items()
    }
    backends = Backends(connectors=connectors)
    ports = settings.ports
    if ports.erp is not None:
        erp = connectors[ports.erp]
        if not isinstance(erp, ErpPort):
            raise _not_serving("erp", ports.erp, erp, ErpPort)
        backends.erp, backends.erp_name = erp, ports.erp
    # Without a CMS or CRM of its own, a deployment uses the ERP's master data
    # and customers when its connector offers them.
    cms_name = ports.cms or ports.erp
    if cms_name is not None:
        cms = connectors[cms_name]
        if isinstance(cms, CmsPort):
            backends.cms, backends.cms_name = cms, cms_name
        elif ports.cms is not None:
            raise _not_serving("cms", cms_name, cms, CmsPort)
    crm_name = ports.crm or ports.erp
    if crm_name is not None:
        crm = connectors[crm_name]
        if isinstance(crm, CrmPort):
            backends.crm, backends.crm_name = crm, crm_name
        elif ports.crm is not None:
            raise _not_serving("crm", crm_name, crm, CrmPort)
    log.info(
        "backends.wired",
        erp=backends.erp_name or None,
        cms=backends.cms_name or None,
        crm=backends.crm_name or None,
    )
    return backends


def _not_serving(
    port: str, name: str, connector: Connector, protocol: type
) -> BackendWiringError:
    return BackendWiringError(
        f"ports.{port}: connector {name!r} ({type(connector).__name__}) "
        f"does not serve {protocol.__name__}"
    )
