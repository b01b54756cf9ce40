"""A real local Apicurio Registry 3.x (a schema registry with a Confluent-compatible API) for
development and tests: `nurture registry start|stop|status|logs`.

``settings`` says where and how it runs, ``java`` finds a Java 21+ runtime to run it with,
``download`` fetches the release from Maven Central into a cache outside the repository, and
``process`` starts, stops and inspects it. ``ensure_local_registry`` (in ``process``) is what
`nurture up` calls to have one running.
"""
