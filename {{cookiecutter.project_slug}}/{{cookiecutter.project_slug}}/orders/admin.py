from django.contrib import admin

from .models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "amount", "currency", "status", "created_at", "processed_at")
    list_filter = ("status", "currency")
