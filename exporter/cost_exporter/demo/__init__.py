"""`cost-exporter demo`: every provider at once, from made-up data, for a first look.

`providers` is a local fake of every billing API the HTTP collectors call (the tests and
benchmarks use it too); nothing here is imported by the exporter unless the `demo` command
runs.
"""
