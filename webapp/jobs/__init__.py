"""Background work: every RQ entry point (tasks), enqueueing (queueing), the worker sweep, and
what admins see of the queues (admin). Jobs call services; services never import jobs."""
