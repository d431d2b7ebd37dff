"""Incident bridges: a Teams meeting with the client, Microsoft, vendors and the team, created
through Microsoft Graph by the outbox; ringing internal responders; call events on the timeline."""
