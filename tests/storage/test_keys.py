from __future__ import annotations

from server.runtime import Runtime
from storage.keys import create_key, find_key, list_keys, revoke_key


async def test_keys_are_stored_hashed_and_revocable(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        new = await create_key(session, user_id="alice", is_admin=False, name="laptop")
        await session.commit()
    async with runtime.sessions() as session:
        rows = await list_keys(session)
        assert all(new.key not in (row.key_hash, row.prefix) for row in rows)
        found = await find_key(session, new.key)
        assert found is not None and found.user_id == "alice" and not found.is_admin
        assert await find_key(session, new.key + "x") is None
        assert await revoke_key(session, new.record.prefix) == 1
        await session.commit()
    async with runtime.sessions() as session:
        assert await find_key(session, new.key) is None
