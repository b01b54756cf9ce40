"""Nurture campaigns: what to send whom and when, as pure functions over plain data."""
