# syntax=docker/dockerfile:1
# One image for every component of candidate-nurture: the entrypoint is the `nurture` CLI, so
#   docker run IMAGE gateway | worker | deliver --channel email | topics create | ...
# Build and run commands, and the settings each component needs: docs/deploy.md.
#
# Stage 1 builds the wheels (the project's own and every dependency's, at the versions and hashes
# of requirements.lock: the ones CI tests); stage 2 installs them into a slim runtime with no
# compiler, no pip and no build backend, running as a non-root user.

# Python 3.11: the interpreter the test suite and the pinned faust/aiokafka seams run on.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel is made of (.dockerignore keeps the rest of the clone out of the context).
COPY pyproject.toml README.md LICENSE requirements.lock ./
COPY schemas ./schemas
COPY producers ./producers
COPY streams ./streams
COPY consumers ./consumers
COPY deploy ./deploy
# Every dependency ships manylinux wheels (rocksdict bundles RocksDB), so no compiler is needed
# here either; a platform without a wheel fails in this stage, never in the runtime one.
# The dependencies come from the lock alone (each file checked against its hash), the project
# without its dependencies: /wheels then holds one version of each, the locked one, and the
# runtime stage can install nothing else.
RUN pip wheel --wheel-dir /wheels --require-hashes -r requirements.lock \
 && pip wheel --wheel-dir /wheels --no-deps .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/nurture/bin:$PATH
RUN groupadd --system --gid 10001 nurture \
 && useradd --system --uid 10001 --gid nurture --home-dir /home/nurture --create-home \
      --shell /usr/sbin/nologin nurture
# The wheels are bind-mounted, not copied, so they never become a layer of this image. The venv
# gets no pip of its own; the base image's pip installs into it and is then removed with
# setuptools and wheel, leaving nothing that builds or installs packages.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/nurture \
 && python -m pip --python /opt/nurture/bin/python install --no-index --find-links=/wheels \
      /wheels/candidate_nurture-*.whl \
 && python -m pip uninstall --yes pip setuptools wheel
# State lives under /var/lib/nurture: the worker's RocksDB stores, each delivery channel's
# SQLite store and (docker-compose only) generated keys. The chart and the compose file mount
# volumes on these paths; created here so a fresh named volume inherits the owner.
RUN install -d -o nurture -g nurture -m 0750 /var/lib/nurture /var/lib/nurture/worker \
      /var/lib/nurture/delivery /var/lib/nurture/webhooks \
 && install -d -o nurture -g nurture -m 0700 /var/lib/nurture/secrets
# Defaults that only make sense in a container: listen on every interface (the defaults are
# 127.0.0.1, right for a laptop, unreachable from outside a container) and keep state on the
# volumes above instead of the home directory.
ENV NURTURE_GATEWAY_HOST=0.0.0.0 \
    NURTURE_DELIVERY_METRICS_HOST=0.0.0.0 \
    NURTURE_WORKER_DATA_DIR=/var/lib/nurture/worker \
    NURTURE_DELIVERY_DATA_DIR=/var/lib/nurture/delivery
USER 10001:10001
WORKDIR /home/nurture
# gateway, worker web (health, metrics, engagement look-ups), delivery metrics and /health
EXPOSE 8080 6066 9101
ENTRYPOINT ["nurture"]
CMD ["--help"]
