"""Rollouts, metrics (success rate with Wilson intervals) and videos."""
