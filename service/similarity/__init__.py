"""How alike two signals are: the compared features, link scores and wording. Pure code, no
I/O, importing nothing of the service: story placement (stories/) and related coverage
(related/) both build on it."""
