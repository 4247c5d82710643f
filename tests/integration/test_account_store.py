"""The store's side of accounts, on SQLite and PostgreSQL: an account id of the longest
form fits every table that names an account, and an account's provider, currency and
country are recorded once and never overwritten."""

from __future__ import annotations

from qmoi.db.uow import UnitOfWorkFactory

LONGEST = "a" * 31 + "z"  # 32 characters, the most an id may have


def test_the_longest_account_id_fits_where_accounts_are_named(uows: UnitOfWorkFactory) -> None:
    with uows() as uow:
        assert uow.inbox.add(LONGEST, "collection", "evt-1", "{}", uow.now)
        uow.notifications.add("test", "a notice naming the account", uow.now, provider=LONGEST)
        uow.commit()
    with uows(read_only=True) as uow:
        assert uow.inbox.body_of(LONGEST, "evt-1") == "{}"


def test_an_account_is_recorded_once_and_never_rewritten(uows: UnitOfWorkFactory) -> None:
    with uows() as uow:
        first = uow.merchant_accounts.register(LONGEST, "airtel", "UGX", "UG", uow.now)
        again = uow.merchant_accounts.register(LONGEST, "mpesa", "KES", "KE", uow.now)
        uow.commit()
    assert (first.provider, first.currency, first.country) == ("airtel", "UGX", "UG")
    assert again == first  # the caller compares and refuses; the store never rewrites
    with uows(read_only=True) as uow:
        assert [(a.id, a.currency) for a in uow.merchant_accounts.all()] == [(LONGEST, "UGX")]
