"""The app's typed state, kept in app.extensions rather than in string-keyed config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Flask, current_app
from flask.sansio.app import App

from consumer.intake import Intake
from consumer.ops import Ops
from consumer.queue import Queue
from consumer.settings import Settings
from consumer.store.connection import Connections

EXTENSION = "zeeg_consumer"


@dataclass(frozen=True)
class AppState:
    """What every view needs: settings, both Redis clients, the erasure queue and the time."""

    settings: Settings
    conns: Connections
    queue: Queue
    clock: Callable[[], float]

    @property
    def r(self) -> redis.Redis:
        """The decoding client for our own keys."""
        return self.conns.text

    @property
    def intake(self) -> Intake:
        """The intake service on this app's Redis, queue and settings."""
        return Intake(self.r, self.queue, self.settings)

    def ops(self) -> Ops:
        """The operator context the admin API hands to consumer.ops."""
        return Ops(self.settings, self.conns, self.clock)


def install(app: Flask, app_state: AppState) -> None:
    """Attach the state to the app (create_app calls this once)."""
    app.extensions[EXTENSION] = app_state


def state(app: App | None = None) -> AppState:
    """The state of the app handling this request (or of the app given, while it is set up)."""
    found: AppState = (app or current_app).extensions[EXTENSION]
    return found
