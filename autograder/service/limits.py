"""Rate limits: a token bucket per token, per token for uploads, and per client address."""
from __future__ import annotations

import math
import threading
import time

from autograder.config import ServiceSettings


class Buckets:
    """Token buckets of `per_minute` capacity, refilled evenly; idle ones are dropped."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed; else the seconds to wait before the next request may pass."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return (1.0 - tokens) / rate
            self._state[key] = (tokens - 1.0, now)
            if len(self._state) > 10000:
                self._state = {k: v for k, v in self._state.items() if now - v[1] < 120}
            return 0.0


class Limits:
    def __init__(self, settings: ServiceSettings):
        self.requests = Buckets(settings.requests_per_minute)
        self.uploads = Buckets(settings.uploads_per_minute)
        self.addresses = Buckets(settings.requests_per_minute_per_address)
        self.failures = Buckets(settings.failed_signins_per_minute_per_address)

    def address(self, host: str) -> None:
        _refuse(self.addresses.take(host), "too many requests from this address")

    def failed(self, host: str) -> None:
        """A request without a valid token: past the limit, 429 instead of 401 (token guessing)."""
        _refuse(self.failures.take(host), "too many requests without a valid token from this address")

    def request(self, user) -> None:
        _refuse(self.requests.take(user.token_digest), "too many requests with this token")

    def upload(self, user) -> None:
        _refuse(self.uploads.take(user.token_digest), "too many uploads with this token")


def _refuse(wait: float, what: str) -> None:
    if wait > 0:
        from autograder.service.auth import ApiError

        seconds = max(1, math.ceil(wait))
        raise ApiError(429, f"{what}; try again in {seconds} s", {"Retry-After": str(seconds)})
