from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("", views.create_order_view, name="create"),
    path("<int:pk>/", views.retrieve_order_view, name="detail"),
]
