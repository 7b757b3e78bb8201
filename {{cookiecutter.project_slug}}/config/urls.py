from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("{{ cookiecutter.project_slug }}.monitoring.urls")),
{%- if cookiecutter.use_sentry == "y" %}
    path("", include("{{ cookiecutter.project_slug }}.alerting.urls")),
{%- endif %}
    path("orders/", include("{{ cookiecutter.project_slug }}.orders.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
