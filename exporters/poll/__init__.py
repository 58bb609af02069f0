"""The poll loop: streams polled in stages as transactions, and the supervisor that keeps each provider's loop alive."""
