# Marsad worker image: one image for every stage and command (`marsad worker ingest`, `marsad topics`, ...).
#   docker build -t marsad:0.1.0 .
# The builder installs into a venv that the runtime stage copies whole, so the runtime has no compilers.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/marsad
ENV PATH=/opt/marsad/bin:$PATH
# torch first, pinned to the CPU wheel: otherwise camel-tools pulls the default build with GBs of CUDA.
RUN pip install --upgrade pip \
 && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
WORKDIR /src
# Only what the wheel needs (README and LICENSE are named by pyproject.toml); the NER model and the
# word lists are package data inside services/ and land in site-packages with it.
COPY pyproject.toml README.md LICENSE ./
COPY services ./services
RUN pip install . \
 && python -c "import services.entities, pathlib; m = pathlib.Path(services.entities.__file__).parent / 'models' / 'ner.pt'; assert m.is_file(), m"

FROM python:3.11-slim AS runtime
ENV PATH=/opt/marsad/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    # An installed package cannot find schemas/ beside the source tree, so point at the copy below.
    MARSAD_SCHEMAS_DIR=/opt/marsad/schemas \
    MARSAD_HOME=/var/lib/marsad
RUN groupadd --system --gid 10001 marsad \
 && useradd --system --uid 10001 --gid marsad --home-dir /var/lib/marsad --create-home --shell /usr/sbin/nologin marsad
COPY --from=builder /opt/marsad /opt/marsad
COPY schemas /opt/marsad/schemas
USER 10001:10001
WORKDIR /var/lib/marsad
# 9101 ingest, 9102 entities, 9103 events (MARSAD_METRICS_PORT=0); /metrics /healthz /readyz.
EXPOSE 9101 9102 9103
# Liveness only: readiness (/readyz) is for orchestrators routing work, not for restarting containers.
# MARSAD_METRICS_PORT=0 means the stage's default port, which the image cannot know, so try all three.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request\nport = int(os.environ.get('MARSAD_METRICS_PORT') or 0)\nfor p in ([port] if port else [9101, 9102, 9103]):\n    try:\n        urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=3)\n        sys.exit(0)\n    except OSError:\n        pass\nsys.exit(1)"]
ENTRYPOINT ["marsad"]
CMD ["--help"]
