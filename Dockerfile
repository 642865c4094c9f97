# One image for every Hotro service; the command picks the service (`hotro serve intake`).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY hotro ./hotro
RUN pip install --no-cache-dir . && useradd --system --uid 10001 hotro \
    && mkdir -p /data && chown hotro /data
USER hotro
ENV HOTRO_DATA_DIR=/data HOTRO_HTTP_HOST=0.0.0.0 HOTRO_HTTP_PORT=8000
EXPOSE 8000
ENTRYPOINT ["hotro"]
