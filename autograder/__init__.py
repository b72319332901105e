"""The instructor side of the course: release, grade and selftest, built on nbgrader's Python API."""
import sys

# jsonschema (imported by nbformat, so by every grader process and every worker) registers its "iri" format check
# at import from rfc3987_syntax when that is installed (jupyter-events requires jsonschema[format-nongpl]), and
# rfc3987_syntax 1.1 builds some 35 Earley parsers as it is imported: 0.85 s of CPU per process on 2 cores
# (python-jsonschema/jsonschema#1428). No notebook or gradebook schema uses the iri formats, so the grader's processes
# go without that check: an absent module makes jsonschema skip it, as it does where the package is not installed.
sys.modules.setdefault("rfc3987_syntax", None)
