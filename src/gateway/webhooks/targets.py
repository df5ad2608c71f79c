"""Where webhooks may be sent: the URL rules and the address policy.

An endpoint URL is checked twice. When it is saved, its form: https (http only
when the deployment allows it), a host, no user info, and no literal address
that the policy refuses. When a request is about to connect, its host is
resolved and every address checked, because a name can point anywhere and
can change after it was saved (DNS rebinding): loopback, private, link-local,
shared, multicast, reserved and unspecified addresses and the cloud metadata
services are refused unless ``allowed_targets`` names them. The connection
then goes to the address that passed, never to a second lookup's answer.

    TargetError                  permanent: retrying cannot help
    ├── InsecureUrlError         http:// while only https is allowed
    └── TargetRefusedError       the address is internal and not allowed
    NameResolutionError          the host does not resolve (retryable)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from domain.errors import InvalidInputError
from gateway.webhooks.settings import WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
MIN_PORT, MAX_PORT = 1, 65535

#: Metadata services answer on these even where the range looks routable.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)
#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetError(Exception):
    """The endpoint may not be called as configured; retrying cannot help."""

    error_class = "target_refused"


class InsecureUrlError(TargetError):
    error_class = "insecure_url"


class TargetRefusedError(TargetError):
    error_class = "target_refused"


class NameResolutionError(Exception):
    """The host name did not resolve; DNS may recover, so this is retried."""

    error_class = "dns_error"


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for, when it stands for one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_internal(address: IPAddress) -> bool:
    """True for every address a webhook must not reach unless allowed."""
    if address in METADATA_ADDRESSES:
        return True
    candidate = _embedded_ipv4(address)
    if candidate in METADATA_ADDRESSES:
        return True
    return (
        not candidate.is_global
        or candidate.is_loopback
        or candidate.is_private
        or candidate.is_link_local
        or candidate.is_multicast
        or candidate.is_reserved
        or candidate.is_unspecified
    )


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allow_http: bool
    allowed_networks: tuple[IPNetwork, ...]
    allowed_hosts: frozenset[str]

    @staticmethod
    def of(settings: WebhookSettings) -> TargetPolicy:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for target in settings.allowed_targets:
            try:
                networks.append(ipaddress.ip_network(target, strict=False))
            except ValueError:
                hosts.add(target)
        return TargetPolicy(settings.allow_http, tuple(networks), frozenset(hosts))

    def permits(self, host: str, address: IPAddress) -> bool:
        if host.lower().rstrip(".") in self.allowed_hosts:
            return True
        if any(address in network for network in self.allowed_networks):
            return True
        return not is_internal(address)

    def check_scheme(self, scheme: str) -> None:
        if scheme == "https" or (scheme == "http" and self.allow_http):
            return
        raise InsecureUrlError(
            "only https:// endpoints may be called"
            if scheme == "http"
            else f"{scheme}:// is not a web address"
        )

    async def resolve(self, host: str, port: int) -> str:
        """An address of ``host`` that may be called; raises if there is none."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (socket.gaierror, UnicodeError) as error:
                raise NameResolutionError(f"{host} did not resolve: {error}") from None
            candidates = [ipaddress.ip_address(info[4][0]) for info in infos]
        for address in candidates:
            if self.permits(host, address):
                return str(address)
        shown = ", ".join(sorted({str(address) for address in candidates}))
        raise TargetRefusedError(
            f"{host} resolves to {shown}, an internal address; name it in "
            "webhooks.allowed_targets to allow it"
        )


def _parsed(url: str) -> tuple[httpx.URL, str]:
    """The URL and its host, or InvalidInputError if either cannot be read.

    httpx parses lazily: a host such as ``xn--`` passes ``httpx.URL()`` and
    fails only when ``.host`` decodes it (``idna.IDNAError``). Every error
    parsing or normalising can raise for a hostile URL is a ``ValueError``
    (``IDNAError`` and ``UnicodeError`` are ones) or ``httpx.InvalidURL``.
    """
    try:
        parsed = httpx.URL(url)
        host = parsed.host
        str(parsed)  # the normal form, which is what is stored
    except (httpx.InvalidURL, ValueError) as error:
        raise InvalidInputError(f"not a valid URL: {error}", field="url") from None
    return parsed, host


def validated_url(url: str, policy: TargetPolicy) -> str:
    """The URL in normal form, or InvalidInputError saying what to change."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInputError(
            f"a URL has at most {MAX_URL_LENGTH} characters", field="url"
        )
    parsed, host = _parsed(url)
    try:
        policy.check_scheme(parsed.scheme)
    except InsecureUrlError as error:
        raise InvalidInputError(str(error), field="url") from None
    if not host:
        raise InvalidInputError("the URL needs a host", field="url")
    if parsed.port is not None and not MIN_PORT <= parsed.port <= MAX_PORT:
        raise InvalidInputError(
            f"port {parsed.port} does not exist; ports are {MIN_PORT} to {MAX_PORT}",
            field="url",
        )
    if parsed.userinfo:
        raise InvalidInputError(
            "put no user name or password in the URL; requests are signed instead",
            field="url",
        )
    if parsed.fragment:
        raise InvalidInputError("a URL fragment is never sent; remove it", field="url")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not policy.permits(host, literal):
        raise InvalidInputError(
            f"{host} is an internal address; webhooks go to public hosts",
            field="url",
        )
    return str(parsed)
