"""Inside the sandbox: the zygote and what it forks. Student code runs here, and only here.

zygote.py (fork server, torch and the probes imported once) -> confine.py (the keeper: cgroups,
namespaces, private filesystem, unprivileged uid) -> worker.py (loads the notebook with
loader.py under limits.py, answers probes). probekit.py is what hidden/probes.py imports.
Imports: autograder.wire, autograder.cells, autograder.results, sandbox.protocol and
sandbox.capabilities; never the judge, the coordinator or the sandbox's host side.
"""
