"""Infrastructure: the Redis client that fails soft, the job queues, replica routing, metrics.
Imports nothing from services, web or blueprints."""
