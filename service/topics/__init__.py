"""Topics, in two layers.

The vocabulary, below ``signals/`` (the write path files every new signal under it, keys
restrict by it): ``taxonomy.py`` (labels and names into stable keys), ``slugs.py`` (topic ids
from the model's labels and from a reader's slugs), ``repository.py``, ``cache.py``,
``visibility.py``. The topics API, above ``signals/`` with ``entities/`` (it lists a topic's
signals): ``service.py`` (counts and trends over time, one topic and its timeline, merging
synonyms) and ``routes.py``.
"""
