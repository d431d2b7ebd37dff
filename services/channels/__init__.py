"""A dedicated Teams channel for big incidents (`channels.dedicated_for` in BEACON_CONFIG)."""
