from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("{{ cookiecutter.project_slug }}.monitoring.urls")),
    path("orders/", include("{{ cookiecutter.project_slug }}.orders.urls")),
    path("admin/", admin.site.urls),
]
