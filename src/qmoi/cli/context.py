"""Where CLI commands get their settings and container from (built lazily, once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from qmoi import logs
from qmoi.bootstrap import Container, build
from qmoi.config import Report, Settings, load_settings


@dataclass
class CliContext:
    env_file: Path
    config_file: Path | None
    report: Report | None = None
    _settings: Settings | None = None
    _container: Container | None = field(default=None, repr=False)

    def settings(self, *, debug: bool = False) -> Settings:
        if self._settings is None:

            def keep(report: Report) -> None:
                self.report = report

            self._settings = load_settings(self.env_file, self.config_file, on_report=keep)
            s = self._settings
            logs.configure(
                s.log_dir,
                debug=s.debug or debug,
                debug_airtel=s.airtel.debug,
                console=debug,
                secrets=_secrets(s),
            )
        return self._settings

    def container(self) -> Container:
        if self._container is None:
            settings = self.settings()
            clock = None
            if settings.sandbox:  # tell the running sandbox's simulated time, if any
                from qmoi.cli.runtime import load_clock

                clock = load_clock(settings.var_dir)
            self._container = build(settings, clock=clock)
        return self._container

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


def _secrets(settings: Settings) -> list[SecretStr | None]:
    a, m = settings.airtel, settings.mpesa
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
    ]
