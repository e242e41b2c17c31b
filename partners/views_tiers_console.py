"""The staff console's tier approval queue (``/console/tiers/proposals/``).

When a tenant wants tier changes approved (``partners.tiers.changes_need_approval``), the
tier engine keeps one pending ``TierProposal`` per partner; channel managers decide the ones
of the partners assigned to them, tenant admins every one. Deciding is
``partners.tier_engine.tier_proposal_decide``: approving applies the change (and writes the
``TierChange``), rejecting needs a note. Thin: parse a form, call the engine, render.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from partners import metrics, selectors
from partners.tier_engine import tier_proposal_decide
from partners.tiers import TierProposal, TierProposalStatus, changes_need_approval
from partners.views import tenant_view

DECIDE = "partners.decide_tier_proposal"
PAGE_SIZE = 25
RECENT_DECISIONS = 20


class RejectProposalForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Why is it rejected?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": gettext_lazy("Say why the change is rejected.")},
    )

    def __init__(self, *args, proposal_id: int | None = None, **kwargs) -> None:
        # Unique element ids: one reject form per row of the queue.
        kwargs.setdefault("auto_id", f"id_reject_{proposal_id}_%s" if proposal_id else "id_%s")
        super().__init__(*args, **kwargs)


class ProposalIdsField(forms.Field):
    """The ticked proposals of the bulk approval: ids, at least one."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": gettext_lazy("Select at least one proposal to approve."),
        "invalid": gettext_lazy("Not a proposal of the queue."),
    }

    def to_python(self, value):
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            ids = sorted({int(v) for v in values})
        except (TypeError, ValueError) as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        if len(ids) > 500 or any(i <= 0 for i in ids):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return ids


class BulkApproveForm(forms.Form):
    proposal_ids = ProposalIdsField(label=gettext_lazy("Proposals"))


@dataclass
class MetricValue:
    label: str
    value: str | None
    unit: str


@dataclass
class ProposalRow:
    proposal: TierProposal
    values: list[MetricValue]
    warnings: list[str]
    reject_form: RejectProposalForm


def _metric_values(proposal: TierProposal) -> tuple[list[MetricValue], list[str]]:
    stored = proposal.metrics or {}
    values = []
    for key, value in sorted((stored.get("values") or {}).items()):
        metric = metrics.get(key)
        values.append(
            MetricValue(
                label=str(metric.label) if metric else key,
                value=value,
                unit=metric.unit if metric else "",
            )
        )
    return values, list(stored.get("warnings") or [])


def _row(proposal: TierProposal, reject_form: RejectProposalForm | None = None) -> ProposalRow:
    values, warnings = _metric_values(proposal)
    return ProposalRow(
        proposal=proposal,
        values=values,
        warnings=warnings,
        reject_form=reject_form or RejectProposalForm(proposal_id=proposal.pk),
    )


def _queue_response(
    request: HttpRequest,
    *,
    reject_forms: dict[int, RejectProposalForm] | None = None,
    bulk_form: BulkApproveForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = request.membership
    reject_forms = reject_forms or {}
    queue = selectors.tier_proposal_queue(actor=actor)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_row(p, reject_forms.get(p.pk)) for p in page.object_list]
    decided = (
        selectors.tier_proposal_list(actor=actor)
        .exclude(status=TierProposalStatus.PENDING)
        .order_by("-decided_at", "-id")[:RECENT_DECISIONS]
    )
    context = {
        "page": page,
        "rows": rows,
        "decided": decided,
        "bulk_form": bulk_form or BulkApproveForm(),
        "errors": errors or [],
        "approval_on": changes_need_approval(request.tenant),
    }
    return render(request, "partners/tiers/proposals.html", context, status=status)


def _proposal_or_404(request: HttpRequest, pk: int) -> TierProposal:
    """A proposal of a partner the actor may see, by (tenant, id); otherwise a 404."""
    return get_object_or_404(selectors.tier_proposal_list(actor=request.membership), pk=pk)


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """The engine's refusal on the form: field errors on their field, the rest on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@tenant_view(DECIDE)
@require_GET
def proposal_queue(request: HttpRequest) -> HttpResponse:
    return _queue_response(request)


@tenant_view(DECIDE)
@require_POST
def proposal_approve(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _proposal_or_404(request, pk)
    try:
        tier_proposal_decide(actor=request.membership, proposal=proposal, approve=True)
    except ValidationError as exc:
        return _queue_response(request, errors=list(exc.messages), status=400)
    messages.success(
        request,
        _("Approved: %(partner)s is now %(tier)s.")
        % {
            "partner": proposal.partner.name,
            "tier": proposal.to_tier.name if proposal.to_tier else _("without a tier"),
        },
    )
    return redirect("tiers_console:proposals")


@tenant_view(DECIDE)
@require_POST
def proposal_reject(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _proposal_or_404(request, pk)
    form = RejectProposalForm(request.POST, proposal_id=proposal.pk)
    if not form.is_valid():
        return _queue_response(request, reject_forms={proposal.pk: form}, status=400)
    try:
        tier_proposal_decide(
            actor=request.membership,
            proposal=proposal,
            approve=False,
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        _apply_errors(form, exc)
        return _queue_response(
            request,
            reject_forms={proposal.pk: form},
            errors=form.non_field_errors(),
            status=400,
        )
    messages.success(
        request,
        _("Rejected the change of %(partner)s; it is not proposed again while the metrics "
          "lead to the same conclusion.") % {"partner": proposal.partner.name},
    )  # fmt: skip
    return redirect("tiers_console:proposals")


@tenant_view(DECIDE)
@require_POST
def proposal_bulk_approve(request: HttpRequest) -> HttpResponse:
    form = BulkApproveForm(request.POST)
    if not form.is_valid():
        return _queue_response(request, bulk_form=form, status=400)
    ids = form.cleaned_data["proposal_ids"]
    proposals = list(selectors.tier_proposal_queue(actor=request.membership).filter(pk__in=ids))
    if len(proposals) != len(ids):
        # Another tenant's, another manager's, or decided meanwhile: approve none of them.
        form.add_error(
            "proposal_ids",
            _(
                "Some of the selected proposals no longer wait for your decision. "
                "Reload the queue and select again."
            ),
        )
        return _queue_response(request, bulk_form=form, status=400)
    approved, refused = 0, []
    for proposal in proposals:
        try:
            with transaction.atomic():
                tier_proposal_decide(actor=request.membership, proposal=proposal, approve=True)
        except ValidationError as exc:
            refused.append(f"{proposal.partner.name}: {' '.join(exc.messages)}")
        else:
            approved += 1
    if approved:
        messages.success(
            request,
            ngettext("Approved %(count)d tier change.", "Approved %(count)d tier changes.",
                     approved) % {"count": approved},
        )  # fmt: skip
    for message in refused:
        messages.warning(request, message)
    return redirect("tiers_console:proposals")
