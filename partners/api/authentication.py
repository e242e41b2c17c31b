"""DRF authentication that reads what TenantMiddleware resolved, so there is one resolver.

- ``/api/v1/...`` with ``Authorization: Token <key>``: the token's membership and tenant.
- ``/t/<slug>/api/v1/...`` with the session cookie (and CSRF for unsafe methods): the signed-in
  user's membership in that tenant. A session without a tenant prefix authenticates nothing,
  so ``/api/v1/`` is token-only.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions


class MembershipTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``: the token's membership, resolved by TenantMiddleware."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="ignore")
        scheme, _, key = header.partition(" ")
        if scheme.lower() not in {"token", "bearer"} or not key.strip():
            return None
        token = getattr(request._request, "api_token", None)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (token.membership.user, token)

    def authenticate_header(self, request):
        return self.keyword


class TenantSessionAuthentication(authentication.SessionAuthentication):
    """Session cookie (with CSRF) for calls made from the pages, under /t/<slug>/api/v1/."""

    def authenticate(self, request):
        django_request = request._request
        if getattr(django_request, "api_token", None) is not None:
            return None
        if getattr(django_request, "membership", None) is None:
            return None  # no tenant prefix (or not a member): the session does not count here
        return super().authenticate(request)


class MembershipTokenScheme(OpenApiAuthenticationExtension):
    target_class = MembershipTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        definition = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.keyword
        )
        definition["description"] = (
            "`Authorization: Token <key>`. A token belongs to one membership, so it acts in "
            "that membership's tenant with its role. Create one at `POST /api/v1/auth/token/`."
        )
        return definition


class TenantSessionScheme(OpenApiAuthenticationExtension):
    target_class = TenantSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "The session of the pages, for calls under `/t/<tenant slug>/api/v1/`. "
                f"Unsafe methods need the `{settings.CSRF_COOKIE_NAME}` cookie's value in the "
                "`X-CSRFToken` header."
            ),
        }
