"""The address rules: what a webhook may reach, checked on the resolved
address, and the allow-list that opens exactly what it names."""

from __future__ import annotations

import ipaddress

import pytest

from domain.errors import InvalidInputError
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.targets import (
    NameResolutionError,
    TargetPolicy,
    TargetRefusedError,
    is_internal,
    validated_url,
)

STRICT = TargetPolicy.of(WebhookSettings())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.0.0.7",
        "172.16.4.2",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "169.254.10.10",
        "fd00:ec2::254",
        "fe80::1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "::",
        "224.0.0.251",
        "240.0.0.1",
        "255.255.255.255",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "100.100.100.200",
        "192.0.2.10",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_internal(ipaddress.ip_address(address))


def test_the_allow_list_opens_exactly_the_networks_and_hosts_it_names() -> None:
    policy = TargetPolicy.of(
        WebhookSettings(allowed_targets=["10.20.0.0/16", "ERP.Internal.", "::1"])
    )

    assert policy.permits("any", ipaddress.ip_address("10.20.3.4"))
    assert not policy.permits("any", ipaddress.ip_address("10.21.3.4"))
    assert policy.permits("erp.internal", ipaddress.ip_address("192.168.0.9"))
    assert policy.permits("any", ipaddress.ip_address("::1"))
    assert not policy.permits("any", ipaddress.ip_address("127.0.0.1"))


def test_an_allowed_target_that_is_neither_cidr_nor_host_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a CIDR nor a host name"):
        WebhookSettings(allowed_targets=["10.0.0.0/99"])


async def test_a_name_is_checked_on_the_addresses_it_resolves_to() -> None:
    with pytest.raises(TargetRefusedError, match=r"127\.0\.0\.1"):
        await STRICT.resolve("localhost", 443)


async def test_a_number_that_spells_an_internal_address_is_refused() -> None:
    with pytest.raises(TargetRefusedError):
        await STRICT.resolve("2130706433", 443)


async def test_a_name_that_does_not_resolve_is_a_retryable_error() -> None:
    with pytest.raises(NameResolutionError):
        await STRICT.resolve("does-not-exist.invalid", 443)


async def test_a_public_literal_address_resolves_to_itself() -> None:
    assert await STRICT.resolve("93.184.216.34", 443) == "93.184.216.34"


def test_a_url_is_kept_in_normal_form() -> None:
    assert (
        validated_url("HTTPS://ERP.Dealer.example/hooks?a=1", STRICT)
        == "https://erp.dealer.example/hooks?a=1"
    )


def test_a_url_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at most 2048"):
        validated_url("https://erp.dealer.example/" + "a" * 2048, STRICT)


@pytest.mark.parametrize(
    "url",
    [
        "https://xn--/",
        "https://xn--a.dealer.example/",
        "https://xn--zz-.dealer.example/",
        "https://xn--ls8h.la/",
        "https://dealer\udcff.example/",
        "https://erp.dealer.example:0/",
        "https://erp.dealer.example:65536/",
        "https://erp.dealer.example:99999/",
    ],
)
def test_a_host_or_port_that_cannot_be_used_is_invalid_input_on_url(url: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        validated_url(url, STRICT)

    assert refused.value.field == "url"
