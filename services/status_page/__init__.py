"""A status page per client: GET /status/<client> behind a signed, revocable link, showing the
client's open and recent incidents with their stakeholder updates only (links.py signs, store.py
reads, page.py renders; bot/status_page.py serves it and answers `@Beacon status <client>`)."""
