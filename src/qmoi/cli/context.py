"""Where CLI commands get their settings and container from (built lazily, once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qmoi import logs
from qmoi.bootstrap import Container, build, complete_from_vault
from qmoi.cli.private import make_private
from qmoi.config import RawValues, Report, Settings, load_settings, read_raw, secret_values


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
                self.env_file, self.config_file, on_report=keep, complete=complete_from_vault
            )
            s = self._settings
            logs.configure(
                s.log_dir,
                debug=s.debug or debug,
                debug_airtel=s.airtel.debug,
                console=debug,
                secrets=secret_values(s),
            )
            make_private(s)
        return self._settings

    def raw(self) -> RawValues:
        """Every configured value as text, the credential vault's included."""
        return complete_from_vault(read_raw(self.env_file, self.config_file))

    def container(self) -> Container:
        if self._container is None:
            settings = self.settings()
            clock = None
            if settings.sandbox:  # tell the running sandbox's simulated time, if any
                from qmoi.cli.simulation import load_clock

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
