"""Pages of the partners app: home, the staff console and partner portal homes, people,
invitations, API tokens, accounts, health. Thin: parse, call a service or selector, render."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from partners import notifications, selectors, services, tier_display
from partners.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    EmailAuthenticationForm,
    InvitationForm,
    MembershipForm,
)
from partners.navigation import capabilities_for, global_url
from partners.permissions import membership_permissions
from partners.roles import invitable_roles


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


def _form_data(request: HttpRequest):
    """POST data for a POST (even an empty one, so it is validated), else None (unbound)."""
    return request.POST if request.method == "POST" else None


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
    return render(
        request,
        "accounts/tenant_choose.html",
        {"memberships": memberships, "is_operator": request.user.is_superuser},
    )


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


# ---------------------------------------------------------------- console and portal


@tenant_view("partners.access_staff_console")
def console_home(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    permissions = membership_permissions(membership)
    context = {
        "partner_count": selectors.partner_list(actor=membership).count(),
        "people_count": selectors.membership_list(actor=membership).filter(is_active=True).count(),
        "can_see_invitations": "partners.view_invitation" in permissions,
        "capabilities": capabilities_for(permissions),
        "can_view_people": "partners.view_membership" in permissions,
        "can_invite": _can_invite(request),
        "can_use_admin": "partners.access_tenant_admin" in permissions,
    }
    if context["can_see_invitations"]:
        pending = selectors.pending_invitation_list(actor=membership)
        context["pending_invitations"] = pending[:10]
        context["pending_invitation_count"] = pending.count()
    return render(request, "console/home.html", context)


@tenant_view("partners.access_partner_portal")
def portal_home(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    permissions = membership_permissions(membership)
    partner = membership.partner
    currency = request.tenant.default_currency
    progress = selectors.partner_tier_progress(partner=partner)
    context = {
        "partner": partner,
        "colleagues": selectors.membership_list(actor=membership).filter(is_active=True),
        "capabilities": capabilities_for(permissions),
        "can_view_people": "partners.view_membership" in permissions,
        "can_invite": _can_invite(request),
        "progress": progress,
        "benefits": tier_display.tier_benefits(progress.tier, currency) if progress.tier else [],
        "criteria": tier_display.criterion_rows(progress, currency),
    }
    return render(request, "portal/home.html", context)


# ---------------------------------------------------------------- people and invitations


def _can_invite(request: HttpRequest) -> bool:
    return request.user.has_perm("partners.invite_staff") or request.user.has_perm(
        "partners.invite_partner_user"
    )


def _can_manage_people(request: HttpRequest) -> bool:
    """Change roles and (de)activate: the same rule as services.membership_update."""
    if request.membership.is_partner_member:
        return request.user.has_perm("partners.invite_partner_user")
    return request.user.has_perm("partners.change_membership")


@tenant_view("partners.view_membership")
def people_list(request: HttpRequest) -> HttpResponse:
    actor = request.membership
    permissions = membership_permissions(actor)
    can_invite = _can_invite(request)
    can_revoke = "partners.delete_invitation" in permissions
    return render(
        request,
        "people/list.html",
        {
            "memberships": selectors.membership_list(actor=actor),
            "invitations": selectors.pending_invitation_list(actor=actor) if can_invite else [],
            "can_invite": can_invite,
            "can_manage": _can_manage_people(request),
            "revocable_roles": invitable_roles(actor.role, set(permissions)) if can_revoke else [],
            "show_partner": actor.is_staff_member,
        },
    )


@tenant_view()
def invitation_create(request: HttpRequest) -> HttpResponse:
    if not _can_invite(request):
        raise PermissionDenied
    actor = request.membership
    # ?partner=<id> (the partner page's "Invite a partner user") preselects the organization.
    initial = {"partner": request.GET["partner"]} if request.GET.get("partner") else {}
    form = InvitationForm(_form_data(request), actor=actor, initial=initial)
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
    if not _can_manage_people(request):
        raise PermissionDenied
    actor = request.membership
    membership = get_object_or_404(selectors.membership_list(actor=actor), pk=pk)
    form = MembershipForm(_form_data(request), actor=actor, instance_membership=membership)
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
    form = ApiTokenForm(_form_data(request))
    issued = None
    if request.method == "POST" and form.is_valid():
        # The key is shown in this response only; only its hash is stored.
        issued = services.api_token_issue(actor=actor, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    return render(
        request,
        "people/tokens.html",
        {
            "form": form,
            "tokens": selectors.api_token_list(actor=actor),
            "issued": issued,
            "api_base": request.build_absolute_uri(global_url(request, "api-root")),
            "api_docs_url": global_url(request, "api-docs"),
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
    wrong_account = signed_in is not None and signed_in.email.lower() != invitation.email.lower()
    form = AcceptInvitationForm(
        _form_data(request), needs_password=signed_in is None, email=invitation.email
    )
    context = {
        "invitation": invitation,
        "form": form,
        "existing_account": existing_account,
        "wrong_account": wrong_account,
        "signed_in": signed_in,
        "login_url": f"{global_url(request, 'login')}?{urlencode({'next': request.path})}",
    }
    if request.method == "POST" and (existing_account or wrong_account):
        # The page says what to do instead (sign in first, or sign in as the invitee).
        return render(request, "accounts/invitation_accept.html", context, status=400)
    if request.method == "POST" and form.is_valid():
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
        context,
        status=400 if form.errors else 200,
    )


# ---------------------------------------------------------------- sign-in and password reset


class BadInputIs400:
    """Every form of the product answers bad input with its errors and status 400."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class LoginView(BadInputIs400, auth_views.LoginView):
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class PasswordResetView(BadInputIs400, auth_views.PasswordResetView):
    pass


class PasswordResetConfirmView(BadInputIs400, auth_views.PasswordResetConfirmView):
    pass


# ---------------------------------------------------------------- notifications

NOTIFICATIONS_PER_PAGE = 25


@tenant_view()
def notification_list(request: HttpRequest) -> HttpResponse:
    show = "unread" if request.GET.get("show") == "unread" else "all"
    rows = notifications.notification_list(actor=request.membership, unread_only=show == "unread")
    page = Paginator(rows, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page, "show": show})


@require_POST
@tenant_view()
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.membership
    notification = get_object_or_404(notifications.notification_list(actor=actor), pk=pk)
    notifications.mark_read(actor=actor, notification=notification)
    if request.htmx:
        # The row, read now, and the header's count swapped out of band.
        context = {"notification": notification, "oob": True}
        return render(request, "notifications/_item.html", context)
    return redirect("notifications:list")


@never_cache
@tenant_view()
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification's link; opening it reads it (only the reader's own row)."""
    actor = request.membership
    notification = get_object_or_404(notifications.notification_list(actor=actor), pk=pk)
    notifications.mark_read(actor=actor, notification=notification)
    if not notification.url:
        return redirect("notifications:list")
    return redirect(reverse("home") + notification.url)


@require_POST
@tenant_view()
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = notifications.mark_all_read(actor=request.membership)
    messages.success(
        request,
        ngettext(
            "Marked %(count)d notification read.", "Marked %(count)d notifications read.", count
        )
        % {"count": count},
    )
    return redirect("notifications:list")
