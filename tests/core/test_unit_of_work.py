"""A task inside a unit of work reads on that unit's connection: a full pool never deadlocks on its own holders."""

from __future__ import annotations

import asyncio
import uuid

from app.core import db


async def test_a_read_inside_a_unit_of_work_sees_its_own_uncommitted_write(client):
    marker = f"uow-{uuid.uuid4().hex}"
    async with db.UnitOfWork() as uow:
        await uow.conn.execute("CREATE TEMP TABLE uow_probe (marker text) ON COMMIT DROP")
        await uow.conn.execute("INSERT INTO uow_probe VALUES ($1)", marker)
        # A temporary table exists only on this connection: the read can only succeed on it.
        rows = await db.fetch("SELECT marker FROM uow_probe")
        assert [r["marker"] for r in rows] == [marker]

        # A child task never shares the connection (two coroutines on one asyncpg connection fail).
        async def child() -> int:
            return await db.fetchrow("SELECT pg_backend_pid() AS pid")

        child_pid = (await asyncio.create_task(child()))["pid"]
        own_pid = await uow.conn.fetchval("SELECT pg_backend_pid()")
        assert child_pid != own_pid
    # After the unit ends, reads go back to the pool.
    assert await db.fetchrow("SELECT 1 AS one") is not None


async def test_as_many_units_as_the_pool_holds_can_each_read_at_once(client):
    """Every pooled connection held by a unit whose task then reads: before, each read waited for a
    connection that only another waiting task could free, and all of them hung until their timeouts."""
    size = db.engine().pool.get_max_size()
    everyone_holds = asyncio.Barrier(size)

    async def unit() -> int:
        async with db.UnitOfWork() as uow:
            await uow.conn.execute("SELECT 1")
            await everyone_holds.wait()
            return (await db.fetchrow("SELECT 41 + 1 AS answer"))["answer"]

    answers = await asyncio.wait_for(asyncio.gather(*(unit() for _ in range(size))), timeout=20)
    assert answers == [42] * size
