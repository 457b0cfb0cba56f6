"""The arq queues and which work goes on which.

`MAIN` carries what must happen on time: hold, reservation and offer expiries, webhook and
notification deliveries, the outbox pumps. `SLOW` carries work that runs for minutes and takes a
CPU while it does (report builds, valuation model training). Each queue has worker processes of its
own (`python -m workers`, `python -m workers --queue slow`), so a backlog of slow jobs never holds up
an expiry: a worker polls one queue only, and its job slots fill with that queue's jobs alone.
"""

from __future__ import annotations

from arq.constants import default_queue_name

MAIN = default_queue_name  # "arq:queue"
SLOW = f"{default_queue_name}:slow"
ALL = (MAIN, SLOW)
