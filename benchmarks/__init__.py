"""paperfs benchmarks: ``python -m benchmarks`` runs all, ``python -m benchmarks NAME`` one.

Each benchmark is a module with ``main(argv) -> int``, registered in
``benchmarks/__main__.py``; results go into docs/performance.md.
"""
