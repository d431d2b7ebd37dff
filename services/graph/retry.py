"""A kiota retry middleware with a budget, so a Graph call never keeps its caller waiting long.

kiota's own RetryHandler honours Retry-After without a cap and adds its base delay plus up to a
second of jitter to every backoff. Graph may ask for minutes; waiting that long inside an outbox
delivery would hold the worker, so past the budget the 429/503/504 is returned as it is, becomes a
TransientDeliveryError carrying Retry-After, and the outbox schedules the next attempt instead.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import httpx
from kiota_http.middleware import RetryHandler
from kiota_http.middleware.middleware import BaseMiddleware
from kiota_http.middleware.options import RetryHandlerOption

from services.delivery import parse_retry_after

RETRY_ATTEMPT_HEADER = "Retry-Attempt"
RETRYABLE_STATUSES = frozenset({429, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    max_total_wait: float = 5.0  # seconds slept across all retries of one request
    backoff: float = 0.5  # first wait when Graph gives no Retry-After; doubles each retry


class BoundedRetryHandler(RetryHandler):
    """Retries 429/503/504 honouring Retry-After, within `RetryPolicy` limits."""

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__(RetryHandlerOption(delay=0.0, max_retries=policy.max_retries,
                                            should_retry=policy.max_retries > 0))
        self.policy = policy

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        waited = 0.0
        attempt = 0
        while True:
            response = await BaseMiddleware.send(self, request, transport)
            if attempt >= self.policy.max_retries or not self._retryable(request, response):
                return response
            delay = self.wait_before_retry(attempt, response)
            if waited + delay > self.policy.max_total_wait:
                return response
            await response.aclose()
            await asyncio.sleep(delay)
            waited += delay
            attempt += 1
            request.headers[RETRY_ATTEMPT_HEADER] = str(attempt)

    def wait_before_retry(self, attempt: int, response: httpx.Response) -> float:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            return retry_after
        backoff = self.policy.backoff * (2 ** attempt)
        # A little jitter so replicas throttled together do not retry in lock step.
        return backoff + random.uniform(0, backoff / 4)

    def _retryable(self, request: httpx.Request, response: httpx.Response) -> bool:
        return response.status_code in RETRYABLE_STATUSES and self._is_request_payload_buffered(request)
