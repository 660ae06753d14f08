"""Operator commands (status, events, failed, requeue, replay, erase, audit, pause, resume)."""
