"""The LLM call layer shared by generate_svc and retrieve_svc: settings, client, calls, errors."""
