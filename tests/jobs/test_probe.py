import pytest
from tests.factories import TenantFactory, PartnerFactory

@pytest.mark.django_db(transaction=True)
def test_probe():
    t = TenantFactory(slug="p1")
    PartnerFactory(tenant=t)

@pytest.mark.django_db(transaction=True)
def test_probe2():
    from django.contrib.auth.models import Group
    assert Group.objects.count() == 7
