from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Example app: shows a model, a JSON view and a Celery task wired together."""

    name = "{{ cookiecutter.project_slug }}.orders"
    verbose_name = "Orders"
