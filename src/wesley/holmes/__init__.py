"""HOLMES, WATSON and MORIARTY: the investigation behind the two signatures.

HOLMES (`investigate`) reads the evidence bundle and cites, for every scored element and every
plan step, the bytes that prove it; WATSON (`watson`) re-opens every citation and re-derives
every score from what it finds; MORIARTY (`moriarty`) keeps `.wesley/history.json` and
forecasts readiness. `attest` ties the reports to the HOLMES and WAT-SUM signatures.
"""
