"""Alerting: Sentry's webhooks in, alerts out to Slack, PagerDuty and e-mail (docs/alerting.md)."""
