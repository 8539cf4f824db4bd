# Qwen Playground in a container, listening on 0.0.0.0:7860, with the Hugging Face cache on a volume.
#
#   docker build -t qwen-playground .                          # CPU (torch's CPU wheels: a smaller image)
#   docker build -t qwen-playground:cuda --build-arg VARIANT=cuda .   # NVIDIA GPUs (torch's default CUDA wheels)
#   docker run -p 7860:7860 -v hf-cache:/data/hf qwen-playground
#   docker run --gpus all -p 7860:7860 -v hf-cache:/data/hf -e HF_TOKEN qwen-playground:cuda
#
# Settings go in as PLAYGROUND_* variables (-e PLAYGROUND_ADMIN_TOKEN=... to load and unload models from the
# page: the app listens on a network here, so model management is otherwise read-only) or as flags after the
# image name. Your own catalogue: -v ./my-models.toml:/app/catalog.toml -e PLAYGROUND_CATALOG=/app/catalog.toml.
FROM python:3.11-slim

ARG VARIANT=cpu
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/data/hf \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False

RUN if [ "$VARIANT" = "cpu" ]; then \
        pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu; \
    elif [ "$VARIANT" != "cuda" ]; then \
        echo "VARIANT must be cpu or cuda, not $VARIANT" >&2; exit 1; \
    fi

WORKDIR /app
COPY pyproject.toml README.md app.py ./
COPY playground ./playground
COPY tabs ./tabs
COPY assets ./assets
RUN pip install . && useradd --create-home --uid 1000 playground && mkdir -p /data/hf && chown playground /data/hf

USER playground
VOLUME /data/hf
EXPOSE 7860
ENTRYPOINT ["qwen-playground"]
