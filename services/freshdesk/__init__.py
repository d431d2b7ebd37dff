"""Freshdesk: outbound tickets and notes (client.py, the Ticketing port), its settings and codes
(settings.py, mapping.py), and the automation-rule webhook that opens incidents (inbound.py)."""
