# stackwatch: the exporter service (`stackwatch run`) and the simulator (`stackwatch simulate`).
# Small pinned base (the 3.11 line the tests run on), non-root user, health check.
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
# The Python packages: exporters/ and alerting/ (the alert definitions `stackwatch alerts render`,
# compose's alerting-config, renders at start).
COPY exporters ./exporters
COPY alerting ./alerting
# Build the wheel, install the wheel (never the source tree) into a venv that is copied to the
# final stage (no build files in the runtime image), then import every module of the source tree
# from the installed package (-I: not from /src) and run the command: a module missing from the
# wheel fails the build.
# tests/e2e_local/test_installed_package.py runs these same commands natively.
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/stackwatch \
 && /opt/stackwatch/bin/pip install --no-compile /dist/stackwatch-*.whl \
 && /opt/stackwatch/bin/python -I -c "import importlib, pathlib, sys; names = sorted('.'.join(p.relative_to('/src').with_suffix('').parts).removesuffix('.__init__') for root in ('exporters', 'alerting') for p in pathlib.Path('/src', root).rglob('*.py') if p.name != '__main__.py'); outside = [n for n in names if not importlib.import_module(n).__file__.startswith(sys.prefix)]; assert not outside, outside; print(len(names), 'modules of /src/exporters and /src/alerting imported from the installed wheel')" \
 && /opt/stackwatch/bin/stackwatch --version

FROM python:3.11.14-slim-bookworm
ENV PATH=/opt/stackwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 stackwatch \
 && useradd --system --uid 10001 --gid stackwatch --no-create-home --shell /usr/sbin/nologin stackwatch \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/stackwatch
COPY --from=build /opt/stackwatch /opt/stackwatch
USER 10001:10001
WORKDIR /home/stackwatch
# Drain receiver, /healthz and /metrics (service.listen_port in stackwatch.yaml). The health check
# probes service.health_port (9465, /healthz alone) first, then listen_port for configs without it.
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=4 \
  CMD ["python", "-c", "import sys, urllib.request as u\nfor url in ('http://127.0.0.1:9465/healthz', 'http://127.0.0.1:9464/healthz'):\n    try:\n        sys.exit(u.urlopen(url, timeout=2).status != 200)\n    except OSError:\n        pass\nsys.exit(1)"]
ENTRYPOINT []
CMD ["stackwatch", "run", "--config", "/etc/stackwatch/stackwatch.yaml"]
