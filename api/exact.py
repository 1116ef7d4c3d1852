"""Exact requests: JSON numbers read as Decimals, never floats; no query parameter unknown to the operation."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


class ExactRequest(Request):
    """JSON numbers become Decimals, never floats: "hours": 0.1 stays exactly 0.1."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactRoute(APIRoute):
    """Exact numbers, and exact queries: a query parameter the operation does not take is
    refused (like an unknown body field), so a misspelt one is never silently ignored."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()
        known = _query_names(self.dependant)

        async def exact(request: Request) -> Response:
            unknown = [name for name in request.query_params if name not in known]
            if unknown:
                raise RequestValidationError([
                    {"loc": ("query", name), "msg": "not a parameter of this operation", "type": "extra_forbidden"}
                    for name in dict.fromkeys(unknown)
                ])
            return await handler(ExactRequest(request.scope, request.receive))

        return exact


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
