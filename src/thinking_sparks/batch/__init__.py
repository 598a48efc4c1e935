"""Batch runs: one notebook over a grid of parameters, executed by papermill on Dask.

``sparks batch GRID.yaml --out DIR`` runs every job of a grid on a ``distributed.LocalCluster``
sized to this machine, or on a running cluster with ``--scheduler tcp://...``. A grid file::

    notebook: notebooks/01_models.ipynb
    parameters:              # name -> list of values; the grid is their cartesian product
      model: [organism/tiny/sft@1, organism/tiny/sft@2]
    fixed: {device: cpu}     # the same for every job (optional)
    resources: {GPU: 1}      # Dask worker resources each job holds (optional)

or ``jobs:``, a list of parameter mappings, in place of ``parameters:``. Every job is checked
against the notebook's params class (:func:`thinking_sparks.runs.make_params`) before any runs.

Under DIR: ``<job>.ipynb`` per finished job (the name derived from its parameters, written
atomically), ``failed/<job>.ipynb`` (a failed job's partial notebook, traceback included) and
``status.csv`` (one row per job, rewritten atomically as jobs finish). A rerun skips every job
whose notebook exists and keeps failed jobs failed unless ``retry_failed``.

Modules: ``grid`` (the grid file, job names), ``runner`` (status.csv, resume, the run),
``cluster`` (a LocalCluster sized to the machine, or a running scheduler), ``cli`` (the verb).
"""

from thinking_sparks.batch.grid import Grid, Job, job_name, load_grid
from thinking_sparks.batch.runner import (
           STATUS_FILE,
           Row,
           plan,
           read_status,
           run_batch,
           summary,
)

__all__ = [
           "STATUS_FILE",
           "Grid",
           "Job",
           "Row",
           "job_name",
           "load_grid",
           "plan",
           "read_status",
           "run_batch",
           "summary",
]
