"""Alerts: a state-based evaluator run from the workers' maintenance (evaluate.py) and a
sender that posts to the configured webhook off the worker's main loop (send.py). See
docs/alerts.md for the payloads and the one-incident semantics.
"""

from consumer.alerts.evaluate import Alert, evaluate
from consumer.alerts.send import Sender, payload
from consumer.alerts.watch import Watcher, with_alerts

__all__ = ["Alert", "Sender", "Watcher", "evaluate", "payload", "with_alerts"]
