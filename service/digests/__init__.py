"""Briefings (digests): a day's or a week's signals, selected, ranked and written up."""
