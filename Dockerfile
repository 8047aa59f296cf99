# The idgraph service image: `docker compose up` runs it beside Neo4j (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Only what the package needs: the domain, the service and the Cypher statements (installed
# as the `cypher` data package, so the image carries every statement the store sends).
COPY pyproject.toml README.md ./
COPY identity ./identity
COPY service ./service
COPY cypher ./cypher
RUN pip install . && useradd --create-home --uid 10001 idgraph && mkdir -p /data \
    && chown idgraph /data

USER idgraph
WORKDIR /data
ENV IDGRAPH_HOST=0.0.0.0 IDGRAPH_PORT=8000 IDGRAPH_TOKENS_FILE=/data/tokens.toml
EXPOSE 8000
ENTRYPOINT ["idgraph"]
CMD ["serve"]
