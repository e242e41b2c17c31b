"""Forms of the partners pages. Querysets are set per request (the tenant is known then)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from partners import selectors
from partners.models import Membership, Partner, User
from partners.permissions import membership_permissions
from partners.roles import PARTNER_ROLES, Role, invitable_roles


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"))
    partner = forms.ModelChoiceField(
        label=_("Partner organization"), queryset=Partner.objects.none(), required=False
    )

    def __init__(self, *args, actor: Membership, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        roles = invitable_roles(actor.role, set(membership_permissions(actor)))
        self.fields["role"].choices = [(r, Role(r).label) for r in roles]
        if actor.is_partner_member:
            del self.fields["partner"]
        else:
            # Channel managers: the partners assigned to them; tenant admins: every partner.
            self.fields["partner"].queryset = selectors.partner_list(actor=actor).select_related(
                None
            )
            self.fields["partner"].help_text = _("Required for partner roles.")

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        if "partner" in self.fields and role:
            if role in PARTNER_ROLES and not cleaned.get("partner"):
                self.add_error("partner", _("Choose the partner organization for a partner role."))
            if role not in PARTNER_ROLES and cleaned.get("partner"):
                self.add_error("partner", _("Vendor staff do not belong to a partner."))
        return cleaned

    def service_kwargs(self) -> dict:
        return {
            "email": self.cleaned_data["email"],
            "role": self.cleaned_data["role"],
            "partner": self.cleaned_data.get("partner"),
        }


class MembershipForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args, actor: Membership, instance_membership: Membership, **kwargs):
        kwargs.setdefault(
            "initial",
            {"role": instance_membership.role, "is_active": instance_membership.is_active},
        )
        super().__init__(*args, **kwargs)
        if instance_membership.is_partner_member:
            roles = [Role.PARTNER_ADMIN, Role.PARTNER_REP]
        else:
            roles = [r for r in Role if r not in PARTNER_ROLES]
        self.fields["role"].choices = [(r.value, r.label) for r in roles]


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=200)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, needs_password: bool, email: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email = email
        if not needs_password:
            for name in ("full_name", "password1", "password2"):
                del self.fields[name]

    def clean(self):
        cleaned = super().clean()
        if "password1" in self.fields:
            one, two = cleaned.get("password1"), cleaned.get("password2")
            if one and two and one != two:
                self.add_error("password2", _("The two passwords differ."))
            elif one:
                # An unsaved user, so the similarity check compares with the name and email.
                invitee = User(email=self.email, full_name=cleaned.get("full_name", ""))
                try:
                    password_validation.validate_password(one, invitee)
                except forms.ValidationError as exc:
                    self.add_error("password1", exc)
        return cleaned


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)
