"""Routes: questionnaires (issue 5)."""
