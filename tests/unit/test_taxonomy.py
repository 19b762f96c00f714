from service.signals.taxonomy import entity_key, normalize_entities, normalize_topics, topic_slug


def test_slugs_are_lowercase_hyphenated_and_stable():
    assert topic_slug("AI Infrastructure") == "ai-infrastructure"
    assert topic_slug("  ai   infrastructure ") == "ai-infrastructure"
    assert topic_slug("AI/Infrastructure!") == "ai-infrastructure"
    assert topic_slug("Énergie & Climat") == "energie-and-climat"


def test_normalize_topics_drops_duplicates_and_empty_and_caps():
    pairs = normalize_topics(["AI infrastructure", "ai-infrastructure", "!!!", "Energy", "A", "B", "C", "D"])
    assert pairs == [
        ("ai-infrastructure", "AI infrastructure"),
        ("energy", "Energy"),
        ("a", "A"),
        ("b", "B"),
        ("c", "C"),
    ]


def test_entity_keys_fold_case_and_space():
    assert entity_key("  OpenAI ") == entity_key("openai")
    triples = normalize_entities(
        [("OpenAI", "organization"), ("openai", "organization"), ("OpenAI", "product")]
    )
    assert triples == [("OpenAI", "organization", "openai"), ("OpenAI", "product", "openai")]
