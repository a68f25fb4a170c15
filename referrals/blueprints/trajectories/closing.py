"""Routes: closing (issue 5)."""
