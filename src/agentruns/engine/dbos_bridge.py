"""The only place agentruns calls DBOS past its public API at run time: an execution's claim, and the takeover.

DBOS exports neither what agentruns needs here: the token an execution wrote to its workflow's row when it
claimed it (`owner_xid`), which agentruns's own writes check as DBOS's writes do (`storage/queries/owners.py`);
and the recovery of the workflows of another executor, which a worker runs when it takes over a dead one
(`engine/liveness.py`). `tests/engine/test_dbos_bridge.py` pins both. On a DBOS upgrade, re-check that
`get_local_dbos_context()` still gives the execution's context with `workflow_id` and `owner_xid`, and that
`DBOS._recover_pending_workflows(executor_ids)` still resumes only the workflows of this application version,
returning a handle for each. The statements on DBOS's tables are in `storage/dbos_tables.py`.
"""

import asyncio

from dbos import DBOS
from dbos._context import get_local_dbos_context

from agentruns.storage.queries.owners import Owner


def current_owner() -> Owner | None:
    """This workflow execution's claim of its workflow, or None outside a workflow execution (or before DBOS gave
    it a claim)."""
    context = get_local_dbos_context()
    if context is None or context.owner_xid is None:
        return None
    return Owner(context.workflow_id, context.owner_xid)


async def recover_workflows(executor_id: str) -> int:
    """Resume in this process the unfinished workflows of `executor_id` (a dead executor) that this workflow
    version began; how many there were. Those of other versions stay for a worker of their version."""
    handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])  # pyright: ignore[reportPrivateUsage]
    return len(handles)
