"""Offline checks of the Helm chart in ``deploy/helm/candidate-nurture`` (``make deploy-check``).

``tools`` finds helm (built from its Go module by ``ensure_helm.sh``) and schema files shipped in
Go modules, ``render`` runs ``helm lint`` and ``helm template``, ``manifests`` validates what
was rendered against the Kubernetes and prometheus-operator schemas, and ``check`` ties them
together for the command line. Nothing here is imported by the running pipeline.
"""
