"""Webhooks: endpoints, the event outbox and its dispatcher, signed deliveries with retries."""
