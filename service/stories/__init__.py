"""Stories: signals from any number of outlets that report one event."""
