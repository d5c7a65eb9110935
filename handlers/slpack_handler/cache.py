"""A small LRU + TTL response cache, for endpoints that see the same inputs again.

Keys are the canonical (validated) input, so only requests that passed validation can enter;
a bad request never poisons it. Off unless SLPACK_CACHE_SIZE > 0.
"""

from __future__ import annotations

import _thread
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class ResponseCache:
    def __init__(self, size: int, ttl_s: float, clock: Any = time.monotonic) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = _thread.allocate_lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < self._clock():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = (self._clock() + self.ttl_s, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
