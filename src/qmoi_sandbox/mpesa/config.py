"""How one Daraja emulator is configured: the organisation, its credentials, its
timings and limits, and the faults it can inject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field

from qmoi_sandbox.common.faults import FaultInjector, Faults

#: Safaricom's published Lipa na M-Pesa Online passkey for the public sandbox shortcode
#: 174379 (Daraja's STK password test vector decodes to ``174379`` + this + the timestamp).
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


@dataclass(frozen=True)
class MpesaSandboxConfig:
    """Everything that shapes one emulator instance; all fields have sandbox defaults.

    Durations ending in ``_s`` are simulated seconds (scaled by ``speed``) unless the
    field says "real seconds".
    """

    consumer_key: str = "qmoi-sandbox"
    consumer_secret: str = "qmoi-sandbox-secret"  # noqa: S105 - fixed sandbox credential
    shortcode: str = "174379"
    passkey: str = SANDBOX_PASSKEY
    #: a till (Buy Goods) number of the same organisation; None = the shortcode doubles
    #: as the till, as 174379 does in Safaricom's public sandbox
    till_number: str | None = None
    initiator: str = "qmoi_initiator"
    initiator_password: str = "Sandbox#1234"  # noqa: S105 - fixed sandbox credential
    organization_name: str = "QMOI Sandbox"
    country: str = "KE"
    currency: str = "KES"
    seed: int | None = None
    speed: float = 1.0
    start: datetime | None = None
    #: epoch second at which the clock stood at ``start`` (shares another clock)
    clock_origin: float | None = None
    opening_balance_minor: int = 100_000_000
    #: simulated seconds a customer takes to answer the STK prompt (uniform in range)
    customer_delay_s: tuple[float, float] = (5.0, 30.0)
    #: simulated seconds after which an unanswered prompt ends with 1037 / 1019
    stk_timeout_s: float = 60.0
    #: approve probability of a valid number nobody configured
    default_approve_rate: float = 0.9
    #: simulated seconds before an initiator API (B2C, balance, status, reversal) answers
    result_delay_s: tuple[float, float] = (1.0, 5.0)
    #: OAuth token lifetime; Daraja's sample ``expires_in`` is 3599
    token_ttl_s: int = 3599
    #: the portal FAQ's (unconfirmed) "a new token invalidates the previous one"
    token_invalidates_previous: bool = False
    #: external C2B validation: off by default on Daraja, enabled on request
    c2b_validation: bool = False
    #: real seconds the Validation URL has to answer before ResponseType applies (~8 s)
    c2b_validation_timeout_s: float = 8.0
    #: production behaviour: URLs can be registered only once per shortcode
    c2b_register_once: bool = False
    #: how C2B callbacks show the payer: masked ``2547 ***** 149`` or a sha256 hex hash
    c2b_msisdn_style: Literal["masked", "hashed"] = "masked"
    #: B2C charge per successful payout (Daraja's sample "Fee For B2C Payment|KES|22.40")
    b2c_fee_minor: int = 2_240
    b2c_min_minor: int = 1_000
    b2c_max_minor: int = 25_000_000
    stk_max_minor: int = 25_000_000
    #: "same amount to the same customer within 2 minutes" → STK 17; 0 disables
    same_amount_window_s: float = 120.0
    #: a second push to a phone with an open prompt → "Unable to lock subscriber"
    lock_subscriber: bool = True
    #: refuse callback URLs containing mpesa/safaricom/exec/sql/query…, as Daraja does
    enforce_url_rules: bool = True
    #: the portal says failed callback deliveries are not retried; raise to retry
    callback_max_attempts: int = 1
    callback_retry_s: float = 30.0
    #: lock the initiator (8006) after this many consecutive wrong credentials; 0 = never
    initiator_lock_after: int = 0
    key_bits: int = 2048

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        for name in ("customer_delay_s", "result_delay_s"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high")
        if not 0 <= self.default_approve_rate <= 1:
            raise ValueError("default_approve_rate must be within [0, 1]")
        if self.opening_balance_minor < 0:
            raise ValueError("opening_balance_minor must not be negative")
        if self.callback_max_attempts < 1:
            raise ValueError("callback_max_attempts must be at least 1")

    @property
    def shortcodes(self) -> frozenset[str]:
        """Every number of the organisation: the paybill and its till."""
        return frozenset({self.shortcode, self.till_number or self.shortcode})


class MpesaFaults(Faults):
    """The shared faults plus Daraja's B2C queue timeout."""

    queue_timeout_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="a B2C result goes to QueueTimeOutURL instead of ResultURL "
        "(half of them are executed anyway)",
    )


class MpesaFaultInjector(FaultInjector):
    """A :class:`FaultInjector` whose settings are :class:`MpesaFaults`."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed, MpesaFaults())


#: every counter ``GET /sandbox/faults/injected`` reports, even when still zero
FAULT_COUNTERS = (
    "latency",
    "error",
    "timeout_after_accept",
    "lost_callback",
    "duplicate_callback",
    "late_callback",
    "early_token_expiry",
    "enquiry_pending",
    "ambiguous_enquiry",
    "out_of_order_callback",
    "queue_timeout",
)
