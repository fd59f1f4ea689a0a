# syntax=docker/dockerfile:1
#
# The foundry-agent-operator image: `foundry-operator run` as a non-root user, with only the
# runtime dependencies, at the exact versions of constraints.txt.
#
#   docker build -t foundry-agent-operator:0.1.0 .
#
# Base image: pinned by tag here. For a reproducible release build, pin its digest too, and
# refresh it deliberately (see docs/helm.md, "Container image"):
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # prints the index digest
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> ...
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a wheel of the package, then a virtualenv with it and its locked deps -------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Only what the wheel is built from (.dockerignore keeps everything else out).
COPY pyproject.toml README.md constraints.txt ./
COPY operator/ operator/

# constraints.txt pins every dependency, development tools included; a constraint never
# installs anything by itself, so this resolves exactly the runtime dependencies of the
# wheel at their locked versions. --only-binary: nothing is ever compiled, so neither stage
# needs a compiler. The virtualenv has no pip of its own (--without-pip).
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv --without-pip /opt/foundry-operator \
    && pip --python /opt/foundry-operator/bin/python install \
        --only-binary=:all: \
        --constraint constraints.txt \
        /wheels/foundry_agent_operator-*.whl

# --- runtime: the base image, a numeric non-root user and the virtualenv ------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="foundry-agent-operator" \
      org.opencontainers.image.description="Kubernetes operator for Microsoft Foundry hosted agents" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

# The operator needs no installer at run time: drop the base image's pip, setuptools and
# wheel. The user has a fixed numeric UID/GID so that Kubernetes can verify runAsNonRoot.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 65532 foundry \
    && useradd --system --uid 65532 --gid 65532 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin foundry

COPY --from=builder /opt/foundry-operator /opt/foundry-operator

# MALLOC_ARENA_MAX: the operator's few worker threads (Kubernetes writes, the reference
# watch) would each get a glibc malloc arena of their own; two keep the resident set small.
ENV PATH=/opt/foundry-operator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALLOC_ARENA_MAX=2 \
    FOUNDRY_OPERATOR_LOG_FORMAT=json

USER 65532:65532

# 8080: Prometheus /metrics; 8081: kopf liveness /healthz.
EXPOSE 8080 8081

ENTRYPOINT ["foundry-operator", "run"]
