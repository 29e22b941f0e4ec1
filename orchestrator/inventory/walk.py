"""The one walk over the group tree, shared by the builder (while loading) and the loaded
inventory (when selecting): Ansible lists a group's hosts in this order."""

from collections.abc import Callable, Sequence


def descendants(group: str, children: Callable[[str], Sequence[str]]) -> list[str]:
    """`group`, its children, then deeper levels breadth-first, each group once."""
    ordered, seen, level = [group], {group}, [group]
    while level:
        below: list[str] = []
        for name in level:
            for child in children(name):
                if child not in seen:
                    seen.add(child)
                    ordered.append(child)
                    below.append(child)
        level = below
    return ordered
