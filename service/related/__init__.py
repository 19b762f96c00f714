"""Related coverage: embeddings, scored links between signals, and the relate job."""
