"""Push notifications: the transactional outbox and the channels that deliver it."""
