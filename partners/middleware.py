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
import time

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError, connection
from django.db.backends.signals import connection_created
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
        if len(key) <= MAX_KEY_LENGTH:
            key_hash = selectors.hash_secret(key)
            ids = _known_token_ids(key, key_hash)
            if ids is not None:
                response = self._known_token_request(request, key_hash, ids, tenant)
                if response is not None:
                    return response
                # Revoked, deactivated, another tenant's or stale: the slow path decides.
        token = selectors.api_token_by_key(key)
        if token is None:
            return _json_error(401, "authentication_failed", _("Invalid or revoked token."))
        if tenant is not None and token.tenant_id != tenant.pk:
            return _json_error(
                401, "authentication_failed", _("This token does not belong to this tenant.")
            )
        _remember_token(token)
        with tenant_context(token.tenant):
            return self._as_token(request, token)

    def _known_token_request(
        self, request: HttpRequest, key_hash: str, ids: dict, tenant: Tenant | None
    ) -> HttpResponse | None:
        """The fast path: the key's ids are known, so the request enters the token's tenant
        at once and reloads the token, membership, user, partner and tenant by primary key
        in one query there (revocation and deactivation count at once). None: slow path."""
        tenant_id = ids.get("tenant_id")
        if tenant is not None and tenant.pk != tenant_id:
            return None
        entered = tenant or _known_tenant(tenant_id)
        if entered is None:
            return None
        for _attempt in range(2):
            try:
                with tenant_context(entered):
                    token = _live_token(key_hash, ids, entered)
                    if token is not None:
                        return self._as_token(request, token)
                    return None
            except _PreparedTokenFailed:
                continue  # rolled back; again, with plain SQL
        return None

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


# ---------------------------------------------------------------- the token fast path
#
# Every API request authenticates, so this path is the fixed cost of the API. Two process-
# local maps spare it round trips and ORM work; neither grants anything by itself:
#
# - key hash -> ids (token, membership, tenant, user): they never change for a key (the hash
#   is unique), and Redis holds the same entry for the other processes;
# - tenant id -> the tenant row as last read: only the tenant to enter, checked against the
#   row the token query reads inside that tenant's transaction (a changed or deactivated
#   tenant sends the request down the slow path, which reads everything afresh).
#
# The token query itself is SQL written once from the models' fields (the ORM would compile
# the same five-table join again on every request).

MAX_KEY_LENGTH = 200
_IDS_SECONDS = selectors.API_TOKEN_CACHE_SECONDS
_TENANT_SECONDS = 300
_MAX_ENTRIES = 10_000
_token_ids: dict[str, tuple[dict, float]] = {}
_tenant_rows: dict[int, tuple[tuple, float]] = {}


def _remember(store: dict, key, value, seconds: float) -> None:
    if len(store) >= _MAX_ENTRIES:
        store.clear()
    store[key] = (value, time.monotonic() + seconds)


def _recall(store: dict, key):
    entry = store.get(key)
    if entry is None:
        return None
    if entry[1] < time.monotonic():
        store.pop(key, None)
        return None
    return entry[0]


def _known_token_ids(key: str, key_hash: str) -> dict | None:
    ids = _recall(_token_ids, key_hash)
    if ids is None:
        ids = selectors.api_token_ids_by_key(key)
        if ids is not None:
            _remember(_token_ids, key_hash, ids, _IDS_SECONDS)
    return ids


def _remember_token(token) -> None:
    """After the slow path found a live token: its ids and its tenant's row."""
    ids = {
        "token_id": token.pk,
        "membership_id": token.membership_id,
        "tenant_id": token.tenant_id,
        "user_id": token.membership.user_id,
    }
    _remember(_token_ids, token.key_hash, ids, _IDS_SECONDS)
    _remember(_tenant_rows, token.tenant_id, _Row.of(Tenant).values(token.tenant), _TENANT_SECONDS)


def _known_tenant(tenant_id) -> Tenant | None:
    """The tenant to enter: a new instance of the row last read, else read now."""
    values = _recall(_tenant_rows, tenant_id)
    if values is not None:
        return _Row.of(Tenant).instance(values)
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is not None:
        _remember(_tenant_rows, tenant.pk, _Row.of(Tenant).values(tenant), _TENANT_SECONDS)
    return tenant


class _Row:
    """A model's columns in a hand-written SELECT, and instances built from them the way
    the ORM builds them (``from_db`` after the fields' converters)."""

    _cache: dict = {}

    def __init__(self, model) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.converters = [
            (index, field.from_db_value, field)
            for index, field in enumerate(self.fields)
            if hasattr(field, "from_db_value")
        ]

    @classmethod
    def of(cls, model) -> _Row:
        row = cls._cache.get(model)
        if row is None:
            row = cls._cache[model] = cls(model)
        return row

    def select(self, alias: str) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)

    def convert(self, values) -> tuple:
        values = list(values)
        for index, converter, field in self.converters:
            values[index] = converter(values[index], field, connection)
        return tuple(values)

    def instance(self, values):
        return self.model.from_db(connection.alias, self.attnames, values)

    def values(self, obj) -> tuple:
        return tuple(getattr(obj, name) for name in self.attnames)


_TOKEN_SQL: str | None = None


def _token_sql() -> str:
    global _TOKEN_SQL
    if _TOKEN_SQL is None:
        from partners.models import ApiToken, Membership, Partner, User

        quote = connection.ops.quote_name
        models_ = (ApiToken, Membership, User, Partner, Tenant)
        table = {model: quote(model._meta.db_table) for model in models_}
        columns = ", ".join(
            _Row.of(model).select(alias) for model, alias in zip(models_, "tmupn", strict=True)
        )
        # The explicit tenant ids are the plan; row-level security (the tenant is set) the net.
        _TOKEN_SQL = (
            f"SELECT {columns} FROM {table[ApiToken]} t"
            f" JOIN {table[Membership]} m ON m.id = t.membership_id"
            f" JOIN {table[User]} u ON u.id = m.user_id"
            f" JOIN {table[Tenant]} n ON n.id = t.tenant_id"
            f" LEFT JOIN {table[Partner]} p ON p.id = m.partner_id AND p.tenant_id = t.tenant_id"
            " WHERE t.id = %(token)s AND t.tenant_id = %(tenant)s AND t.key_hash = %(hash)s"
            " AND t.membership_id = %(membership)s AND t.revoked_at IS NULL"
            " AND m.tenant_id = %(tenant)s AND m.user_id = %(user)s AND m.is_active"
            " AND u.is_active"
        )
    return _TOKEN_SQL


# The token query is a prepared statement of each connection (PREPARE with its first use):
# PostgreSQL then plans it once instead of on every request (0.3 ms of its 0.4 ms). A failure
# of the prepared path (a pooler that drops session state, a schema changed under a live
# connection) switches the connection to plain SQL and the request is served again.
_STATEMENT = "trellis_live_token"
_PARAMS = ("token", "tenant", "hash", "membership", "user")
_READY, _OFF = "ready", "off"


class _PreparedTokenFailed(Exception):
    """The prepared token query failed; its transaction is lost, the connection uses plain
    SQL from now on."""


def _forget_prepared(sender, connection, **kwargs) -> None:
    connection.trellis_token_statement = None  # a new session has no prepared statements


connection_created.connect(_forget_prepared, dispatch_uid="trellis_token_statement")


def _token_row(params: dict) -> tuple | None:
    state = getattr(connection, "trellis_token_statement", None)
    with connection.cursor() as cursor:
        # psycopg 3 binds parameters on the server, where one call cannot send two statements.
        if state == _OFF or connection.Database.__name__ != "psycopg2":
            cursor.execute(_token_sql(), params)
            return cursor.fetchone()
        arguments = ", ".join(f"%({name})s" for name in _PARAMS)
        sql = f"EXECUTE {_STATEMENT}({arguments})"
        if state != _READY:
            body = _token_sql()
            for number, name in enumerate(_PARAMS, start=1):
                body = body.replace(f"%({name})s", f"${number}")
            sql = f"PREPARE {_STATEMENT} AS {body}; {sql}"
        try:
            cursor.execute(sql, params)
        except DatabaseError as exc:
            connection.trellis_token_statement = _OFF
            raise _PreparedTokenFailed from exc
        connection.trellis_token_statement = _READY
        return cursor.fetchone()


def _live_token(key_hash: str, ids: dict, tenant: Tenant):
    """The live token behind known ids, in the current tenant (one query), with its
    membership, user and partner; None if revoked, deactivated, stale, or if the tenant row
    is no longer the one entered (changed or deactivated since)."""
    from partners.models import ApiToken, Membership, Partner, User

    params = {
        "token": ids.get("token_id"),
        "tenant": tenant.pk,
        "hash": key_hash,
        "membership": ids.get("membership_id"),
        "user": ids.get("user_id"),
    }
    row = _token_row(params)
    if row is None:
        return None
    parts = []
    start = 0
    for model in (ApiToken, Membership, User, Partner, Tenant):
        loader = _Row.of(model)
        end = start + len(loader.fields)
        parts.append(loader.convert(row[start:end]))
        start = end
    token_values, membership_values, user_values, partner_values, tenant_values = parts
    if tenant_values != _Row.of(Tenant).values(tenant) or not tenant.is_active:
        _tenant_rows.pop(tenant.pk, None)
        return None
    token = _Row.of(ApiToken).instance(token_values)
    membership = _Row.of(Membership).instance(membership_values)
    if membership.partner_id is not None and partner_values[0] != membership.partner_id:
        return None  # a partner this tenant cannot see: let the slow path refuse it
    membership.user = _Row.of(User).instance(user_values)
    if membership.partner_id is not None:
        membership.partner = _Row.of(Partner).instance(partner_values)
    membership.tenant = tenant
    token.membership = membership
    token.tenant = tenant
    return token
