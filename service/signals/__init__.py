"""Signals: submission, the pipeline that makes them, and reading them back."""
