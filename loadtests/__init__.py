"""Locust load tests of the payments service and their SLO thresholds (see loadtests/README.md)."""
