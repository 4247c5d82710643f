"""``qmoi backup create|restore``: sealed, consistent snapshots of the database."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from qmoi.bootstrap import backup_backend, restore_database, schema_revision, snapshot_database
from qmoi.cli.context import CliContext
from qmoi.cli.render import FAILED, out
from qmoi.config import Settings, redact_database_url
from qmoi.security.sealing import Unsealable, header_of, seal, unseal
from qmoi.security.secret_key import key_from, key_id, retired_keys

app = typer.Typer(help="Encrypted backups of the database.", no_args_is_help=True)


def _key(settings: Settings, *, may_create: bool) -> bytes:
    return key_from(settings.secret_key, settings.var_dir / "secret.key", may_create=may_create)


def _key_for(settings: Settings, sealed: bytes) -> bytes:
    """The current key, or the retired one (kept by `qmoi secrets rotate`) that sealed
    an older backup."""
    key = _key(settings, may_create=False)
    wanted = header_of(sealed).get("key_id")
    if wanted != key_id(key) and settings.secret_key is None:
        for retired in retired_keys(settings.var_dir / "secret.key"):
            if key_id(retired) == wanted:
                return retired
    return key


@app.command("create")
def create_command(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="where to write the sealed backup")],
) -> None:
    """Snapshot the database consistently, compress it, seal it (AES-256-GCM)."""
    cli: CliContext = ctx.obj
    settings = cli.settings()
    key = _key(settings, may_create=settings.sandbox)
    url = settings.database_url
    header = {
        "backend": backup_backend(url),
        "revision": schema_revision(cli.container().engine),
        "created_at": datetime.now(UTC).isoformat(),
    }
    sealed = seal(key, header, gzip.compress(snapshot_database(url)))
    out_file.write_bytes(sealed)
    out_file.chmod(0o600)
    out.print(
        f"{redact_database_url(url)} backed up to {out_file} ({len(sealed):,} bytes, sealed)",
        markup=False,
    )


@app.command("restore")
def restore_command(ctx: typer.Context, file: Annotated[Path, typer.Argument()]) -> None:
    """Open a sealed backup (refusing a wrong key or a changed file) and load it into
    the configured database, which must be empty."""
    cli: CliContext = ctx.obj
    settings = cli.settings()
    if not file.is_file():
        out.print(f"{file}: no such file — give the path of a backup", markup=False)
        raise typer.Exit(FAILED)
    try:
        sealed = file.read_bytes()
        header, data = unseal(_key_for(settings, sealed), sealed)
    except Unsealable as exc:
        out.print(f"{file}: {exc} — check QMOI_SECRET_KEY (or var/secret.key)", markup=False)
        raise typer.Exit(FAILED) from None
    restore_database(settings.database_url, str(header["backend"]), gzip.decompress(data))
    out.print(
        f"restored {file} (made {header['created_at']}, schema {header['revision']}) into "
        f"{redact_database_url(settings.database_url)}",
        markup=False,
    )
