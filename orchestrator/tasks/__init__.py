"""The invoke task collection, shared by `invoke` (root tasks.py) and the `netmatrix` script.

Each namespace lives in its own module here; this file only assembles them.
"""

from invoke import Collection

from orchestrator.tasks import trace

ns = Collection()
ns.add_collection(Collection.from_module(trace), name="trace")
