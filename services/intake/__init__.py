"""Intake: monitoring alerts that open and follow incidents, and Freshdesk both ways (a ticket for
every incident; reported issues from Freshdesk's automation webhook, triaged in Teams).

The pure parts live beside their systems (services/alerts, services/freshdesk); this package is
the use cases and their tables. The HTTP endpoints, outbox handlers and card routes are
bot/intake.py, the cards cards/intake.py.
"""
