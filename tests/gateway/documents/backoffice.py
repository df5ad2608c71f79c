"""What the supplier's accountants do in Tryton: date and post invoices,
book customer payments and credit notes, through Tryton's own wizards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from connectors.tryton.rpc import TrytonRpc

_CASH_ACCOUNT = "1.1.1"  # Cash and Cash Equivalents, Universal Chart of Accounts
_METHOD_NAME = "Bank transfer (tests)"


async def payment_method(rpc: TrytonRpc) -> int:
    """The invoice payment method tests pay with, made on first use."""
    found = await rpc.model(
        "account.invoice.payment.method",
        "search",
        [("name", "=", _METHOD_NAME)],
        0,
        1,
    )
    if found:
        return int(found[0])
    context = await rpc.context()
    [journal] = await rpc.model(
        "account.journal", "search", [("code", "=", "CASH")], 0, 1
    )
    [account] = await rpc.model(
        "account.account",
        "search",
        [("code", "=", _CASH_ACCOUNT), ("company", "=", context["company"])],
        0,
        1,
    )
    [method] = await rpc.model(
        "account.invoice.payment.method",
        "create",
        [
            {
                "name": _METHOD_NAME,
                "company": context["company"],
                "journal": journal,
                "debit_account": account,
                "credit_account": account,
            }
        ],
    )
    return int(method)


async def _wizard(
    rpc: TrytonRpc,
    name: str,
    record_id: int,
    steps: list[tuple[str, str]],
    data: dict[str, Any],
) -> Any:
    """Run the wizard on the invoice: for each ``(state, form)`` step, press
    ``state``; a form the wizard then shows is filled from its defaults and
    sent as ``form`` with the next step."""
    context = {
        **await rpc.context(),
        "active_model": "account.invoice",
        "active_id": record_id,
        "active_ids": [record_id],
    }
    session, _, _ = await rpc.call(f"wizard.{name}.create", [context])
    try:
        await rpc.call(f"wizard.{name}.execute", [session, {}, "start", context])
        result: Any = None
        for state, form in steps:
            result = await rpc.call(
                f"wizard.{name}.execute", [session, data, state, context]
            )
            defaults = (result.get("view") or {}).get("defaults") or {}
            data = {
                **data,
                form: {
                    **{k: v for k, v in defaults.items() if not k.endswith(".")},
                    **data.get(form, {}),
                },
            }
        return result
    finally:
        await rpc.call(f"wizard.{name}.delete", [session, context])


async def pay_invoice(
    rpc: TrytonRpc, invoice_id: int, amount: Decimal, date: dt.date
) -> None:
    """Book a customer payment of ``amount`` against the invoice; less than
    is due is a partial payment, leaving the rest open."""
    context = await rpc.context()
    (invoice,) = await rpc.model(
        "account.invoice", "read", [invoice_id], ["currency", "amount_to_pay"]
    )
    partial = amount < invoice["amount_to_pay"]
    await _wizard(
        rpc,
        "account.invoice.pay",
        invoice_id,
        [("choice", "ask"), ("pay", "ask")] if partial else [("choice", "ask")],
        {
            "ask": {"type": "partial"},
            "start": {
                "amount": amount,
                "currency": invoice["currency"],
                "description": f"Payment {date}",
                "company": context["company"],
                "payment_method": await payment_method(rpc),
                "date": date,
            },
        },
    )


async def credit_invoice(rpc: TrytonRpc, invoice_id: int, date: dt.date) -> int:
    """Credit the whole invoice with a posted credit note; returns its id."""
    result = await _wizard(
        rpc,
        "account.invoice.credit",
        invoice_id,
        [("credit", "start")],
        {"start": {"with_refund": False, "invoice_date": date}},
    )
    [[_, answer]] = result["actions"]
    [credit_id] = answer["res_id"]
    await rpc.model("account.invoice", "post", [credit_id])
    return int(credit_id)


async def post_invoice_on(rpc: TrytonRpc, invoice_id: int, date: dt.date) -> None:
    """Date a draft invoice and post it."""
    await rpc.model("account.invoice", "write", [invoice_id], {"invoice_date": date})
    await rpc.model("account.invoice", "post", [invoice_id])
