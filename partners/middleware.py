"""Resolve the tenant of each request and run the request inside it.

- Pages (and session-authenticated API calls) live under ``/t/<slug>/``. The middleware strips
  the prefix from ``path_info`` and adds it to the script prefix, so the URLconf and every
  ``reverse()`` are tenant-agnostic while every generated link keeps the tenant.
- API calls with ``Authorization: Token <key>`` get the tenant of the token's membership.
- A signed-in user who is not an active member of the tenant gets 404 for every URL of it;
  an anonymous visitor is sent to the login page (without learning whether the tenant exists).
- ``/admin/`` without a prefix is the operators' admin (superusers), across tenants.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import get_script_prefix, set_script_prefix
from django.utils.translation import gettext as _

from partners import selectors, services
from partners.models import Tenant
from partners.tenancy import dangerously_all_tenants, set_current_membership, tenant_context

TENANT_PREFIX = re.compile(r"^/t/(?P<slug>[-a-zA-Z0-9_]+)(?P<rest>/.*)?$")


def _token_key(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() in {"token", "bearer"} and key.strip():
        return key.strip()
    return None


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "fields": {}}, status=status)


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None
        request.membership = None
        request.api_token = None
        match = TENANT_PREFIX.match(request.path_info)
        if match:
            return self._tenant_request(request, match.group("slug"), match.group("rest") or "/")
        if request.path_info.startswith("/api/") and _token_key(request):
            return self._token_request(request, tenant=None)
        if request.path_info.startswith("/admin/"):
            return self._operator_admin(request)
        return self.get_response(request)

    # -- /t/<slug>/...
    def _tenant_request(self, request: HttpRequest, slug: str, rest: str) -> HttpResponse:
        is_api = rest.startswith("/api/")
        if not request.user.is_authenticated and not (is_api and _token_key(request)):
            if is_api:
                return _json_error(401, "not_authenticated", _("Authentication required."))
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        tenant = Tenant.objects.filter(slug=slug, is_active=True).first()
        if tenant is None:
            if is_api:
                return _json_error(404, "not_found", _("Not found."))
            raise Http404
        request.path_info = rest
        request.tenant_prefix = f"/t/{slug}"
        # The script prefix is thread-local state: restore it afterwards, so it cannot leak
        # into the next request of this thread (the test client does not reset it per request
        # the way the WSGI and ASGI handlers do) or into code that runs after the response.
        script_prefix = get_script_prefix()
        set_script_prefix(f"{script_prefix}t/{slug}/")
        try:
            if is_api and _token_key(request):
                return self._token_request(request, tenant=tenant)
            with tenant_context(tenant):
                membership = selectors.active_membership(user=request.user)
                if membership is None:
                    if is_api:
                        return _json_error(404, "not_found", _("Not found."))
                    raise Http404
                set_current_membership(membership)
                request.tenant = tenant
                request.membership = membership
                return self.get_response(request)
        finally:
            set_script_prefix(script_prefix)

    # -- Authorization: Token ...
    def _token_request(self, request: HttpRequest, tenant: Tenant | None) -> HttpResponse:
        key = _token_key(request) or ""
        ids = selectors.api_token_ids_by_key(key)
        if ids is not None:
            # Fast path: the key's ids are cached; the token, membership and user are reloaded
            # by primary key inside the tenant (revocation and deactivation count at once).
            token_tenant = tenant
            if token_tenant is None:
                tenant_id = ids.get("tenant_id")
                token_tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
            if token_tenant is not None and token_tenant.pk == ids.get("tenant_id"):
                with tenant_context(token_tenant):
                    token = selectors.api_token_by_ids(key=key, ids=ids)
                    if token is not None:
                        return self._as_token(request, token)
            # Revoked, deactivated, another tenant's or stale: the slow path decides.
        token = selectors.api_token_by_key(key)
        if token is None:
            return _json_error(401, "authentication_failed", _("Invalid or revoked token."))
        if tenant is not None and token.tenant_id != tenant.pk:
            return _json_error(
                401, "authentication_failed", _("This token does not belong to this tenant.")
            )
        with tenant_context(token.tenant):
            return self._as_token(request, token)

    def _as_token(self, request: HttpRequest, token) -> HttpResponse:
        """Run the request as the token's member (inside the token's tenant_context)."""
        membership = token.membership
        set_current_membership(membership)
        services.api_token_touch(token)
        request.user = membership.user
        request.tenant = token.tenant
        request.membership = membership
        request.api_token = token
        return self.get_response(request)

    # -- /admin/ without a tenant: operators only
    def _operator_admin(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_superuser:
            request.operator_admin = True
            with dangerously_all_tenants():
                return self.get_response(request)
        if user.is_authenticated:
            admin_tenants = selectors.tenants_where_user_has_role(user=user, roles=["tenant_admin"])
            if len(admin_tenants) == 1:
                return HttpResponseRedirect(f"/t/{admin_tenants[0].slug}/admin/")
            return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL)
        return self.get_response(request)
