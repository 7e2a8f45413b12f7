"""One error family: each carries its HTTP status, a machine code and advice."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.extra = extra  # more fields for the error body, e.g. "current" on a 409


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"


class InvalidCredentials(AppError):
    status_code = 401
    code = "invalid_credentials"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class VersionConflict(Conflict):
    """Someone changed the row since the caller read it; `current` says how it is now."""

    code = "version_conflict"


def error_body(code: str, message: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    if details is not None:
        body["details"] = details
    return {"error": body}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            jsonable_encoder(error_body(exc.code, exc.message, exc.details, **exc.extra)),
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "problem": e["msg"]}
            for e in exc.errors()
        ]
        for d in details:
            if not d["field"] and d["problem"] == "Field required":
                d["field"], d["problem"] = (
                    "body",
                    "send a JSON body (see the API docs at /api/docs)",
                )
        fields = ", ".join(d["field"] or "body" for d in details)
        return JSONResponse(
            error_body("invalid_request", f"fix these fields: {fields}", details),
            status_code=422,
        )
