"""Who is calling: principals, API keys, tokens, roles, quotas; see docs/security.md."""
