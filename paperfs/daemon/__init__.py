"""The daemon: the consume loop, its intake sources and scheduled jobs, what `paperfs run`/`dav` run, status, systemd."""
