"""Events messaging publishes (names from ARCHITECTURE.md).

``message.sent`` data: ``{message_id, conversation_id, sender_id, sender_name,
recipient_ids, preview}`` (``preview``: the text, whitespace folded, at most 200 chars).

Live events (Redis pub/sub, per user, see ``fitsync.kernel.live``): ``message.sent``,
``message.updated``, ``message.deleted`` (data: the message) and ``conversation.read``
(data: ``{conversation_id, user_id, up_to, read_at}``).
"""

MESSAGE_SENT = "message.sent"
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
CONVERSATION_READ = "conversation.read"
