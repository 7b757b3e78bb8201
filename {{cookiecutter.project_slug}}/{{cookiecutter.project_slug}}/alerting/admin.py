"""The outbox in the admin, read-only: the first question in an incident is "did it page?"."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import AlertRecord, Delivery


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("channel", "status", "attempts", "due_at", "sent_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: AlertRecord | None = None) -> bool:
        return False


@admin.register(AlertRecord)
class AlertRecordAdmin(admin.ModelAdmin):
    list_display = ("received_at", "severity", "title", "source", "outcome")
    list_filter = ("severity", "source", "deliveries__status", "deliveries__channel")
    search_fields = ("title", "alert_id", "fingerprint")
    date_hierarchy = "received_at"
    inlines = [DeliveryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AlertRecord]:
        return super().get_queryset(request).prefetch_related("deliveries")

    @admin.display(description="deliveries")
    def outcome(self, record: AlertRecord) -> str:
        """Each channel and how far it got, e.g. "pagerduty: sent, slack: failed"."""
        parts = [f"{item.channel}: {item.status}" for item in record.deliveries.all()]
        return ", ".join(parts) or "no channel"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AlertRecord | None = None) -> bool:
        return False
