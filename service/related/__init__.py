"""Related coverage: the relate job (embed, place in a story through stories/, link) and the
stored related links. Above stories/ (it reuses the story search), on similarity/ (scores)."""
