"""Background jobs: what runs besides serving HTTP (purges, the reservation sweeper,
webhook delivery, the gauges), in `stockroom serve` unless BACKGROUND_JOBS=false, and in
any number of `stockroom worker` processes. Every job shares its work across processes
through the database (FOR UPDATE SKIP LOCKED), so running it in several is safe.
"""

from src.jobs.background import Resources, background_jobs, gauge_jobs, serving_jobs
from src.jobs.runner import Continuous, Job, JobRunner, Periodic

__all__ = [
    "Continuous",
    "Job",
    "JobRunner",
    "Periodic",
    "Resources",
    "background_jobs",
    "gauge_jobs",
    "serving_jobs",
]
