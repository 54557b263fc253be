"""Errors as JSON with the status a client can act on, for every failure of a /v1 route.

Body: {"detail": "<one clear sentence>", "code": "<machine code>"} plus "errors" (per field) for
invalid input. Statuses: 400 invalid input, 401 no or bad token, 404 not found (also for other
users' ids), 405, 409 conflict, 413 too large, 415, 429 rate-limited, 503 no LLM configured or
PostgreSQL/Redis unreachable (with Retry-After), 504 a turn that outlasted the wait.
"""

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from agents.errors import IdempotencyKeyReused, MessageTooLong, RewindRefused
from agents.llm import LLMNotConfigured
from playground import outages
from playground.outages import database_unreachable, redis_unreachable
from memory.errors import ProviderError
from memory.errors import BlockEditRefused, BlockLabelTaken, BlockLimitExceeded, UploadQuotaExceeded

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with existing data."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is not available."
    default_code = "unavailable"


def _translate(exc: Exception) -> Exception:
    """Our services' exceptions as the API exception that carries the right status."""
    if isinstance(exc, exceptions.APIException):
        return exc
    if database_unreachable(exc):  # before IntegrityError and DataError: it is a DatabaseError too
        outages.database.lost()
        return ServiceUnavailable(outages.DATABASE_DOWN, code="database_unavailable")
    if redis_unreachable(exc):
        return ServiceUnavailable(outages.REDIS_DOWN, code="redis_unavailable")
    if isinstance(exc, LLMNotConfigured):
        return ServiceUnavailable(str(exc), code="llm_not_configured")
    if isinstance(exc, ProviderError):  # the embedding server, for a search by meaning
        return ServiceUnavailable(f"The embedding server failed: {exc.message}", code="provider_error")
    if isinstance(exc, FileExistsError):  # ours say which file; the system's name a path on the server
        return Conflict(str(exc) if exc.filename is None else "The file exists already.", code="file_exists")
    if isinstance(exc, PermissionError):  # someone else's row: as if it did not exist
        return exceptions.NotFound()
    if isinstance(exc, BlockLabelTaken):
        return Conflict(str(exc), code="block_label_taken")
    if isinstance(exc, MessageTooLong):  # for the agent's context window
        return PayloadTooLarge(str(exc), code="message_too_long")
    if isinstance(exc, UploadQuotaExceeded):
        return PayloadTooLarge(str(exc), code="quota_exceeded")
    if isinstance(exc, IdempotencyKeyReused):
        return Conflict(str(exc), code="idempotency_key_reused")
    if isinstance(exc, RewindRefused):  # a run under way, or an undo the agent has gone on past
        return Conflict(str(exc), code="rewind_refused")
    if isinstance(exc, BlockLimitExceeded):
        return exceptions.ValidationError({"value": [str(exc)]}, code="block_limit_exceeded")
    if isinstance(exc, BlockEditRefused):
        return exceptions.ValidationError(str(exc), code="block_edit_refused")
    if isinstance(exc, ObjectDoesNotExist):
        model = type(exc).__qualname__.partition(".")[0]
        noun = {"Source": "folder", "Document": "file"}.get(model, model.lower() or "object")
        return exceptions.NotFound(f"No such {noun}." if model else "Not found.")
    if isinstance(exc, IntegrityError):
        return Conflict("This conflicts with existing data (a name or label already in use?).")
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge("The request body is too large.")
    if isinstance(exc, DataError):  # the database's own words, which may quote SQL
        return exceptions.ValidationError({"non_field_errors": [
            "A value does not fit: too long, out of range, or not text (NUL characters are refused)."]})
    if isinstance(exc, (SuspiciousOperation, DjangoValidationError, ValueError)):
        # services raise ValueError for input they refuse; its message is written for the caller
        message = "; ".join(exc.messages) if isinstance(exc, DjangoValidationError) else str(exc)
        return exceptions.ValidationError({"non_field_errors": [message]})
    return exc


def _flatten(errors: Any, path: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [line for key, value in errors.items()
                for line in _flatten(value, f"{path}.{key}" if path else ("" if key == "non_field_errors" else str(key)))]
    if isinstance(errors, list):
        if all(not isinstance(item, (dict, list)) for item in errors):
            return [f"{path}: {item}" if path else str(item) for item in errors]
        return [line for index, item in enumerate(errors) for line in _flatten(item, f"{path}.{index}" if path else str(index))]
    return [f"{path}: {errors}" if path else str(errors)]


def error_lines(errors: Any) -> list[str]:
    """A serializer's errors as lines a person reads ("agents.0.name: This field is required.")."""
    return _flatten(errors)


def _body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        lines = _flatten(exc.detail)
        return {"detail": "Invalid request: " + "; ".join(lines), "code": "invalid", "errors": exc.detail}
    codes = exc.get_codes()
    return {"detail": str(exc.detail), "code": codes if isinstance(codes, str) else "error"}


def exception_handler(exc: Exception, context: dict) -> Response:
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:  # a bug: still JSON, and logged with its traceback
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        response = Response({"detail": f"Internal server error ({type(exc).__name__}).", "code": "server_error"},
                            status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    else:
        response.data = _body(exc)
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE and response.data["code"].endswith("_unavailable"):
        response["Retry-After"] = str(outages.RETRY_AFTER_SECONDS)
    # the Letta SDK retries 409 and 5xx by default: a retried send would queue the same turn twice
    if response.status_code != status.HTTP_429_TOO_MANY_REQUESTS:
        response["x-should-retry"] = "false"
    return response


@csrf_exempt  # like every /v1 view (DRF's are): else a POST here got Django's HTML "403 CSRF" page, not this
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any /v1 path no route matches, whatever the method."""
    response = JsonResponse({"detail": f"No route {request.method} {request.path}.", "code": "not_found"}, status=404)
    response["x-should-retry"] = "false"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """settings.CSRF_FAILURE_VIEW: a /v1 client gets JSON (the API takes tokens, not cookies); a page
    Django's own explanation."""
    if not request.path.startswith("/v1/"):
        return django_csrf_failure(request, reason)
    response = JsonResponse({"detail": f"CSRF check failed: {reason} Send the API token as "
                                       "\"Authorization: Bearer <token>\" instead of a session cookie.",
                             "code": "csrf_failed"}, status=403)
    response["x-should-retry"] = "false"
    return response
