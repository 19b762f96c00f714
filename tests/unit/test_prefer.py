import pytest

from service.signals.routes import prefer_wait


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 0),
        ("", 0),
        ("wait=10", 10),
        ("respond-async, wait=5", 5),
        ('handling=lenient; wait="7"', 7),
        ("WAIT=3", 3),
        ("wait=600", 60),  # clipped to the documented maximum
        ("wait=abc", 0),
        ("nowait=5", 0),
    ],
)
def test_prefer_wait_is_parsed_and_clipped(header, seconds):
    assert prefer_wait(header) == seconds
