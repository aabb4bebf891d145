"""Notifications publish no outbox events. Live (pub/sub) events they send to a user:"""

NOTIFICATION_CREATED = "notification.created"
