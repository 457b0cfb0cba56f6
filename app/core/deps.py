"""Application-wide dependencies: resources live on `app.state`, handlers receive them by name."""

from litestar.datastructures import State
from redis.asyncio import Redis

from app.auth.tokens import TokenSigner
from app.settings import Settings


def provide_redis(state: State) -> Redis:
    return state.redis


def provide_signer(state: State) -> TokenSigner:
    return state.signer


def provide_settings(state: State) -> Settings:
    return state.settings
