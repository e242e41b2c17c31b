"""System checks that keep tenant-owned models on the scoped manager."""

from django.apps import apps
from django.core import checks

from partners.tenancy import TenantManager, TenantModel


@checks.register(checks.Tags.models)
def tenant_models_use_scoped_manager(app_configs=None, **kwargs):
    errors = []
    for model in apps.get_models():
        if issubclass(model, TenantModel) and not isinstance(model._default_manager, TenantManager):
            errors.append(
                checks.Error(
                    f"{model._meta.label} is tenant-owned but its default manager is not "
                    "scoped to the tenant.",
                    hint="Keep `objects = TenantManager()` as the first manager.",
                    obj=model,
                    id="trellis.E001",
                )
            )
    return errors
