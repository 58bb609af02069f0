"""`stackwatch validate`: production-readiness checks with evidence, levels and a score."""
