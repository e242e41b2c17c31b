"""Pages of the partners app: home, the staff console and partner portal homes, people,
invitations, API tokens, accounts, health. Thin: parse, call a service or selector, render."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from partners import selectors, services
from partners.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    InvitationForm,
    MembershipForm,
)
from partners.permissions import membership_permissions


def tenant_view(perm: str | None = None) -> Callable:
    """A page that exists only inside a tenant; ``perm`` is checked against the role (403)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if getattr(request, "membership", None) is None:
                raise Http404
            if perm and not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# ---------------------------------------------------------------- home and health


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    membership = getattr(request, "membership", None)
    if membership is not None:
        if membership.is_staff_member:
            return redirect("console:home")
        return redirect("portal:home")
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect("tenant-choose")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    from django.core.cache import cache

    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("trellis:healthz", "1", 5)
        checks["redis"] = "ok" if cache.get("trellis:healthz") == "1" else "error"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


@login_required
def tenant_choose(request: HttpRequest) -> HttpResponse:
    memberships = selectors.memberships_for_user(user=request.user)
    if len(memberships) == 1 and not request.GET.get("all"):
        return redirect(f"/t/{memberships[0].tenant.slug}/")
    return render(request, "accounts/tenant_choose.html", {"memberships": memberships})


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


# ---------------------------------------------------------------- console and portal


@tenant_view("partners.access_staff_console")
def console_home(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    context = {
        "partner_count": selectors.partner_list(actor=membership).count(),
        "people_count": selectors.membership_list(actor=membership).count(),
        "pending_invitations": [
            i for i in selectors.invitation_list(actor=membership)[:50] if i.state == "pending"
        ],
        "permissions": sorted(membership_permissions(membership)),
    }
    return render(request, "console/home.html", context)


@tenant_view("partners.access_partner_portal")
def portal_home(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    context = {
        "partner": membership.partner,
        "colleagues": selectors.membership_list(actor=membership),
        "permissions": sorted(membership_permissions(membership)),
    }
    return render(request, "portal/home.html", context)


# ---------------------------------------------------------------- people and invitations


def _can_invite(request: HttpRequest) -> bool:
    return request.user.has_perm("partners.invite_staff") or request.user.has_perm(
        "partners.invite_partner_user"
    )


@tenant_view("partners.view_membership")
def people_list(request: HttpRequest) -> HttpResponse:
    actor = request.membership
    invitations = selectors.invitation_list(actor=actor) if _can_invite(request) else []
    return render(
        request,
        "people/list.html",
        {
            "memberships": selectors.membership_list(actor=actor),
            "invitations": invitations,
            "can_invite": _can_invite(request),
            "can_manage": request.user.has_perm("partners.change_membership")
            or (actor.is_partner_member and request.user.has_perm("partners.invite_partner_user")),
        },
    )


@tenant_view()
def invitation_create(request: HttpRequest) -> HttpResponse:
    if not _can_invite(request):
        raise PermissionDenied
    actor = request.membership
    form = InvitationForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.invitation_create(actor=actor, **form.service_kwargs())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s.") % {"email": issued.invitation.email},
            )
            return redirect("people:list")
    return render(request, "people/invite.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
@tenant_view()
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(selectors.invitation_list(actor=request.membership), pk=pk)
    try:
        services.invitation_revoke(actor=request.membership, invitation=invitation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect("people:list")


@tenant_view()
def membership_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.membership
    membership = get_object_or_404(selectors.membership_list(actor=actor), pk=pk)
    form = MembershipForm(request.POST or None, actor=actor, instance_membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(actor=actor, membership=membership, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("people:list")
    return render(
        request,
        "people/edit.html",
        {"form": form, "subject": membership},
        status=400 if form.errors else 200,
    )


# ---------------------------------------------------------------- API tokens


@tenant_view()
def api_tokens(request: HttpRequest) -> HttpResponse:
    actor = request.membership
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        issued = services.api_token_issue(actor=actor, name=form.cleaned_data["name"])
        new_key = issued.key
    return render(
        request,
        "people/tokens.html",
        {
            "form": form,
            "tokens": selectors.api_token_list(actor=actor),
            "new_key": new_key,
            "api_base": reverse("api-root"),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@tenant_view()
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(selectors.api_token_list(actor=request.membership), pk=pk)
    services.api_token_revoke(actor=request.membership, token=token)
    messages.success(request, _("Token revoked."))
    return redirect("people:tokens")


# ---------------------------------------------------------------- accepting an invitation


@never_cache
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_by_token(token)
    if invitation is None:
        raise Http404
    if invitation.state != "pending":
        return render(
            request, "accounts/invitation_invalid.html", {"invitation": invitation}, status=410
        )
    signed_in = request.user if request.user.is_authenticated else None
    existing_account = signed_in is None and selectors.user_exists(email=invitation.email)
    form = AcceptInvitationForm(request.POST or None, needs_password=signed_in is None)
    if request.method == "POST" and not existing_account and form.is_valid():
        try:
            membership = services.invitation_accept(
                invitation=invitation,
                user=signed_in,
                full_name=form.cleaned_data.get("full_name", ""),
                password=form.cleaned_data.get("password1", ""),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if signed_in is None:
                login(request, membership.user, backend="partners.permissions.MembershipBackend")
            messages.success(
                request, _("Welcome to %(tenant)s.") % {"tenant": invitation.tenant.name}
            )
            return redirect(f"/t/{invitation.tenant.slug}/")
    return render(
        request,
        "accounts/invitation_accept.html",
        {
            "invitation": invitation,
            "form": form,
            "existing_account": existing_account,
            "signed_in": signed_in,
        },
        status=400 if form.errors else 200,
    )
