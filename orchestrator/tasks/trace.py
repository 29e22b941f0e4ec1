"""Offline trace tools: `trace.collapse`, `trace.summary`, `trace.diff`, `trace.ftrace`."""
