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
        # Notifications: partners hear about decisions, reviewers about work waiting for them.
        from deals.notifications import register_handlers

        register_handlers()
        # Leads: staff create, import and route them; partners answer the offers.
        navigation.register(
            _("Leads"), "leads:list", "deals.manage_lead",
            after="deals_console:list", capability=_("Create, import and route leads"),
        )  # fmt: skip
        navigation.register(
            _("Offered leads"), "leads:offered", "deals.respond_lead",
            after="deals_portal:list", capability=_("Accept or decline the leads offered to you"),
        )  # fmt: skip
        # Tier engine: the deal metrics tier criteria can use.
        from deals.metrics import register_metrics

        register_metrics()
        # The deals summary on the staff console's partner page.
        from deals.partner_panel import partner_deals_panel
        from partners import panels

        panels.register(partner_deals_panel)
