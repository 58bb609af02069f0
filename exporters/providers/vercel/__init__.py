"""Vercel: deployments, FOCUS billing charges and drains."""
