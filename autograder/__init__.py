"""The instructor side of the course: release, grade and selftest, built on nbgrader's Python API."""
