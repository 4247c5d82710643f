"""Keys and signatures: the audit signing key now; the credential vault and API keys
later."""
