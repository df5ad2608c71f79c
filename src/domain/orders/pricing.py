"""Pricing an order's lines at the ERP: the client's prices are never trusted."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal

from domain.errors import InvalidInputError
from domain.orders.model import OrderLine, RequestedLine
from domain.ports import ErpPort


async def price_lines(
    erp: ErpPort, customer_ref: str | None, lines: list[RequestedLine]
) -> list[OrderLine]:
    """Each line at the price the ERP gives this customer for its quantity.

    Raises InvalidInputError naming the first line whose SKU the ERP does not
    know (or cannot price), and backend errors when the ERP cannot answer.
    """
    by_quantity: dict[int, list[str]] = defaultdict(list)
    for line in lines:
        by_quantity[line.quantity].append(line.sku)
    quantities = sorted(by_quantity)
    answers = await asyncio.gather(
        *(
            erp.quote_prices(customer_ref, by_quantity[quantity], Decimal(quantity))
            for quantity in quantities
        )
    )
    prices = {
        (quote.sku, quantity): quote.unit_price
        for quantity, quotes in zip(quantities, answers, strict=True)
        for quote in quotes
    }
    priced: list[OrderLine] = []
    for index, line in enumerate(lines):
        price = prices.get((line.sku, line.quantity))
        if price is None:
            raise InvalidInputError(
                f"lines[{index}]: unknown SKU {line.sku}, or it cannot be sold",
                field=f"lines[{index}].sku",
            )
        priced.append(
            OrderLine(
                line_no=index + 1,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=price,
            )
        )
    return priced
