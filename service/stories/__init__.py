"""Stories: signals from any number of outlets that report one event. The rule
(``matching.py``), the candidates a new signal is compared with (``candidates.py``), placing
it under the story lock (``placement.py``) and the stories API; imports nothing of related/."""
