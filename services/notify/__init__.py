"""Notification channels to people outside Teams (SMS; email goes through Graph)."""
