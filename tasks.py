"""Lets `invoke` in the repository root see netmatrix's tasks (the same as `netmatrix`)."""

from orchestrator.tasks import ns  # noqa: F401  (invoke looks for `ns`)
