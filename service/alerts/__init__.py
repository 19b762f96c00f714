"""Alerts: saved searches, the matcher that percolates new signals through them, and what a
match sends (an ``alert.matched`` webhook event) and shows (the alert's matches and feed)."""
