"""The invoke task collection, shared by `invoke` (root tasks.py) and the `netmatrix` script.

Each namespace lives in its own module here; this file only assembles them.
"""

from invoke import Collection

from orchestrator.tasks import db, demo, facts, inventory, lab, matrix, play, results, trace

ns = Collection()
ns.add_task(inventory.inventory)
ns.add_task(facts.facts)
ns.add_task(play.play)
ns.add_task(play.provision)
ns.add_task(matrix.matrix)
ns.add_task(matrix.rerun)
ns.add_task(demo.demo)
ns.add_collection(Collection.from_module(lab), name="lab")
ns.add_collection(Collection.from_module(trace), name="trace")
ns.add_collection(Collection.from_module(db), name="db")
ns.add_collection(Collection.from_module(results), name="results")
