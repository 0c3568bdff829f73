"""`shugu offer|negotiation|agreement`: contracts through the SDK.

Prices are given in yuan as exact decimal text (`--price 12.50`, never rounded: a fraction
of a fen is refused) or in fen (`--price-fen 1250`). A policy comes from a JSON file
(`--policy FILE`) or is built from flags (`--mode`, `--purpose`, `--quota`, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from shugu.cli.remote import _all, client, console, err, show, state
from shugu.contracts.money import yuan_to_fen
from shugu.contracts.policy import ODRL_CONTEXT
from shugu.errors import InvalidInput

Price = Annotated[str | None, typer.Option("--price", help="price in yuan, e.g. 12.50")]
PriceFen = Annotated[int | None, typer.Option("--price-fen", help="price in fen (分)")]
Plan = Annotated[str | None, typer.Option(
    help="one_time, subscription, per_query, per_1000_rows or per_gb")]
Period = Annotated[str | None, typer.Option(help="month or year (subscriptions)")]
PolicyFile = Annotated[Path | None, typer.Option("--policy", help="ODRL-style policy JSON")]
Modes = Annotated[list[str] | None, typer.Option("--mode", help="share / sandbox; repeatable")]
Purposes = Annotated[list[str] | None, typer.Option("--purpose", help="allowed purpose code; "
                                                    "repeatable")]
Quotas = Annotated[list[str] | None, typer.Option(
    "--quota", help="UNIT=N with UNIT queries, rows, bytes or downloads; repeatable")]
ValidFor = Annotated[str | None, typer.Option("--valid-for", help="ISO 8601 duration, "
                                              "e.g. P30D or P1Y")]
Until = Annotated[str | None, typer.Option("--until", help="use ends at this ISO date-time "
                                           "(with a time zone)")]
DeleteDuty = Annotated[bool, typer.Option("--delete-after/--no-delete-after",
                                          help="delete the data when the agreement ends")]
Note = Annotated[str | None, typer.Option(help="a note recorded with the message")]
AsProvider = Annotated[bool, typer.Option("--as-provider",
                                          help="your side as provider instead of consumer")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error[/red] {escape(message)}", highlight=False)
    return typer.Exit(1)


def _price(price: str | None, price_fen: int | None, required: bool) -> int | None:
    if price is not None and price_fen is not None:
        raise _fail("give --price or --price-fen, not both")
    if price is not None:
        try:
            return yuan_to_fen(price)
        except InvalidInput as exc:
            raise _fail(f"[{exc.code}] {exc.message}") from None
    if price_fen is None and required:
        raise _fail("give the price with --price (yuan) or --price-fen")
    return price_fen


def _policy(path: Path | None, modes: list[str] | None, purposes: list[str] | None,
            quotas: list[str] | None, valid_for: str | None, until: str | None,
            delete_after: bool) -> dict[str, Any] | None:
    flags = modes or purposes or quotas or valid_for or until or delete_after
    if path is not None:
        if flags:
            raise _fail("give --policy or policy flags, not both")
        try:
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _fail(f"cannot read policy {path}: {exc}") from None
        return loaded
    if not flags:
        return None
    constraints: list[dict[str, Any]] = [
        {"leftOperand": "deliveryMode", "operator": "isAnyOf",
         "rightOperand": modes or ["share"]}]
    if purposes:
        constraints.append({"leftOperand": "purpose", "operator": "isAnyOf",
                            "rightOperand": purposes})
    if until:
        constraints.append({"leftOperand": "dateTime", "operator": "lt", "rightOperand": until})
    if valid_for:
        constraints.append({"leftOperand": "elapsedTime", "operator": "lteq",
                            "rightOperand": valid_for})
    for q in quotas or []:
        unit, _, n = q.partition("=")
        if not n.isdigit():
            raise _fail(f"--quota {q!r}: write UNIT=N, e.g. queries=1000")
        constraints.append({"leftOperand": "count", "operator": "lteq",
                            "rightOperand": int(n), "unit": unit})
    permission: dict[str, Any] = {"action": "use", "constraint": constraints}
    if delete_after:
        permission["duty"] = [{"action": "delete"}]
    return {"@context": ODRL_CONTEXT, "@type": "Offer", "permission": [permission],
            "prohibition": [{"action": "distribute"}]}


def _terms(plan: str | None, period: str | None, price: str | None, price_fen: int | None,
           policy: dict[str, Any] | None) -> dict[str, Any]:
    terms: dict[str, Any] = {}
    if plan is not None:
        terms["plan"], terms["period"] = plan, period
    elif period is not None:
        terms["period"] = period
    fen = _price(price, price_fen, required=False)
    if fen is not None:
        terms["price_fen"] = fen
    if policy is not None:
        terms["policy"] = policy
    return terms


def _show_negotiation(n: Any) -> None:
    show(n)
    if not state.as_json and n.steps:
        show(n.steps, ["seq", "message", "from_state", "to_state", "side", "actor", "note"])


def register(app: typer.Typer) -> None:
    offer = typer.Typer(no_args_is_help=True, help="Offers: price plans with usage policies.")
    negotiation = typer.Typer(no_args_is_help=True,
                              help="Negotiations (Dataspace Protocol states).")
    agreement = typer.Typer(no_args_is_help=True, help="Agreements and their duties.")
    app.add_typer(offer, name="offer")
    app.add_typer(negotiation, name="negotiation")
    app.add_typer(agreement, name="agreement")

    @offer.command("create")
    def offer_create(
        slug: str, title: Annotated[str, typer.Option()],
        plan: Annotated[str, typer.Option(help="one_time, subscription, per_query, "
                                          "per_1000_rows or per_gb")],
        period: Period = None, price: Price = None, price_fen: PriceFen = None,
        description: Annotated[str | None, typer.Option()] = None,
        approval: Annotated[str, typer.Option(help="instant or manual")] = "instant",
        private_to: Annotated[int | None, typer.Option(
            "--private-to", help="consumer organisation id: a private offer")] = None,
        policy: PolicyFile = None, mode: Modes = None, purpose: Purposes = None,
        quota: Quotas = None, valid_for: ValidFor = None, until: Until = None,
        delete_after: DeleteDuty = False,
    ) -> None:
        """Put a price plan and a usage policy on one of your products."""
        fen = _price(price, price_fen, required=True)
        body = _policy(policy, mode, purpose, quota, valid_for, until, delete_after) or \
            _policy(None, ["share"], None, None, None, None, False)
        assert fen is not None and body is not None
        with client() as c:
            show(c.create_offer(slug, title, plan=plan, period=period, price_fen=fen,
                                policy=body, description=description, approval=approval,
                                visibility="private" if private_to else "public",
                                private_org_id=private_to))

    @offer.command("list")
    def offer_list(slug: str) -> None:
        with client() as c:
            show(c.list_offers(slug), ["id", "title", "plan", "period", "price_yuan",
                                       "visibility", "approval", "status"])

    @offer.command("show")
    def offer_show(offer_id: int) -> None:
        with client() as c:
            show(c.get_offer(offer_id))

    @offer.command("withdraw")
    def offer_withdraw(offer_id: int) -> None:
        with client() as c:
            show(c.withdraw_offer(offer_id))

    @offer.command("evaluate")
    def offer_evaluate(
        offer_id: int,
        purpose: Annotated[str | None, typer.Option(help="your purpose code")] = None,
        mode: Annotated[str | None, typer.Option(help="share or sandbox")] = None,
    ) -> None:
        """Would the offer's policy let your organisation accept? Rule by rule, with why."""
        with client() as c:
            decision = c.evaluate_offer(offer_id, purpose=purpose, mode=mode)
        if state.as_json:
            show(decision)
            return
        verdict = "[green]allowed[/green]" if decision.allowed else "[red]denied[/red]"
        console.print(f"decision: {verdict}")
        show(decision.rules, ["rule", "outcome", "code", "reason"])

    @negotiation.command("request")
    def negotiation_request(
        offer_id: Annotated[int | None, typer.Argument(help="the offer to request")] = None,
        purpose: Annotated[str | None, typer.Option(help="purpose code, e.g. credit_risk")
                           ] = None,
        purpose_text: Annotated[str | None, typer.Option("--purpose-text")] = None,
        counter_to: Annotated[int | None, typer.Option(
            "--negotiation", help="counter-request in this negotiation instead")] = None,
        plan: Plan = None, period: Period = None, price: Price = None,
        price_fen: PriceFen = None, policy: PolicyFile = None, note: Note = None,
    ) -> None:
        """Consumer: request an offer (as it stands, or with counter-terms), or send a
        counter-request in a negotiation with --negotiation."""
        terms = _terms(plan, period, price, price_fen, _policy(policy, None, None, None, None,
                                                               None, False))
        with client() as c:
            if counter_to is not None:
                if not terms:
                    raise _fail("a counter-request needs new terms (--price, --plan, ...)")
                _show_negotiation(c.counter_request(counter_to, terms, note=note))
                return
            if offer_id is None or purpose is None:
                raise _fail("give the offer id and --purpose")
            _show_negotiation(c.request_offer(offer_id, purpose, purpose_text=purpose_text,
                                              terms=terms or None))

    @negotiation.command("offer")
    def negotiation_offer(
        negotiation_id: int, plan: Plan = None, period: Period = None, price: Price = None,
        price_fen: PriceFen = None, policy: PolicyFile = None, note: Note = None,
    ) -> None:
        """Provider: counter-offer new terms."""
        terms = _terms(plan, period, price, price_fen, _policy(policy, None, None, None, None,
                                                               None, False))
        if not terms:
            raise _fail("a counter-offer needs new terms (--price, --plan, --policy ...)")
        with client() as c:
            _show_negotiation(c.counter_offer(negotiation_id, terms, note=note))

    def _message(name: str, method: str, doc: str) -> None:
        def command(negotiation_id: int, note: Note = None) -> None:
            with client() as c:
                _show_negotiation(getattr(c, method)(negotiation_id, note=note))

        command.__doc__ = doc
        negotiation.command(name)(command)

    _message("accept", "accept_offer", "Consumer: accept the provider's offer.")
    _message("agree", "agree_negotiation", "Provider: agree to the terms on the table.")
    _message("verify", "verify_negotiation", "Consumer: verify the agreement.")
    _message("finalize", "finalize_negotiation", "Provider: finalize; concludes the agreement.")

    @negotiation.command("terminate")
    def negotiation_terminate(negotiation_id: int,
                              reason: Annotated[str, typer.Option()]) -> None:
        with client() as c:
            _show_negotiation(c.terminate_negotiation(negotiation_id, reason))

    @negotiation.command("list")
    def negotiation_list(as_provider: AsProvider = False,
                         state_: Annotated[str | None, typer.Option("--state")] = None) -> None:
        role = "provider" if as_provider else "consumer"
        with client() as c:
            show(list(_all(lambda t: c.list_negotiations(role=role, state=state_,
                                                         page_token=t))),
                 ["id", "offer_id", "product", "state", "purpose", "proposed_by",
                  "agreement_id", "updated_at"])

    @negotiation.command("show")
    def negotiation_show(negotiation_id: int) -> None:
        with client() as c:
            _show_negotiation(c.get_negotiation(negotiation_id))

    @agreement.command("list")
    def agreement_list(as_provider: AsProvider = False) -> None:
        role = "provider" if as_provider else "consumer"
        with client() as c:
            show(list(_all(lambda t: c.list_agreements(role=role, page_token=t))),
                 ["id", "number", "product", "plan", "price_fen", "status", "deletion_duty"])

    @agreement.command("show")
    def agreement_show(agreement_id: int) -> None:
        with client() as c:
            show(c.get_agreement(agreement_id))

    @agreement.command("terminate")
    def agreement_terminate(agreement_id: int, reason: Annotated[str, typer.Option()]) -> None:
        """End an agreement (either party); its entitlement is revoked at once."""
        with client() as c:
            show(c.terminate_agreement(agreement_id, reason))

    @agreement.command("confirm-deletion")
    def agreement_confirm_deletion(agreement_id: int) -> None:
        """Consumer: confirm the data is deleted, once the delete duty is due."""
        with client() as c:
            show(c.confirm_deletion(agreement_id))
