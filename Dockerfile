# The operator image the Helm chart runs (charts/bizdomain, values `image.*`).
#
#   docker build -t ghcr.io/bizdomain/bizdomain:0.1.0 .
#
# The runtime dependencies are the exact pins of pyproject.toml, installed into a virtualenv in a
# build stage; the final image holds that virtualenv and runs as a non-root user. The chart runs it
# with a read-only root filesystem (PYTHONDONTWRITEBYTECODE: nothing is written beside the code).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/bizdomain
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/bizdomain/bin/pip install . \
 && /opt/bizdomain/bin/pip check

FROM python:3.11-slim
RUN groupadd --system --gid 10001 bizdomain \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin bizdomain
COPY --from=build /opt/bizdomain /opt/bizdomain
ENV PATH=/opt/bizdomain/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
# Prometheus metrics and kopf's liveness endpoint (the chart's defaults).
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m", "bizdomain"]
