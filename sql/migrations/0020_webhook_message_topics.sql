-- Webhook endpoints are owned by the key that created them, and every attempt (a retry can
-- come hours after the fan-out) checks that key's topic restriction as it is then. A message
-- therefore keeps the topics of the event it announces. Never edit this file once released:
-- add a new numbered migration instead.

-- The event's topics ('{}': none, e.g. a general briefing). NULL: a message stored before
-- this migration, whose attempts check the key's revocation but not its topics.
ALTER TABLE webhook_messages ADD COLUMN topic_ids bigint[];
