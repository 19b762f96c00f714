-- Webhook history is kept for SIGNALS_WEBHOOK_RETENTION_DAYS, then pruned in batches by the
-- workers (service/webhooks/retention.py). Never edit this file once released: add a new
-- numbered migration instead.

-- Prune walks messages oldest first.
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);
-- Deleting a message cascades to its deliveries, and a delivery to the redeliveries that
-- point at it (SET NULL): without these, each deleted row scans the deliveries table.
CREATE INDEX webhook_deliveries_message_idx ON webhook_deliveries (message_id);
CREATE INDEX webhook_deliveries_redelivery_idx ON webhook_deliveries (redelivery_of)
    WHERE redelivery_of IS NOT NULL;
