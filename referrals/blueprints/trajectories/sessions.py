"""Routes: sessions (issue 5)."""
