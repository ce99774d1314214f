"""The sandbox: where student code runs, and the host-side code that starts and confines it.

    host/       runs in the trusted judge's lane: handles on the zygote and its workers
                (start, talk, kill). It never runs student code.
    inside/     the zygote (fork server) and everything forked from it: the keeper that
                confines a worker (cgroups, namespaces, private filesystem, unprivileged uid),
                the worker that loads one notebook and answers probes, and probekit, which
                hidden/probes.py uses. Student code runs here and nowhere else.
    protocol.py the typed messages between the two halves.
    capabilities.py which isolation layers this machine offers (asked by the zygote and the
                coordinator alike).

Imports: nothing here imports the judge, the coordinator or the service; inside/ never imports
host/ (import-linter, .importlinter).
"""
