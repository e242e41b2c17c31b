"""placeholder filled by this session's work"""

urlpatterns: list = []
