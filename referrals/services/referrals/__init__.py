"""Referrals: intake, matching and offers (the state machine is services/states.py)."""
