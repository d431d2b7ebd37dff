"""After the incident: the post-incident report, the review meeting, follow-up actions, metrics."""
