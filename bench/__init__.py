"""Benchmarks of cost-exporter: scrape, refresh and footprint (`make bench`).

Run with `.venv/bin/python -m bench` from the repository root (`--help` for the
parts and durations). Everything runs on 127.0.0.1: the exporter, the reference
servers and the fake billing APIs (`cost_exporter.demo.providers`). Figures are
printed as Markdown, ready for `bench/RESULTS.md`. Not part of the test run.
"""
