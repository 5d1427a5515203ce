"""Analyses: a ``Trace`` in, report objects out (``obskit.analysis.reports``). Nothing here
modifies the trace, reads files or touches the network."""

from obskit.analysis.analyze import DEFAULT_THRESHOLD, analyze_trace
from obskit.analysis.critical_path import critical_path, critical_paths
from obskit.analysis.hops import external_name

__all__ = ["DEFAULT_THRESHOLD", "analyze_trace", "critical_path", "critical_paths", "external_name"]
