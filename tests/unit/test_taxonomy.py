from service.topics.taxonomy import entity_key, normalize_entities, normalize_topics, topic_slug


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


def test_synonyms_merge_abbreviations_plurals_and_and():
    from service.topics.taxonomy import is_synonym

    assert is_synonym("ai-infra", "ai-infrastructure")
    assert is_synonym("data-centers", "data-center")
    assert is_synonym("energy-policies", "energy-policy")
    assert is_synonym("research-development", "research-and-development")
    assert is_synonym("chips", "chip")


def test_unrelated_topics_do_not_merge():
    from service.topics.taxonomy import is_synonym, synonym_target

    assert not is_synonym("car-industry", "cargo-industry")  # 3-letter prefix is too short
    assert not is_synonym("infra", "infrastructure")  # single words merge on plural only
    assert not is_synonym("tech-infra", "technology-infrastructure")  # no token spelled alike
    assert not is_synonym("ai", "ai-infrastructure")
    assert not is_synonym("space-policy", "energy-policy")
    assert synonym_target("econ-policy", ["economic-policy", "economy-policy"]) is None  # ambiguous
    assert synonym_target("ai-infra", ["ai-infrastructure", "ai-safety"]) == "ai-infrastructure"
