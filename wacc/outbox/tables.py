from __future__ import annotations

from piccolo.columns import JSONB, BigSerial, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Outbox(Table, tablename="outbox"):
    """Jobs that must follow a write, written in the same transaction as it (a
    transactional outbox, wacc.outbox); a dispatcher moves them to the job queue
    in id order and marks them dispatched; the worker marks them done once the job ran.
    Done rows are pruned after a while."""

    id = BigSerial(primary_key=True)
    job = Varchar(length=120)
    args = JSONB(default=[])
    # What the job is about (a message id for a send), so a retried request can tell
    # whether its job is still waiting here.
    subject = Varchar(length=80, null=True, default=None, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    # Not before then (a retry with backoff); null: at once.
    available_at = Timestamptz(null=True, default=None)
    dispatched_at = Timestamptz(null=True, default=None, index=True)
    # A dispatcher that took a row holds it until then; a crashed one's rows come back.
    claimed_until = Timestamptz(null=True, default=None)
    # The queue the row was handed to (wacc.queue.jobs.Jobs.epoch): a Redis that came back
    # empty is a new queue, and what it lost is handed over again.
    epoch = Varchar(length=40, null=True, default=None)
    # The job ran to its end (succeeded, or failed with no retry left), told by the worker.
    done_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Text(null=True, default=None)
