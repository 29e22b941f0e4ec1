"""The experiment matrix: the spec, its cells and plan, kernel switching, modes and runs.

`spec` loads and validates what to measure, `cells` expands it over the selected hosts,
`schedule` orders the runs into lanes that never measure on shared hardware at once, and
`kernels` brings a host onto the kernel a spec asks for.
"""
