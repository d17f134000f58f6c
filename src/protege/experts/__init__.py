"""Scripted experts: Actors that know how to do a task (they may read privileged simulator state)."""
