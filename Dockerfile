# cost-exporter: one small Python process serving a daily snapshot on :9210.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY exporter ./exporter
RUN pip install --no-cache-dir --root-user-action=ignore --prefix=/install -c constraints.txt .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="cost-exporter" \
      org.opencontainers.image.description="Daily snapshot of every cloud and SaaS bill as Prometheus metrics"
COPY --from=build /install /usr/local
COPY exporter/config.example.yml /etc/cost-exporter/config.yml
# uid 10001 as in docker-compose.yml (`user:`). Not --system: 10001 is above the system
# range (useradd warns). --no-log-init: no multi-MB sparse lastlog entry for a uid this high.
RUN groupadd --gid 10001 cost \
 && useradd --uid 10001 --gid cost --no-create-home --no-log-init \
      --home-dir /var/lib/cost-exporter --shell /usr/sbin/nologin cost \
 && mkdir -p /var/lib/cost-exporter \
 && chown cost:cost /var/lib/cost-exporter
ENV COST_CONFIG_FILE=/etc/cost-exporter/config.yml \
    COST_STATE_DIR=/var/lib/cost-exporter \
    PYTHONUNBUFFERED=1
USER 10001:10001
VOLUME ["/var/lib/cost-exporter"]
EXPOSE 9210
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9210/healthz', timeout=4)"]
ENTRYPOINT ["cost-exporter"]
CMD ["serve"]
