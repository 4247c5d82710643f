"""A person holding only QMOI's database and its logs learns no secret.

QMOI runs as its users run it — ``qmoi api`` and ``qmoi worker`` processes, debug
logging on, against both emulators over HTTP on 127.0.0.1 — with provider credentials
that exist nowhere but the credential vault (set through ``qmoi secrets set`` on
stdin) and with the master key, secret key and callback token in the environment.
The emulators accept only those credentials, so the collections and payouts that
succeed prove the vault's values were used. Then every byte an outsider could get is
searched for every secret, in clear and in the encodings a careless log line would use
(base64, the HTTP Basic pair, URL quoting): the database (the SQLite file with its
WAL, or a ``pg_dump``), every log file and console output, ``qmoi validate`` (and
``--online``), ``qmoi secrets list``, and the answers of every GET route of the API.

The Airtel PIN is sealed and used like the rest but not searched for: four digits
occur by chance in any database file.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from qmoi_sandbox.common.server import free_port
from tests.e2e.support import Emulators, Processes, Qmoi, emulators, wait_ready, wait_until

pytestmark = [pytest.mark.revenue, pytest.mark.slow]

REV = "/api/qmoi/revenue"


def _token(label: str) -> str:
    return f"{label}-{secrets.token_hex(12)}"


VAULTED = {
    "AIRTEL_CLIENT_SECRET": _token("airtel-secret"),
    "MPESA_CONSUMER_KEY": _token("mpesa-key"),
    "MPESA_CONSUMER_SECRET": _token("mpesa-secret"),
    "MPESA_PASSKEY": _token("mpesa-passkey"),
    "MPESA_INITIATOR_PASSWORD": _token("initiator-pw"),
}
PIN = f"{secrets.randbelow(9000) + 1000}"


def encodings(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, base64.b64encode(raw), quote(value, safe="").encode()]


def vault_only_emulators(api_url: str) -> AbstractContextManager[Emulators]:
    """Both emulators, accepting only the vault's credentials."""
    return emulators(
        api_url=api_url,
        speed=300.0,
        seed=5,
        customer_delay_s=(1.0, 3.0),
        airtel_config={"client_secret": VAULTED["AIRTEL_CLIENT_SECRET"], "pin": PIN},
        mpesa_config={
            "consumer_key": VAULTED["MPESA_CONSUMER_KEY"],
            "consumer_secret": VAULTED["MPESA_CONSUMER_SECRET"],
            "passkey": VAULTED["MPESA_PASSKEY"],
            "initiator_password": VAULTED["MPESA_INITIATOR_PASSWORD"],
        },
    )


def database_bytes(database_url: str, root: Path) -> bytes:
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to read the PostgreSQL database as an outsider would"
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(
        [pg_dump, "--data-only", "--dbname", dsn], capture_output=True, check=True, timeout=60
    ).stdout


def api_answers(client: httpx.Client, base: str, key: str) -> bytes:
    """Every GET route of the spec (path parameters filled with each provider), plus the
    dashboard and its data, as the owner sees them."""
    spec = client.get(f"{base}/openapi.json").json()
    owner = {"Authorization": f"Bearer {key}"}
    seen: list[bytes] = [str(spec).encode()]
    for path, operations in spec["paths"].items():
        if "get" not in operations or path.endswith("/events"):
            continue
        for provider in ("airtel", "mpesa"):
            answer = client.get(f"{base}{path.replace('{provider}', provider)}", headers=owner)
            assert answer.status_code < 500, (path, answer.text)
            seen.append(answer.content + str(answer.headers).encode())
    for path in ("/", "/dashboard/data", "/metrics", "/healthz", "/readyz"):
        answer = client.get(f"{base}{path}", headers=owner)
        seen.append(answer.content + str(answer.headers).encode())
    return b"\n".join(seen)


def test_no_secret_is_readable_from_the_database_the_logs_or_any_answer(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    with vault_only_emulators(api_url) as emu, httpx.Client(timeout=30.0) as client:
        qmoi = Qmoi(
            tmp_path,
            db_url,
            emu,
            port,
            extra={
                "AIRTEL_ENVIRONMENT": "sandbox",
                "MPESA_ENVIRONMENT": "sandbox",
                "QMOI_SECRET_KEY": _token("secret-key"),
                "QMOI_DEBUG": "1",
                "DEBUG_AIRTEL": "1",
                "QMOI_AUTO_TRANSFER": "0",
            },
        )
        env_secrets = {
            "QMOI_MASTER_KEY": qmoi.master_key,
            "MPESA_CALLBACK_TOKEN": qmoi.callback_token,
            "QMOI_SECRET_KEY": qmoi.extra["QMOI_SECRET_KEY"],
        }
        assert qmoi.run("db", "upgrade").returncode == 0
        for name, value in {**VAULTED, "AIRTEL_PIN": PIN}.items():
            done = qmoi.run("secrets", "set", name, stdin=value + "\n")
            assert done.returncode == 0, done.stdout + done.stderr

        processes = Processes(qmoi)
        try:
            api = processes.api()
            processes.worker("worker")
            wait_ready(client, api, api_url)
            owner = {"Authorization": f"Bearer {qmoi.master_key}"}
            for provider in ("airtel", "mpesa"):
                _collect_and_pay_out(client, emu, api_url, owner, provider)
            answers = api_answers(client, api_url, qmoi.master_key)
        finally:
            processes.close()

        said = b""
        for command in (["validate"], ["validate", "--online"], ["secrets", "list"]):
            done = qmoi.run(*command)
            assert done.returncode == 0, done.stdout + done.stderr
            said += (done.stdout + done.stderr).encode()
        assert b"from the credential vault" in said

        logs = b"".join(p.read_bytes() for p in (tmp_path / "logs").rglob("*") if p.is_file())
        assert b"mpesa" in logs  # the logs are really there and say things
        places = {
            "the database": database_bytes(db_url, tmp_path),
            "the logs": logs,
            "the CLI's output": said,
            "the API's answers": answers,
        }
        basic = VAULTED["MPESA_CONSUMER_KEY"] + ":" + VAULTED["MPESA_CONSUMER_SECRET"]
        leaks = [
            f"{name} in {where}: …{context}…"
            for name, value in {**VAULTED, **env_secrets, "Basic pair": basic}.items()
            for where, data in places.items()
            for form in encodings(value)
            if (context := _around(data, form, name))
        ]
        assert leaks == []


def _around(data: bytes, secret: bytes, name: str) -> str:
    """Where ``secret`` occurs in ``data``, with the secret itself masked; "" if nowhere."""
    at = data.find(secret)
    if at < 0:
        return ""
    window = data[max(0, at - 150) : at + len(secret) + 60].replace(secret, f"<{name}>".encode())
    return window.decode(errors="replace")


def _collect_and_pay_out(
    client: httpx.Client, emu: Emulators, api_url: str, owner: dict[str, str], provider: str
) -> None:
    """Three approving customers pay; then the owner takes a payout. Both need the
    vault's credentials (token, STK password, PIN, initiator password)."""
    customers = emu.customers(provider, 3, 1.0, f"leak-{provider}")
    started = client.post(
        f"{api_url}{REV}/{provider}/generate",
        json={
            "requests": [{"msisdn": m, "amount": 200, "stream": "airtime_sales"} for m in customers]
        },
        headers=owner,
    )
    assert started.status_code == 202, started.text

    def balance() -> int:
        answer = client.get(f"{api_url}{REV}/{provider}/balance", headers=owner)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["available"])  # KES

    wait_until(lambda: balance() >= 600, timeout_s=30, what=f"{provider} collections booked")
    paid = client.post(f"{api_url}{REV}/{provider}/transfer", json={"amount": 100}, headers=owner)
    assert paid.status_code == 201, paid.text

    def paid_out() -> bool:
        done = [
            x for x in emu.transactions(provider, kind="disbursement") if x["status"] != "pending"
        ]
        assert all(x["status"] == "succeeded" for x in done), done
        return bool(done)

    wait_until(paid_out, timeout_s=30, what=f"{provider} payout made")
    time.sleep(0.5)
