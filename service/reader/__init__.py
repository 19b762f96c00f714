"""Reader pages: server-rendered HTML of signals, topics, stories and briefings."""
