from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "deals"
    verbose_name = _("Deal registration")

    def ready(self) -> None:
        from partners import navigation

        # Partner portal
        navigation.register(
            _("My deals"), "deals_portal:list", "deals.register_deal",
            after="portal:home", capability=_("Register deals and follow them to closure"),
        )  # fmt: skip
        # Staff console
        navigation.register(
            _("Review queue"), "deals_console:queue", "deals.review_deal",
            after="console:home", capability=_("Review deal registrations and conflicts"),
        )  # fmt: skip
        navigation.register(
            _("Deals"), "deals_console:list", "deals.view_deal",
            after="deals_console:queue", capability=_("See every deal of the program"),
        )  # fmt: skip
