"""DRF authentication that reads what TenantMiddleware resolved, so there is one resolver."""

from __future__ import annotations

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
