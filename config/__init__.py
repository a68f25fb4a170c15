"""Configuration modules, one per environment: default, development, testing, production."""
