# Beacon's container image: docker build -t beacon . && docker run -p 3978:3978 beacon
# Without settings it runs like `python app.py` (SQLite in /app/data); in Azure the environment
# gives it PostgreSQL and the bot's credentials (infra/azure/main.bicep). Migrations run on start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3978 \
    DATABASE_URL=sqlite+aiosqlite:////app/data/beacon.db

RUN groupadd --system --gid 10001 beacon \
    && useradd --system --uid 10001 --gid beacon --home-dir /app --no-create-home --shell /usr/sbin/nologin beacon

WORKDIR /app

# The PDF report draws Chinese, Japanese and Korean with Noto Sans CJK, found through fontconfig
# (fc-match); Latin, Greek, Cyrillic and symbols use DejaVu Sans, which matplotlib ships.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fontconfig fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so a code change does not reinstall them. Only the runtime ones: requirements.txt
# includes requirements-dev.txt (tests, benchmarks) with a `-r` line, which is left out here.
COPY requirements.txt .
RUN grep -v '^-r' requirements.txt > /tmp/runtime-requirements.txt \
    && pip install --no-cache-dir -r /tmp/runtime-requirements.txt \
    && rm /tmp/runtime-requirements.txt

# The code stays owned by root (read-only for the app); only /app/data is writable. .dockerignore keeps
# tests/, bench/ and development files out.
COPY . .
RUN mkdir -p /app/data && chown beacon:beacon /app/data

USER beacon
EXPOSE 3978

# slim has no curl; Python's urllib fails (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3978'), timeout=4)"]

CMD ["python", "app.py"]
