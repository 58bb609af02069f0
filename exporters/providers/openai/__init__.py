"""OpenAI: the Costs API (billed) and the Usage API."""
