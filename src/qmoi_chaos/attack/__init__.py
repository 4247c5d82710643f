"""The chaos run's adversary: forged, replayed and altered provider callbacks, posted to
QMOI's public callback URL (through the balancer) for the whole traffic phase.

What it knows, and no more: what a viewer API key reads (QMOI's pending collections
``QC-…``, its transfers and auto-transfer chunks ``QMOI-AT-…``/``QMOI-MP-…``, their
amounts and states); the M-Pesa callback path token (the one the harness gives QMOI —
it travels in every callback URL); every URL the providers call, as a proxy's log shows
them (the per-query tags of Daraja's result URLs included); and, standing in for
someone who listens to the provider's traffic, what the emulators' inspection API
shows: real CheckoutRequestIDs, receipts, customer numbers and amounts, and the genuine
callback bodies — except the bodies of Daraja's answers to QMOI's own queries, which
only Daraja and QMOI see over TLS: an altered copy of one carries a conversation id of
the attacker's making. It never knows the Airtel callback secret: when QMOI checks
Airtel's hash, the attacker's Airtel forgeries carry none or a wrong one.

What it sends (:data:`~qmoi_chaos.attack.spec.KINDS`): failures and successes for real
pending collections and real open or paid chunks; successes under invented ids carrying
real customer numbers and amounts; successes for chunk ids it predicts (they are dated
and numbered); B2C results and queue timeouts; C2B confirmations with invented and with
already booked receipts; status, balance and reversal results under invented
conversation ids; exact replays of genuine callbacks and altered copies of them; and
garbage. Every forged body carries ``"chaos_forged": "<n>"`` (an unknown top-level
field, which QMOI keeps in the stored body; in the text of what is not JSON) so that
the judge can find it in QMOI's inbox afterwards and say whether QMOI acted on it. An
exact replay is the genuine fact once more: it carries no marker and is counted apart.

Where things are: :mod:`.spec` (what the harness hands over, what a forgery is),
:mod:`.intel` (what the attacker reads), :mod:`.kit` and the per-provider builders
:mod:`.airtel`, :mod:`.mpesa`, :mod:`.mpesa_results`, combined in :mod:`.forger`;
:mod:`.sender` is the attacker process (``python -m qmoi_chaos.attack SPEC_JSON``) and
:mod:`.harness` the harness's side (starting it, reading its journal).
"""
