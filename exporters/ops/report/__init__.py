"""`stackwatch report`: usage analytics, unit economics and savings recommendations."""
