"""The simulated Render API."""
