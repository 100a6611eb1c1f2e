"""Consumption: intake of inputs (inbox, hand-over), the work queue, the worker pool and the prepare stages."""
