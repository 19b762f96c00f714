"""Ingestion: fetching pages, extracting articles, canonical URLs."""
