"""Channels that reach the owner: a signed webhook, email over SMTP, SMS through the
Africa's Talking messaging API. Each is optional and configured by environment."""
