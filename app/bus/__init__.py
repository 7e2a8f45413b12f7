"""The bus: Redis Streams in production, in-memory for the embedded default."""

from app.bus.base import Bus, CommandEntry, IngestEntry, LiveBatch
from app.config import Settings


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from app.bus.redis import RedisBus

        return RedisBus(
            settings.redis_url,
            live_retention=settings.live_retention,
            namespace=settings.redis_namespace,
        )
    from app.bus.memory import MemoryBus

    return MemoryBus(live_retention=settings.live_retention)


__all__ = ["Bus", "CommandEntry", "IngestEntry", "LiveBatch", "make_bus"]
