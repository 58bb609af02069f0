"""The simulated Vercel API and its drains."""
