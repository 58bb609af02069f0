"""Dashboards as code: board sources (grafanalib) and the generator of the provisioned JSON."""
