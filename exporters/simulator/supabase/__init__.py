"""The simulated Supabase Management API and metrics endpoint."""
