"""Alerts: rules evaluated on the health store after each scoring publish, and their delivery.

* :mod:`~vitals.serving.alerts.rules`: evaluating rules on scored history (pure);
* :mod:`~vitals.serving.alerts.raise_alerts`: reading the store, explaining and storing alerts;
* :mod:`~vitals.serving.alerts.records`: stored alerts, listed and acknowledged;
* :mod:`~vitals.serving.alerts.webhooks`: signed, retried delivery to the configured webhooks.

The modules are imported one by one: the API imports the records, and raising alerts reuses the
API's explanation of a score change.
"""
