"""The run context's batch numbers: what a run stamps, and how far tables then process."""

from __future__ import annotations

from lakehouse.core.context import Batches


def test_a_run_stamps_one_more_than_the_newest_batch_so_far() -> None:
    assert Batches.after(7).current == 8


def test_tables_process_through_the_newest_batch_before_anything_is_stamped() -> None:
    assert Batches.after(7).newest == 7


def test_once_a_job_stamped_the_run_s_batch_tables_process_through_it() -> None:
    batches = Batches.after(7)
    batches.stamped()
    assert batches.newest == 8 and batches.current == 8


def test_an_empty_warehouse_starts_at_batch_one_and_processes_nothing_before_it() -> None:
    batches = Batches.after(0)
    assert (batches.current, batches.newest) == (1, 0)
