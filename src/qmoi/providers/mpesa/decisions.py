"""C2B validation: whether to accept a customer's payment before it happens, and the
revenue stream it goes to (§8.2). Pure: the rules come from the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from qmoi.domain.streams import StreamKey, attribute
from qmoi.providers.base import CallbackEvent, CallbackKind
from qmoi.providers.mpesa import translate

# --------------------------------------------------------------------------------------
# C2B: validation decision and stream attribution (§8.2)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class C2BDecision:
    """Our answer to a validation request, and the stream the money would go to."""

    accepted: bool
    result_code: str
    result_desc: str
    stream: StreamKey | None = None

    def answer(self) -> dict[str, str]:
        """The body Daraja expects (§8.2): ``{"ResultCode": "0", "ResultDesc": "Accepted"}``
        or a ``C2B000xx`` rejection."""
        return {"ResultCode": self.result_code, "ResultDesc": self.result_desc}


def _reject(code: str) -> C2BDecision:
    return C2BDecision(False, code, translate.C2B_VALIDATION_RESULTS[code])


def decide_c2b_validation(
    event: CallbackEvent,
    *,
    rules: tuple[tuple[str, StreamKey], ...],
    default_stream: StreamKey,
    shortcodes: Collection[str] = (),
    known_references: Collection[str] = (),
    is_known: Callable[[str], bool] | None = None,
    accept_unknown: bool = False,
) -> C2BDecision:
    """Accept or reject a customer's payment before it happens (pure).

    * a shortcode not ours → ``C2B00015``; an amount we cannot take → ``C2B00013``;
    * an account reference is *known* when a stream rule's prefix matches it, it is one
      of ``known_references`` (case-insensitive), or ``is_known`` says so; a known one is
      accepted and attributed to its stream;
    * an empty reference (till / buy-goods payments carry none) is accepted into
      ``default_stream``;
    * an unknown reference is rejected with ``C2B00012`` (Invalid Account Number), or
      accepted into ``default_stream`` when ``accept_unknown``.
    """
    if event.kind is not CallbackKind.C2B_VALIDATION:
        raise ValueError(f"{event.kind.value} is not a validation request")
    shortcode = event.raw.get("BusinessShortCode")
    if shortcodes and str(shortcode).strip() not in shortcodes:
        return _reject(translate.C2B_INVALID_SHORTCODE)
    amount = event.status.amount
    if amount is None or not amount.is_positive:
        return _reject(translate.C2B_INVALID_AMOUNT)
    reference = (event.account_reference or "").strip()
    accepted = translate.C2B_VALIDATION_RESULTS[translate.C2B_ACCEPT]
    if not reference:
        return C2BDecision(True, translate.C2B_ACCEPT, accepted, default_stream)
    folded = reference.upper()
    known = (
        any(folded.startswith(prefix.strip().upper()) for prefix, _ in rules if prefix.strip())
        or folded in {r.strip().upper() for r in known_references}
        or (is_known is not None and is_known(reference))
    )
    if not known and not accept_unknown:
        return _reject(translate.C2B_INVALID_ACCOUNT)
    return C2BDecision(
        True, translate.C2B_ACCEPT, accepted, attribute(reference, rules, default_stream)
    )


def c2b_stream(
    event: CallbackEvent, rules: tuple[tuple[str, StreamKey], ...], default: StreamKey
) -> StreamKey:
    """The revenue stream of a C2B payment from its bill reference (trimmed, case-folded;
    longest matching prefix, else ``default``)."""
    return attribute(event.account_reference or "", rules, default)
