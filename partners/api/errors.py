"""One error body for every API error: ``{"code", "message", "fields"}``.

``fields`` maps a field name to its messages; errors that belong to no field are under
``non_field_errors``. The body is the same whether the error came from a serializer, from a
service's Django ``ValidationError``/``PermissionDenied``, or from the framework (401, 404, 405,
415, 429).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail) -> list[str]:
    if isinstance(detail, list):
        return [msg for item in detail for msg in _flatten(item)]
    if isinstance(detail, dict):
        return [f"{key}: {msg}" for key, value in detail.items() for msg in _flatten(value)]
    return [str(detail)]


def _from_django_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        fields = {
            (api_settings.NON_FIELD_ERRORS_KEY if key == NON_FIELD_ERRORS else key): messages
            for key, messages in exc.message_dict.items()
        }
        return exceptions.ValidationError(fields)
    return exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = _from_django_validation_error(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if not isinstance(detail, dict):
            detail = {api_settings.NON_FIELD_ERRORS_KEY: detail}
        fields = {key: _flatten(value) for key, value in detail.items()}
        non_field = fields.get(api_settings.NON_FIELD_ERRORS_KEY, [])
        if non_field and len(fields) == 1:
            message = " ".join(non_field)
        else:
            message = _("The request has invalid fields.")
        body = {"code": "invalid", "message": message, "fields": fields}
        return Response(body, status=status.HTTP_400_BAD_REQUEST, headers=response.headers)
    detail = getattr(exc, "detail", None)
    code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
    response.data = {"code": code, "message": " ".join(_flatten(detail)), "fields": {}}
    return response


class ErrorSerializer(serializers.Serializer):
    """The error body, for the OpenAPI schema."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. `invalid`.")
    message = serializers.CharField(help_text="Human-readable summary.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field; errors of no field are under `non_field_errors`.",
    )


def error_responses(*codes: int) -> dict[int, type[ErrorSerializer]]:
    """``responses=`` entries for the error statuses an endpoint can answer."""
    return dict.fromkeys(codes, ErrorSerializer)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """django-axes lockout: the API error body under /api/, axes' page everywhere else.

    Set as ``AXES_LOCKOUT_CALLABLE``. The body says nothing about which credential was wrong.
    """
    from axes.helpers import (
        get_client_username,
        get_cool_off,
        get_cool_off_iso8601,
        get_failure_limit,
    )
    from django.shortcuts import render

    status_code = getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429)
    cool_off = get_cool_off(request)
    if request.path_info.startswith("/api/"):
        response = JsonResponse(
            {
                "code": "locked_out",
                "message": _("Too many failed attempts. Try again later."),
                "fields": {},
            },
            status=status_code,
        )
        if cool_off:
            response["Retry-After"] = str(int(cool_off.total_seconds()))
        return response
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
    }
    if cool_off:
        context.update(
            {"cooloff_time": get_cool_off_iso8601(cool_off), "cooloff_timedelta": cool_off}
        )
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=status_code)
