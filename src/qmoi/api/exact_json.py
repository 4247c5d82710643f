"""JSON request bodies read exactly: a JSON number with a fraction or an exponent becomes
a ``Decimal``, never a float. Python's ``json`` would turn ``1234567890123456.78`` into
``1234567890123456.8`` before any amount check saw it, so a request could move a
different sum than it named. ``NaN`` and ``Infinity`` are not JSON and are refused.

Routers of our API take :class:`ExactJSONRoute` as their ``route_class``; provider
callbacks parse their raw bodies themselves."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # an exponent no Decimal holds: 1e99999999999999999999
        raise ValueError(f"{text} is not a number QMOI can read") from exc


def _not_json(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def loads(body: bytes | str) -> Any:
    """``json.loads`` with every non-integer number as an exact ``Decimal``."""
    return json.loads(body, parse_float=_decimal, parse_constant=_not_json)


class ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class ExactJSONRoute(APIRoute):
    """A route whose JSON body is decoded by :func:`loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactJSONRequest(request.scope, request.receive))

        return exact
