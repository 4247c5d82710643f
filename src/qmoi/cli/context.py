"""Where CLI commands get their settings and container from (built lazily, once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from qmoi import logs
from qmoi.bootstrap import Container, build
from qmoi.cli.private import make_private
from qmoi.config import RawValues, Report, Settings, load_settings, read_raw
from qmoi.services import vault


@dataclass
class CliContext:
    env_file: Path
    config_file: Path | None
    report: Report | None = None
    _settings: Settings | None = None
    _container: Container | None = field(default=None, repr=False)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def settings(self, *, debug: bool = False) -> Settings:
        if self._settings is None:

            def keep(report: Report) -> None:
                self.report = report

            self._settings = load_settings(
                self.env_file, self.config_file, on_report=keep, complete=vault.complete
            )
            s = self._settings
            logs.configure(
                s.log_dir,
                debug=s.debug or debug,
                debug_airtel=s.airtel.debug,
                console=debug,
                secrets=_secrets(s),
            )
            make_private(s)
        return self._settings

    def raw(self) -> RawValues:
        """Every configured value as text, the credential vault's included."""
        return vault.complete(read_raw(self.env_file, self.config_file))

    def container(self) -> Container:
        if self._container is None:
            settings = self.settings()
            clock = None
            if settings.sandbox:  # tell the running sandbox's simulated time, if any
                from qmoi.cli.runtime import load_clock

                clock = load_clock(settings.var_dir)
            self._container = build(settings, clock=clock)
        return self._container

    def on_close(self, callback: Callable[[], None]) -> None:
        self._closers.append(callback)

    def close(self) -> None:
        for callback in self._closers:
            callback()
        if self._container is not None:
            self._container.close()


def _secrets(settings: Settings) -> list[SecretStr | None]:
    a, m, n = settings.airtel, settings.mpesa, settings.notify
    return [
        a.client_secret,
        a.pin,
        a.callback_secret,
        m.consumer_key,
        m.consumer_secret,
        m.passkey,
        m.initiator_password,
        m.callback_token,
        settings.master_key,
        settings.secret_key,
        n.webhook_secret,
        n.smtp_password,
        n.sms_api_key,
    ]
