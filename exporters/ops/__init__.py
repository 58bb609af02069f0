"""Operator tools: demo, costs export, check-config --probe, report, validate, dashboards diff."""
