# Stage 1: build the console.
FROM node:20-bookworm-slim AS console
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# Stage 2: the Python runtime with the built console.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CONTROLROOM_HOST=0.0.0.0 CONTROLROOM_PORT=8000
WORKDIR /srv/controlroom
COPY pyproject.toml README.md alembic.ini ./
COPY app/ app/
COPY migrations/ migrations/
RUN pip install --no-cache-dir -e .
COPY --from=console /src/frontend/dist frontend/dist
RUN useradd --system --uid 10001 controlroom && chown -R controlroom /srv/controlroom
USER controlroom
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["controlroom", "serve"]
