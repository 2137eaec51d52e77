"""Care built in: crisis services for the reader's region, and crisis signals in what people write.

- `directory`: the admin-editable directory of crisis services, seeded from fedisupport/data/;
- `signals`: pure text normalisation and phrase matching (no database);
- `phrases`: the phrase list in the database and the compiled matcher per process;
- `welfare`: a new post that matches files an urgent welfare report for this instance's moderators.
"""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


async def seed_all(session: AsyncSession) -> tuple[int, int]:
    """Add the shipped crisis services and phrases that are missing: (services added, phrases added)."""
    from . import directory, phrases

    return await directory.seed(session), await phrases.seed(session)
