"""The split deployment: dav, worker and scheduler services over Redis and Celery (docs/deployment.md)."""
