"""The partner portal's company profile: every partner user reads their own organization's
profile; its partner admins edit the fields of ``services.PARTNER_PROFILE_FIELDS``.

There is no partner id in these URLs: the organization is always the acting member's own,
fetched through ``selectors.partner_list`` (a partner user's list is their organization)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from partners import selectors, services
from partners.forms_profile import PartnerProfileForm
from partners.models import Partner
from partners.views import _apply_errors, _form_data, tenant_view


def _own_partner(request: HttpRequest) -> Partner:
    membership = request.membership
    if not membership.is_partner_member:  # staff hold no portal permission; belt and braces
        raise PermissionDenied
    partner = selectors.partner_list(actor=membership).first()
    if partner is None:
        raise Http404
    return partner


@tenant_view("partners.access_partner_portal")
def profile_detail(request: HttpRequest) -> HttpResponse:
    partner = _own_partner(request)
    return render(
        request,
        "partners/profile/detail.html",
        {
            "partner": partner,
            "managers": selectors.partner_managers(partner_ids=[partner.pk])[partner.pk],
            "can_edit": request.user.has_perm("partners.change_partner_profile"),
        },
    )


@tenant_view("partners.change_partner_profile")
def profile_edit(request: HttpRequest) -> HttpResponse:
    partner = _own_partner(request)
    form = PartnerProfileForm(_form_data(request), partner=partner)
    if request.method == "POST" and form.is_valid():
        try:
            services.partner_update(
                actor=request.membership, partner=partner, **form.service_kwargs()
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Company profile saved."))
            return redirect("profile:detail")
    return render(
        request,
        "partners/profile/edit.html",
        {"form": form, "partner": partner},
        status=400 if form.errors else 200,
    )
