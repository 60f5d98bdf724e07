#!/bin/sh
# Builds the image's Python environment: a venv at VENV holding the CodeAI wheel found in
# WHEELS with its pinned dependencies, and the static files collected for whitenoise.
# The Dockerfile runs it with PIP_NO_INDEX=1 (every wheel was built in its first stage);
# tests/deploy runs the same script against the machine's pip cache and registry.
set -eu
wheels=$1
venv=$2
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install --disable-pip-version-check --find-links "$wheels" codeai
# collectstatic loads the settings: a throwaway key and data folder keep both out of the image.
scratch=$(mktemp -d)
CODEAI_SECRET_KEY=collectstatic-only CODEAI_DATA_DIR="$scratch" \
  "$venv/bin/codeai" manage collectstatic --noinput -v0
rm -rf "$scratch"
