"""The daemon: the consume loop, status reporting, systemd integration."""
