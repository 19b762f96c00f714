import pytest

from service.errors import BadRequest
from service.route_params import prefer_wait


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


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("wait=999999999", 60),  # nine digits: still a number of seconds, clipped
        ("wait=0000000000005", 5),  # leading zeros are not digits of the number
    ],
)
def test_a_large_but_sane_wait_still_clips(header, seconds):
    assert prefer_wait(header) == seconds


@pytest.mark.parametrize(
    "header", ["wait=1000000000", "wait=" + "9" * 5000, 'respond-async, wait="' + "1" * 20 + '"']
)
def test_a_wait_too_long_to_be_seconds_is_a_400_naming_the_header(header):
    with pytest.raises(BadRequest) as raised:
        prefer_wait(header)
    problem = raised.value.to_problem()
    assert problem.status == 400 and problem.reason == "bad_header"
    assert problem.errors is not None and problem.errors[0].key == "Prefer"
    assert problem.errors[0].source == "header"
