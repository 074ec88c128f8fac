FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Every version comes from the lock (made by scripts/lock); the project itself adds none.
COPY requirements/run.txt ./requirements/run.txt
RUN pip install -r requirements/run.txt
COPY pyproject.toml README.md ./
COPY config ./config
COPY worker ./worker
COPY connectors ./connectors
COPY web ./web
RUN pip install --no-deps . && useradd --create-home --uid 1000 pactkeeper \
    && mkdir -p /data /plans && chown pactkeeper /data
USER pactkeeper
ENV PACTKEEPER_DATA_DIR=/data
EXPOSE 8000
CMD ["pactkeeper", "run", "/plans"]
